/*
 * test_snapshot_state.c: the state file's sections (snapshot/state.h):
 * a machine's state encoded and decoded back field for field, sections of
 * a newer squib skipped, and each way a section can fail to decode (bad
 * layout, repeated, missing, vCPUs out of order) with upstream's decoding
 * text. No KVM: the KVM structures are filled with patterns.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../support/snap_state_fixture.h"
#include "snap_decode.h"
#include "snapshot/state.h"

/* make_state() into *in, encoded, then `add` (may be NULL) appends
 * sections, and the file is decoded into *out: the decoder's result. */
static int round_trip(void (*add)(struct snap_writer *),
                      struct microvm_state *in, struct microvm_state *out,
                      struct sq_err *err)
{
    struct snap_writer w;

    make_state(in);
    snap_writer_init(&w);
    microvm_state_encode(in, &w);
    if (add)
        add(&w);
    return snap_finish_and_decode(&w, out, err);
}

/* Only `add`'s sections, decoded into *out. */
static int decode_alone(void (*add)(struct snap_writer *),
                        struct microvm_state *out, struct sq_err *err)
{
    struct snap_writer w;

    snap_writer_init(&w);
    add(&w);
    return snap_finish_and_decode(&w, out, err);
}

static void test_round_trip(void **state)
{
    struct microvm_state in, out;
    struct sq_err err;

    (void)state;
    assert_int_equal(round_trip(NULL, &in, &out, &err), 0);
    assert_int_equal(out.info.vcpu_count, 2);
    assert_int_equal(out.info.mem_size_mib, 4096);
    assert_true(out.info.smt);
    assert_int_equal(out.info.huge_pages, 1);
    assert_int_equal(out.info.cpu_template, 3);
    assert_int_equal(out.n_regions, 2);
    assert_memory_equal(in.regions, out.regions, sizeof(in.regions));
    assert_memory_equal(&in.machine.vm, &out.machine.vm, sizeof(in.machine.vm));
    assert_int_equal(out.machine.n_vcpus, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const struct vcpu_snap *a = &in.machine.vcpus[i];
        const struct vcpu_snap *b = &out.machine.vcpus[i];

#define SAME(field) assert_memory_equal(&a->field, &b->field, sizeof(a->field))
        SAME(mp_state);
        SAME(regs);
        SAME(sregs);
        assert_int_equal(a->xsave_size, b->xsave_size);
        assert_memory_equal(a->xsave, b->xsave, a->xsave_size);
        SAME(xcrs);
        SAME(debugregs);
        SAME(lapic);
        SAME(events);
#undef SAME
        assert_int_equal(a->tsc_khz, b->tsc_khz);
        assert_int_equal(a->n_cpuid, b->n_cpuid);
        assert_memory_equal(a->cpuid, b->cpuid,
                            a->n_cpuid * sizeof(a->cpuid[0]));
        assert_int_equal(a->n_msrs, b->n_msrs);
        assert_memory_equal(a->msrs, b->msrs, a->n_msrs * sizeof(a->msrs[0]));
    }
    assert_memory_equal(&in.machine.serial, &out.machine.serial,
                        sizeof(in.machine.serial));
    assert_memory_equal(&in.machine.i8042, &out.machine.i8042,
                        sizeof(in.machine.i8042));
    assert_true(out.machine.acpi.present);
    assert_memory_equal(&in.machine.acpi.place, &out.machine.acpi.place,
                        sizeof(in.machine.acpi.place));
    assert_memory_equal(&in.machine.acpi.vmclock, &out.machine.acpi.vmclock,
                        sizeof(in.machine.acpi.vmclock));
    assert_int_equal(out.n_vdevs, 1);
    assert_string_equal(out.vdevs[0].kind, "virtio-block");
    assert_string_equal(out.vdevs[0].id, "rootfs");
    assert_int_equal(out.vdevs[0].addr, 0xc0001000);
    assert_int_equal(out.vdevs[0].gsi, 5);
    assert_memory_equal(&in.vdevs[0].transport, &out.vdevs[0].transport,
                        sizeof(in.vdevs[0].transport));
    assert_int_equal(out.vdevs[0].device.len, 3);
    assert_memory_equal(out.vdevs[0].device.data, "own", 3);
    assert_string_equal(out.vdev_configs[0], "{\"drive_id\":\"rootfs\"}");
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

static void add_unknown(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG('N', 'E', 'W', '!'));
    snap_put_u64(w, 42);
    snap_section_end(w);
}

/* A section a newer squib added (a device this one does not know). */
static void test_unknown_section_skipped(void **state)
{
    struct microvm_state in, out;
    struct sq_err err;

    (void)state;
    assert_int_equal(round_trip(add_unknown, &in, &out, &err), 0);
    assert_int_equal(out.machine.n_vcpus, 2);
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

/* An extra section appended after the state's own. */
static void expect_decode_error(void (*add)(struct snap_writer *),
                                const char *msg)
{
    struct microvm_state in, out;
    struct sq_err err;

    assert_int_equal(round_trip(add, &in, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, msg);
    assert_int_equal(out.machine.n_vcpus, 0); /* nothing left owned */
    microvm_state_fini(&in);
}

static void add_repeated_info(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_VM_INFO);
    snap_put_u32(w, 2);
    snap_put_u64(w, 4096);
    snap_put_u8(w, 1);
    snap_put_u8(w, 1);
    snap_put_u8(w, 3);
    snap_section_end(w);
}

static void add_short_serial(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_SERIAL);
    snap_put_u8(w, 1);
    snap_section_end(w);
}

static void add_vcpu_out_of_order(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_VCPU);
    snap_put_u32(w, 7);
    snap_section_end(w);
}

static void add_bad_blob_size(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_VCPU);
    snap_put_u32(w, 2);
    snap_put_u32(w, 3); /* not sizeof(struct kvm_mp_state) */
    snap_put_bytes(w, "abc", 3);
    snap_section_end(w);
}

/* A third VCPU section whose XSAVE area says `size` bytes and has `have`
 * (nothing after it). */
static void put_vcpu_xsave(struct snap_writer *w, uint32_t size, uint32_t have)
{
    struct vcpu_snap v;
    uint8_t *area = xcalloc(1, have ? have : 1);

    memset(&v, 0, sizeof(v));
    snap_section_begin(w, SNAP_TAG_VCPU);
    snap_put_u32(w, 2);
    snap_put_u32(w, sizeof(v.mp_state));
    snap_put_bytes(w, &v.mp_state, sizeof(v.mp_state));
    snap_put_u32(w, sizeof(v.regs));
    snap_put_bytes(w, &v.regs, sizeof(v.regs));
    snap_put_u32(w, sizeof(v.sregs));
    snap_put_bytes(w, &v.sregs, sizeof(v.sregs));
    snap_put_u32(w, size);
    snap_put_bytes(w, area, have);
    snap_section_end(w);
    free(area);
}

static void add_xsave_cut(struct snap_writer *w)
{
    put_vcpu_xsave(w, 11008, 4096); /* an AMX area cut to 4 KiB */
}

static void add_xsave_small(struct snap_writer *w)
{
    put_vcpu_xsave(w, 4092, 4092); /* less than struct kvm_xsave */
}

static void add_xsave_odd(struct snap_writer *w)
{
    put_vcpu_xsave(w, 4098, 4098); /* not whole u32 words */
}

static void add_xsave_huge(struct snap_writer *w)
{
    put_vcpu_xsave(w, 0xfffffffcu, 64); /* past the section */
}

static void add_long_fifo(struct snap_writer *w)
{
    uint8_t regs[9] = {0};

    snap_section_begin(w, SNAP_TAG_SERIAL);
    snap_put_bytes(w, regs, sizeof(regs));
    snap_put_u8(w, SERIAL_FIFO_SIZE + 1);
    snap_section_end(w);
}

static void add_vdev_without_id(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_VDEV);
    snap_put_str(w, "virtio-rng");
    snap_section_end(w);
}

/* An XSAVE area from KVM_GET_XSAVE2 (Sapphire Rapids' 11008 bytes with AMX
 * tile data) beside a legacy 4 KiB one: both come back whole. A 4 KiB area
 * is encoded as before KVM_GET_XSAVE2 was read (u32 4096 and the bytes), so
 * older files decode the same. */
static void test_xsave2_round_trip(void **state)
{
    struct microvm_state in, out;
    struct vcpu_snap *v;
    struct snap_writer w;
    struct sq_err err;

    (void)state;
    make_state(&in);
    v = &in.machine.vcpus[1];
    free(v->xsave);
    v->xsave_size = vcpu_snap_xsave_size(11008);
    v->xsave = xcalloc(1, v->xsave_size);
    fill(v->xsave, v->xsave_size, 77);
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    assert_int_equal(snap_finish_and_decode(&w, &out, &err), 0);
    for (uint32_t i = 0; i < 2; i++) {
        const struct vcpu_snap *a = &in.machine.vcpus[i];
        const struct vcpu_snap *b = &out.machine.vcpus[i];

        assert_int_equal(b->xsave_size, i ? 11008 : 4096);
        assert_memory_equal(a->xsave, b->xsave, a->xsave_size);
        assert_memory_equal(&a->events, &b->events, sizeof(a->events));
        assert_int_equal(a->tsc_khz, b->tsc_khz);
        assert_int_equal(a->n_msrs, b->n_msrs);
    }
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

/* The area's size from KVM_CAP_XSAVE2, as upstream's FAM length: 4 KiB
 * without the capability, whole u32 words past 4 KiB with it. */
static void test_xsave_size(void **state)
{
    (void)state;
    assert_int_equal(vcpu_snap_xsave_size(0), 4096);
    assert_int_equal(vcpu_snap_xsave_size(1024), 4096);
    assert_int_equal(vcpu_snap_xsave_size(4096), 4096);
    assert_int_equal(vcpu_snap_xsave_size(11008), 11008);
    assert_int_equal(vcpu_snap_xsave_size(11009), 11012);
    assert_int_equal(vcpu_snap_xsave_size(0xffffffffu), 0xfffffffcu);
    assert_true(vcpu_snap_xsave_size_ok(4096));
    assert_true(vcpu_snap_xsave_size_ok(11012));
    assert_false(vcpu_snap_xsave_size_ok(0));
    assert_false(vcpu_snap_xsave_size_ok(4092));
    assert_false(vcpu_snap_xsave_size_ok(4098));
    assert_false(vcpu_snap_xsave_size_ok(1ull << 32));
}

/* A state file written before the ACPI section existed (same version). */
static void test_acpi_absent(void **state)
{
    struct microvm_state in, out;
    struct snap_writer w;
    struct sq_err err;

    (void)state;
    make_state(&in);
    in.machine.acpi.present = false;
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    assert_int_equal(snap_finish_and_decode(&w, &out, &err), 0);
    assert_false(out.machine.acpi.present);
    assert_int_equal(out.machine.acpi.place.vmgenid_gsi, 0);
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

static void add_short_acpi(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_ACPI);
    snap_put_u64(w, 0xdfff0);
    snap_put_u32(w, 6);
    snap_put_u64(w, 0xde000);
    snap_put_u32(w, 7);
    snap_put_u32(w, 111); /* not the ABI's 112 bytes */
    snap_section_end(w);
}

static void test_decode_errors(void **state)
{
    (void)state;
    /* The fixture has an ACPI section already. */
    expect_decode_error(add_short_acpi,
                        "An error occurred during bitcode serialization: ACPI "
                        "section: repeated");
    expect_decode_error(add_vdev_without_id,
                        "An error occurred during bitcode serialization: VDEV "
                        "section: bad layout");
    expect_decode_error(add_repeated_info,
                        "An error occurred during bitcode serialization: VMIN "
                        "section: repeated");
    expect_decode_error(add_short_serial,
                        "An error occurred during bitcode serialization: SERL "
                        "section: repeated");
    expect_decode_error(add_vcpu_out_of_order,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad layout");
    expect_decode_error(add_bad_blob_size,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad layout");
    expect_decode_error(add_xsave_cut,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad XSAVE area size");
    expect_decode_error(add_xsave_small,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad XSAVE area size");
    expect_decode_error(add_xsave_odd,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad XSAVE area size");
    expect_decode_error(add_xsave_huge,
                        "An error occurred during bitcode serialization: VCPU "
                        "section: bad XSAVE area size");
    expect_decode_error(add_long_fifo,
                        "An error occurred during bitcode serialization: SERL "
                        "section: repeated");
}

static void test_missing_sections(void **state)
{
    struct microvm_state out;
    struct sq_err err;

    (void)state;
    assert_int_equal(decode_alone(add_repeated_info, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "An error occurred during bitcode "
                                 "serialization: required sections missing");
}

/* A truncated section on its own (not after a good one). */
static void test_bad_layout_alone(void **state)
{
    struct microvm_state out;
    struct sq_err err;

    (void)state;
    assert_int_equal(decode_alone(add_short_serial, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "An error occurred during bitcode "
                                 "serialization: SERL section: bad layout");
    assert_int_equal(decode_alone(add_short_acpi, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "An error occurred during bitcode "
                                 "serialization: ACPI section: bad layout");
}

/* A PCI-mode machine's sections come back as they were. */
static void test_pci_round_trip(void **state)
{
    struct microvm_state in, out;
    struct snap_writer w;
    struct sq_err err;

    (void)state;
    make_pci_state(&in);
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    assert_int_equal(snap_finish_and_decode(&w, &out, &err), 0);
    assert_non_null(out.pci);
    assert_int_equal(out.pci->n, 1);
    assert_memory_equal(&out.pci->root, &in.pci->root, sizeof(in.pci->root));
    assert_string_equal(out.pci->devs[0].kind, "virtio-block");
    assert_string_equal(out.pci->devs[0].id, "rootfs");
    assert_int_equal(out.pci->devs[0].dev, 1);
    assert_memory_equal(&out.pci->devs[0].transport, &in.pci->devs[0].transport,
                        sizeof(in.pci->devs[0].transport));
    microvm_state_fini(&in);
    microvm_state_fini(&out);
    /* A virtio-mmio machine's file has no PCI sections. */
    assert_int_equal(round_trip(NULL, &in, &out, &err), 0);
    assert_null(out.pci);
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

/* The PCID sections of p alone (without its PCIR) appended to w. */
static void put_pci_devs_only(struct snap_writer *w, const struct pci_snap *p)
{
    struct snap_writer all;
    size_t root_len;

    snap_writer_init(&all);
    all.b.len = 0;
    snap_pci_encode(p, &all);
    root_len = SNAP_SECTION_HDR + ((const uint8_t *)all.b.data)[4] +
               ((size_t)((const uint8_t *)all.b.data)[5] << 8);
    snap_put_bytes(w, all.b.data + root_len, all.b.len - root_len);
    snap_writer_fini(&all);
}

/* make_state(), PCI or not, with n_pci devices in its PCI sections (their
 * PCIR too when `pci`) and then `extra` more PCID sections: decoded. */
static int decode_pci(bool pci, size_t n_pci, size_t extra)
{
    struct microvm_state in, out, p;
    struct snap_writer w;
    struct sq_err err;
    int rc;

    make_pci_state(&p);
    if (pci)
        make_pci_state(&in);
    else
        make_state(&in);
    if (in.pci)
        in.pci->n = n_pci;
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    for (size_t i = 0; i < extra; i++)
        put_pci_devs_only(&w, p.pci);
    if (in.pci)
        in.pci->n = 1;
    microvm_state_fini(&in);
    microvm_state_fini(&p);
    rc = snap_finish_and_decode(&w, &out, &err);
    if (rc < 0)
        assert_string_equal(err.msg, "An error occurred during bitcode "
                                     "serialization: PCI sections do not "
                                     "match the virtio devices");
    else
        microvm_state_fini(&out);
    return rc;
}

static void test_pci_sections_must_match(void **state)
{
    (void)state;
    assert_int_equal(decode_pci(true, 1, 0), 0);
    /* Two PCID sections for one VDEV. */
    assert_int_equal(decode_pci(true, 1, 1), -EBADMSG);
    /* PCIR without the device's PCID. */
    assert_int_equal(decode_pci(true, 0, 0), -EBADMSG);
    /* A PCID without PCIR. */
    assert_int_equal(decode_pci(false, 0, 1), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_unknown_section_skipped),
        cmocka_unit_test(test_acpi_absent),
        cmocka_unit_test(test_xsave2_round_trip),
        cmocka_unit_test(test_xsave_size),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_missing_sections),
        cmocka_unit_test(test_bad_layout_alone),
        cmocka_unit_test(test_pci_round_trip),
        cmocka_unit_test(test_pci_sections_must_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

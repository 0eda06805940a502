/*
 * test_acpi_devs.c: VMGenID and VMClock contents in real guest memory: the
 * VMClock ABI byte by byte, the boot contents at the firmware tables'
 * addresses, a NEW generation id and the VMClock update on every restore
 * (incremental restores count up), the seq_count protocol's wrap-around,
 * the notifications (each device's eventfd written once per restore, never
 * at boot), a state file from before the ACPI section, and the failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/evloop.h"
#include "vmm/acpi.h"
#include "vmm/acpi_devs.h"

struct mem {
    struct guest_mem *gm;
    uint8_t *ram; /* host address of guest-physical 0 */
};

static void mem_new(struct mem *m)
{
    struct sq_err err;
    void *p = NULL;

    assert_int_equal(guest_mem_new(2, GUEST_MEM_HUGE_NONE, &m->gm, &err), 0);
    assert_int_equal(guest_mem_translate(m->gm, 0, 1, &p), 0);
    m->ram = p;
}

/* The boot placement: GSIs 5 and 6, the tables' addresses. */
static struct acpi_devs_place boot_place(void)
{
    struct fw_config fw = {.vmgenid_gsi = 5, .vmclock_gsi = 6};
    struct acpi_devs_place p = {.vmgenid_gsi = 5, .vmclock_gsi = 6};

    assert_int_equal(fw_acpi_dev_addrs(&fw, &p.vmgenid_addr, &p.vmclock_addr),
                     0);
    return p;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void test_abi_initial_bytes(void **state)
{
    struct vmclock_abi a;
    uint8_t b[VMCLOCK_ABI_SIZE];

    (void)state;
    vmclock_abi_init(&a);
    vmclock_abi_encode(&a, b);
    /* Linux's vmclock-abi.h offsets; upstream's values. */
    assert_memory_equal(b, "VCLK", 4);
    assert_int_equal(rd32(b + 0), 0x4b4c4356);
    assert_int_equal(rd32(b + 4), 0x1000);
    assert_int_equal(b[8], 1); /* version, u16 */
    assert_int_equal(b[9], 0);
    assert_int_equal(b[10], 255); /* counter_id INVALID */
    assert_int_equal(b[11], 0);   /* time_type */
    assert_int_equal(rd32(b + 12), 0);
    assert_int_equal(rd64(b + 16), 0);
    assert_int_equal(rd64(b + 24), 0x300); /* GEN_COUNTER | NOTIFICATION */
    assert_int_equal(b[34], 0);            /* clock_status UNKNOWN */
    assert_true(all_zero(b + 32, 2));
    assert_true(all_zero(b + 35, VMCLOCK_ABI_SIZE - 35));
}

static void test_abi_field_offsets(void **state)
{
    struct vmclock_abi a, back;
    uint8_t b[VMCLOCK_ABI_SIZE], again[VMCLOCK_ABI_SIZE];
    static const struct {
        size_t off, len;
    } fields[] = {{0, 4},  {4, 4},  {8, 2},  {10, 1}, {11, 1}, {12, 4},
                  {16, 8}, {24, 8}, {32, 2}, {34, 1}, {35, 1}, {36, 2},
                  {38, 1}, {39, 1}, {40, 8}, {48, 8}, {56, 8}, {64, 8},
                  {72, 8}, {80, 8}, {88, 8}, {96, 8}, {104, 8}};
    size_t covered = 0;

    (void)state;
    /* Every byte pattern decodes and encodes back to itself, and the
     * fields tile the 112 bytes without gaps. */
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 37 + 11);
    vmclock_abi_decode(b, &back);
    vmclock_abi_encode(&back, again);
    assert_memory_equal(b, again, sizeof(b));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        assert_int_equal(fields[i].off, covered);
        covered += fields[i].len;
    }
    assert_int_equal(covered, VMCLOCK_ABI_SIZE);
    /* Named fields land where the ABI puts them, little-endian. */
    memset(&a, 0, sizeof(a));
    a.seq_count = 0x11223344;
    a.disruption_marker = 0x0102030405060708ULL;
    a.tai_offset_sec = 0xbeef;
    a.counter_value = 0xa1a2a3a4a5a6a7a8ULL;
    a.time_maxerror_nanosec = 77;
    a.vm_generation_counter = 0xfedcba9876543210ULL;
    vmclock_abi_encode(&a, b);
    assert_int_equal(rd32(b + 12), 0x11223344);
    assert_int_equal(b[12], 0x44);
    assert_int_equal(rd64(b + 16), 0x0102030405060708ULL);
    assert_int_equal(b[36] | b[37] << 8, 0xbeef);
    assert_int_equal(rd64(b + 40), 0xa1a2a3a4a5a6a7a8ULL);
    assert_int_equal(rd64(b + 96), 77);
    assert_int_equal(rd64(b + 104), 0xfedcba9876543210ULL);
}

static void test_boot_contents(void **state)
{
    struct acpi_devs_place p = boot_place();
    struct acpi_devs d;
    struct sq_err err;
    struct mem m;
    uint8_t want[VMCLOCK_ABI_SIZE];

    (void)state;
    /* Top of system memory: the id 8-aligned, the VMClock page aligned. */
    assert_int_equal(p.vmgenid_addr, 0xdfff0);
    assert_int_equal(p.vmclock_addr, 0xde000);
    mem_new(&m);
    acpi_devs_init(&d);
    assert_int_equal(acpi_devs_boot(&d, &p, m.gm, -1, &err), 0);
    assert_true(d.present);
    assert_memory_equal(m.ram + p.vmgenid_addr, d.genid, VMGENID_ID_LEN);
    assert_false(all_zero(d.genid, VMGENID_ID_LEN)); /* 2^-128 */
    vmclock_abi_encode(&d.vmclock, want);
    assert_memory_equal(m.ram + p.vmclock_addr, want, sizeof(want));
    assert_int_equal(rd32(m.ram + p.vmclock_addr), 0x4b4c4356);
    /* Nothing raised at boot. */
    assert_int_equal(evloop_eventfd_drain(d.vmgenid_fd), 0);
    assert_int_equal(evloop_eventfd_drain(d.vmclock_fd), 0);
    acpi_devs_fini(&d);
    guest_mem_free(m.gm);
}

static void test_restore_new_id_and_counters(void **state)
{
    struct acpi_devs_place p = boot_place();
    struct acpi_devs d, r;
    struct acpi_devs_state st;
    struct sq_err err;
    struct mem m;
    uint8_t before[VMGENID_ID_LEN];
    const uint8_t *page;

    (void)state;
    mem_new(&m);
    page = m.ram + p.vmclock_addr;
    acpi_devs_init(&d);
    assert_int_equal(acpi_devs_boot(&d, &p, m.gm, -1, &err), 0);
    /* Five incremental restores, as upstream's test_vmclock: each from a
     * snapshot of the previous one (the same memory stands in for the
     * memory file). */
    for (uint64_t i = 1; i <= 5; i++) {
        memcpy(before, m.ram + p.vmgenid_addr, sizeof(before));
        acpi_devs_save(&d, &st);
        assert_true(st.present);
        acpi_devs_fini(&d);
        acpi_devs_init(&r);
        assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), 0);
        assert_memory_not_equal(m.ram + p.vmgenid_addr, before, sizeof(before));
        assert_memory_equal(m.ram + p.vmgenid_addr, r.genid, VMGENID_ID_LEN);
        assert_int_equal(rd64(page + 16), i);     /* disruption_marker */
        assert_int_equal(rd64(page + 104), i);    /* vm_generation_counter */
        assert_int_equal(rd32(page + 12), 2 * i); /* even: stable */
        assert_int_equal(rd32(page), 0x4b4c4356);
        assert_int_equal(rd64(page + 24), 0x300);
        assert_int_equal(r.vmclock.disruption_marker, i);
        /* One notification per device. */
        assert_int_equal(evloop_eventfd_drain(r.vmgenid_fd), 1);
        assert_int_equal(evloop_eventfd_drain(r.vmclock_fd), 1);
        d = r;
    }
    acpi_devs_fini(&d);
    guest_mem_free(m.gm);
}

static void test_seq_count_wraps(void **state)
{
    struct acpi_devs_place p = boot_place();
    struct acpi_devs_state st;
    struct acpi_devs r;
    struct sq_err err;
    struct mem m;
    const uint8_t *page;

    (void)state;
    mem_new(&m);
    page = m.ram + p.vmclock_addr;
    memset(&st, 0, sizeof(st));
    st.present = true;
    st.place = p;
    vmclock_abi_init(&st.vmclock);
    /* Saved mid-update (odd): made odd again, then one more. */
    st.vmclock.seq_count = 5;
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), 0);
    assert_int_equal(rd32(page + 12), 6);
    acpi_devs_fini(&r);
    /* Everything wraps. */
    st.vmclock.seq_count = UINT32_MAX;
    st.vmclock.disruption_marker = UINT64_MAX;
    st.vmclock.vm_generation_counter = UINT64_MAX;
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), 0);
    assert_int_equal(rd32(page + 12), 0);
    assert_int_equal(rd64(page + 16), 0);
    assert_int_equal(rd64(page + 104), 0);
    acpi_devs_fini(&r);
    guest_mem_free(m.gm);
}

/* A state file from before the ACPI section: the devices were in the DSDT
 * but their buffers were never written; the restore renews them. */
static void test_restore_fresh_state(void **state)
{
    struct acpi_devs_place p = boot_place();
    struct acpi_devs_state st;
    struct acpi_devs r;
    struct sq_err err;
    struct mem m;
    const uint8_t *page;

    (void)state;
    mem_new(&m);
    page = m.ram + p.vmclock_addr;
    acpi_devs_state_fresh(&p, &st);
    assert_true(st.present);
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), 0);
    assert_false(all_zero(m.ram + p.vmgenid_addr, VMGENID_ID_LEN));
    assert_int_equal(rd32(page), 0x4b4c4356);
    assert_int_equal(rd32(page + 12), 2);
    assert_int_equal(rd64(page + 16), 1);
    assert_int_equal(rd64(page + 104), 1);
    assert_int_equal(evloop_eventfd_drain(r.vmgenid_fd), 1);
    assert_int_equal(evloop_eventfd_drain(r.vmclock_fd), 1);
    acpi_devs_fini(&r);
    /* No device at all: nothing. */
    memset(&p, 0, sizeof(p));
    acpi_devs_state_fresh(&p, &st);
    assert_false(st.present);
    guest_mem_free(m.gm);
}

static void test_restore_absent_and_failures(void **state)
{
    struct acpi_devs_place p = boot_place();
    struct acpi_devs_state st;
    struct acpi_devs r;
    struct sq_err err;
    struct mem m;

    (void)state;
    mem_new(&m);
    /* A state file without the section: nothing written, nothing raised. */
    memset(&st, 0, sizeof(st));
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), 0);
    assert_false(r.present);
    assert_int_equal(r.vmgenid_fd, -1);
    assert_true(all_zero(m.ram + 0x9fc00, 0xe0000 - 0x9fc00));
    acpi_devs_fini(&r);
    /* A GSI no boot gives them. */
    st.present = true;
    st.place = p;
    st.place.vmclock_gsi = 24;
    vmclock_abi_init(&st.vmclock);
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), -EINVAL);
    assert_string_equal(err.msg, "VMGenID/VMClock: GSIs 5 and 24 are not "
                                 "legacy GSIs 5 to 23");
    assert_int_equal(r.vmgenid_fd, -1);
    assert_true(all_zero(m.ram + 0x9fc00, 0xe0000 - 0x9fc00));
    acpi_devs_fini(&r);
    /* Outside RAM: the texts, no notification. */
    st.present = true;
    st.place = p;
    st.place.vmgenid_addr = 1ULL << 40;
    vmclock_abi_init(&st.vmclock);
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), -EFAULT);
    assert_string_equal(err.msg,
                        "VMGenID: Could not write generation ID to guest "
                        "memory: Guest memory error: invalid guest address "
                        "0x10000000000");
    assert_int_equal(evloop_eventfd_drain(r.vmgenid_fd), 0);
    acpi_devs_fini(&r);
    st.place = p;
    st.place.vmclock_addr = 0x1ffff0; /* crosses the end of RAM */
    acpi_devs_init(&r);
    assert_int_equal(acpi_devs_restore(&r, &st, m.gm, -1, &err), -EFAULT);
    assert_string_equal(err.msg,
                        "VMClock: Could not write VMClock data to guest "
                        "memory: Guest memory error: invalid guest address "
                        "0x1ffff0");
    assert_int_equal(evloop_eventfd_drain(r.vmclock_fd), 0);
    acpi_devs_fini(&r);
    guest_mem_free(m.gm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abi_initial_bytes),
        cmocka_unit_test(test_abi_field_offsets),
        cmocka_unit_test(test_boot_contents),
        cmocka_unit_test(test_restore_new_id_and_counters),
        cmocka_unit_test(test_seq_count_wraps),
        cmocka_unit_test(test_restore_fresh_state),
        cmocka_unit_test(test_restore_absent_and_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

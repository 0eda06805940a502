/*
 * fuzz_snapshot_state.c: libFuzzer harness for the snapshot state file's
 * reader (snapshot/format.h).
 *
 * The input is a whole state file. Invariants: parsing and the version-only
 * read never read outside the input (ASan), every failure carries a message
 * and a kind, a parsed file's sections tile its body exactly, and every
 * reader call on a section stays inside it. A parsed input re-encoded from
 * its sections gives back the same bytes.
 *
 * The same input is then given a valid CRC (appended) so that mutations get
 * past the checksum into the section decoders (snapshot/state.c): a file
 * that parses either decodes into a state or fails with the decoding text,
 * and the state's owned parts are freed either way (ASan: no leak, no
 * over-read). A decoded state is also printed as snapshot-editor's
 * info-vmstate prints it (snapshot/describe.h), which must stay inside it.
 * Each decoded virtio-net device's own state goes through its decoder
 * (vmm/vdev_net_snap.h): it fails with a message or decodes into a state
 * that encodes back to the same bytes; and a network override naming
 * "eth0" rewrites that interface's saved configuration or fails cleanly
 * (snapshot/state_net.h).
 * The own state of each balloon, vsock, pmem and virtio-mem device in it
 * goes through its kind's decoder (vmm/vdev_kind_snap.h): it decodes and
 * re-encodes to the same bytes, or fails with the decoder's text (the
 * virtio-mem decoder allocates its bitmap only once the bytes for it are
 * there: ASan sees a leak or an over-read); vsock_override is applied to
 * the decoded state. A decoded ACPI section's VMClock page encodes back
 * to bytes that decode to the same page (vmm/vmclock.h).
 * A PCI-mode state's sections (snapshot/state_pci.h) encode back to
 * sections that decode into the same state; each device's PCI transport
 * state is put into a real one (virtio-rng behind virtio-pci at the saved
 * BAR and GSIs, devices/pci/pci_snap.h): refused with nothing changed, or
 * taken with no read-only configuration bit changed and every vector in
 * range; the root's state likewise into a real root.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci_snap.h"
#include "devices/virtio/rng.h"
#include "snapshot/crc64.h"
#include "snapshot/describe.h"
#include "snapshot/format.h"
#include "snapshot/state.h"
#include "snapshot/state_net.h"
#include "snapshot/vsock_override.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_net_snap.h"
#include "vmm/vmclock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The VMClock page of a decoded ACPI section round-trips. */
static void check_vmclock(const struct microvm_state *st)
{
    uint8_t a[VMCLOCK_ABI_SIZE], b[VMCLOCK_ABI_SIZE];
    struct vmclock_abi back;

    if (!st->machine.acpi.present)
        return;
    vmclock_abi_encode(&st->machine.acpi.vmclock, a);
    vmclock_abi_decode(a, &back);
    vmclock_abi_encode(&back, b);
    if (memcmp(a, b, sizeof(a)) != 0)
        __builtin_trap();
}

/* The network parts of a decoded state. */
static void check_net(struct microvm_state *st)
{
    char id[] = "eth0", name[] = "tap1";
    struct network_override o = {id, name};
    const char *kinds[SNAP_MAX_VDEVS];
    struct sq_err err;

    for (size_t i = 0; i < st->n_vdevs; i++) {
        const struct buf *dev = &st->vdevs[i].device;
        struct net_snap n;
        struct buf again = BUF_INIT;

        kinds[i] = st->vdevs[i].kind;
        if (strcmp(st->vdevs[i].kind, "virtio-net") != 0)
            continue;
        sq_err_clear(&err);
        if (net_snap_decode((const uint8_t *)dev->data, dev->len, &n, &err)) {
            if (err.msg[0] == '\0')
                __builtin_trap();
            continue;
        }
        net_snap_encode(&n, &again);
        if (again.len != dev->len || memcmp(again.data, dev->data, dev->len))
            __builtin_trap();
        buf_fini(&again);
    }
    sq_err_clear(&err);
    if (snapshot_network_overrides(st->vdev_configs, kinds, st->n_vdevs, &o, 1,
                                   &err) < 0 &&
        err.msg[0] == '\0')
        __builtin_trap();
}

/* A kind decoder's result: 0 and the same bytes re-encoded, or its text. */
static void check_kind(int rc, const struct sq_err *err, const struct buf *in,
                       const struct buf *again)
{
    if (rc < 0 && strstr(err->msg, " state: ") == NULL)
        __builtin_trap();
    if (rc == 0 &&
        (again->len != in->len || memcmp(again->data, in->data, in->len) != 0))
        __builtin_trap();
}

/* Each balloon's, vsock, pmem and virtio-mem device's own state through
 * its decoder. */
static void decode_kinds(struct microvm_state *st)
{
    struct sq_err err;

    for (size_t i = 0; i < st->n_vdevs; i++) {
        const struct buf *in = &st->vdevs[i].device;
        struct buf again = BUF_INIT;
        int rc;

        sq_err_clear(&err);
        if (!strcmp(st->vdevs[i].kind, "virtio-balloon")) {
            struct balloon_state b;

            rc = vdev_balloon_state_decode((const uint8_t *)in->data, in->len,
                                           &b, &err);
            if (rc == 0)
                vdev_balloon_state_encode(&b, &again);
            check_kind(rc, &err, in, &again);
        } else if (!strcmp(st->vdevs[i].kind, "virtio-vsock")) {
            struct vsock_state v;

            rc = vdev_vsock_state_decode((const uint8_t *)in->data, in->len, &v,
                                         &err);
            if (rc == 0)
                vdev_vsock_state_encode(&v, &again);
            check_kind(rc, &err, in, &again);
        } else if (!strcmp(st->vdevs[i].kind, "virtio-pmem")) {
            struct pmem_state pm;

            rc = vdev_pmem_state_decode((const uint8_t *)in->data, in->len, &pm,
                                        &err);
            if (rc == 0)
                vdev_pmem_state_encode(&pm, &again);
            check_kind(rc, &err, in, &again);
        } else if (!strcmp(st->vdevs[i].kind, "virtio-mem")) {
            struct virtio_mem_state vm;

            rc = vdev_mem_state_decode((const uint8_t *)in->data, in->len, &vm,
                                       &err);
            if (rc == 0)
                vdev_mem_state_encode(&vm, &again);
            check_kind(rc, &err, in, &again);
            virtio_mem_state_fini(&vm);
        }
        buf_fini(&again);
    }
    sq_err_clear(&err);
    if (snapshot_vsock_override(st, "/v.sock", &err) < 0 && err.msg[0] == 0)
        __builtin_trap();
}

/* p's sections, re-encoded, decode into the same state. */
static void check_pci_codec(const struct pci_snap *p)
{
    struct snap_writer w;
    struct snap_reader r;
    struct pci_snap *again = NULL;
    size_t off = 0;
    uint32_t tag;

    snap_writer_init(&w);
    w.b.len = 0;
    snap_pci_encode(p, &w);
    while (off < w.b.len) {
        uint32_t len = (uint32_t)(uint8_t)w.b.data[off + 4] |
                       (uint32_t)(uint8_t)w.b.data[off + 5] << 8 |
                       (uint32_t)(uint8_t)w.b.data[off + 6] << 16 |
                       (uint32_t)(uint8_t)w.b.data[off + 7] << 24;

        tag = (uint32_t)(uint8_t)w.b.data[off] |
              (uint32_t)(uint8_t)w.b.data[off + 1] << 8 |
              (uint32_t)(uint8_t)w.b.data[off + 2] << 16 |
              (uint32_t)(uint8_t)w.b.data[off + 3] << 24;
        r = (struct snap_reader){(const uint8_t *)w.b.data + off + 8, len, 0,
                                 false, NULL};
        if (tag == SNAP_TAG_PCI_ROOT)
            snap_pci_decode_root(&r, &again);
        else
            snap_pci_decode_dev(&r, &again);
        if (!snap_reader_done(&r))
            __builtin_trap();
        off += 8 + len;
    }
    if (!again || again->n != p->n ||
        memcmp(&again->root, &p->root, sizeof(p->root)) != 0)
        __builtin_trap();
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(again->devs[i].kind, p->devs[i].kind) ||
            strcmp(again->devs[i].id, p->devs[i].id) ||
            memcmp(&again->devs[i].transport, &p->devs[i].transport,
                   sizeof(p->devs[i].transport)) != 0)
            __builtin_trap();
    pci_snap_free(again);
    snap_writer_fini(&w);
}

/* A saved transport state into a real transport. */
static void check_pci_restore(const struct virtio_pci_state *s)
{
    struct pci_config before;
    struct virtio_pci p;
    struct rng *dev;
    struct sq_err err;
    int rc;

    if (s->first_gsi < MSIX_FIRST_GSI || s->first_gsi > 4000 ||
        rng_new(NULL, &dev, &err) < 0)
        return;
    if (virtio_pci_init(&p, rng_transport(dev), s->bar_addr, s->first_gsi) ==
        0) {
        before = p.pci.cfg;
        rc = virtio_pci_restore(&p, s);
        if (rc != 0 && rc != -EINVAL)
            __builtin_trap();
        for (uint32_t reg = 0; reg < PCI_CONFIG_REGS; reg++)
            if ((rc ? p.pci.cfg.regs[reg] != before.regs[reg]
                    : (p.pci.cfg.regs[reg] ^ before.regs[reg]) &
                          ~before.wmask[reg]))
                __builtin_trap();
        if (p.config_vector != MSIX_NO_VECTOR &&
            p.config_vector >= p.msix.n_vectors)
            __builtin_trap();
        for (size_t q = 0; q < rng_transport(dev)->n_queues; q++)
            if (p.queue_vector[q] != MSIX_NO_VECTOR &&
                p.queue_vector[q] >= p.msix.n_vectors)
                __builtin_trap();
    }
    virtio_pci_fini(&p);
    rng_free(dev);
}

static void check_pci(const struct pci_snap *p)
{
    struct pci_root root;

    check_pci_codec(p);
    pci_root_init(&root);
    if (pci_root_restore(&root, &p->root) == 0 &&
        root.config_address != p->root.config_address)
        __builtin_trap();
    pci_root_fini(&root);
    for (size_t i = 0; i < p->n; i++)
        check_pci_restore(&p->devs[i].transport);
}

/* data + its CRC, parsed and decoded. */
static void decode_with_crc(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + SNAP_CRC_SIZE);
    uint64_t crc = crc64_jones(0, data, size);
    struct microvm_state st;
    enum snap_error kind;
    struct snap_file f;
    struct sq_err err;

    if (!buf)
        __builtin_trap();
    if (size)
        memcpy(buf, data, size);
    for (int i = 0; i < 8; i++)
        buf[size + i] = (uint8_t)(crc >> (8 * i));
    sq_err_clear(&err);
    if (snap_file_parse(buf, size + SNAP_CRC_SIZE, &f, &kind, &err) == 0) {
        int rc = microvm_state_decode(&f, &st, &err);

        if (rc < 0 &&
            strncmp(err.msg, SNAP_ERR_DECODE, strlen(SNAP_ERR_DECODE)) != 0)
            __builtin_trap();
        if (rc == 0 && (st.machine.n_vcpus == 0 ||
                        st.machine.n_vcpus != st.info.vcpu_count))
            __builtin_trap();
        if (rc == 0) {
            struct snap_described d = {buf, f, st};
            struct buf out = BUF_INIT;

            snap_describe_version(&d, &out);
            snap_describe_vcpus(&d, &out);
            snap_describe_vm(&d, &out);
            if (out.len == 0 || out.data[out.len - 1] != '\n')
                __builtin_trap();
            buf_fini(&out);
            st = d.state;
            check_net(&st);
            decode_kinds(&st);
            check_vmclock(&st);
            if (st.pci)
                check_pci(st.pci);
        }
        microvm_state_fini(&st);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    struct snap_version v;
    struct snap_writer w;
    struct snap_reader r;
    struct snap_file f;
    enum snap_error kind;
    struct sq_err err;
    size_t off = 0, seen = 0;
    uint32_t tag;
    int rc;

    if (!copy)
        __builtin_trap();
    if (size)
        memcpy(copy, data, size); /* exact-size heap copy: ASan bounds */
    sq_err_clear(&err);
    rc = snap_file_version(copy, size, &v, &kind, &err);
    if (rc < 0 && (err.msg[0] == '\0' || kind == SNAP_E_NONE))
        __builtin_trap();
    sq_err_clear(&err);
    rc = snap_file_parse(copy, size, &f, &kind, &err);
    if (size <= SNAP_MAX_FILE_SIZE - SNAP_CRC_SIZE)
        decode_with_crc(copy, size);
    if (rc < 0) {
        if (err.msg[0] == '\0' || kind == SNAP_E_NONE)
            __builtin_trap();
        free(copy);
        return 0;
    }
    snap_writer_init(&w);
    w.b.len = 0; /* re-encode the header as found */
    snap_put_bytes(&w, copy, SNAP_HEADER_SIZE);
    while (snap_next_section(&f, &off, &tag, &r)) {
        char *s;

        seen += SNAP_SECTION_HDR + r.len;
        snap_section_begin(&w, tag);
        snap_put_bytes(&w, r.p, r.len);
        snap_section_end(&w);
        /* Typed reads over the payload stay inside it. */
        (void)snap_get_u8(&r);
        (void)snap_get_u16(&r);
        (void)snap_get_u64(&r);
        s = snap_get_str(&r);
        free(s);
    }
    if (seen != f.body_len)
        __builtin_trap();
    snap_writer_finish(&w);
    if (w.b.len != size || memcmp(w.b.data, copy, size) != 0)
        __builtin_trap();
    snap_writer_fini(&w);
    free(copy);
    return 0;
}

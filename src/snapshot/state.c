/*
 * state.c: struct microvm_state <-> sections (state.h).
 *
 * Each fixed part of a payload is described once, by a table of its
 * fields (struct field below), which both directions walk, so the writer
 * and the reader cannot disagree on an order or a width. KVM's structures
 * go in as their uapi bytes, each behind its u32 size, which the decoder
 * checks against sizeof: a kernel header with a different layout makes the
 * file undecodable rather than silently wrong.
 */
#include "snapshot/state.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* ---- field tables ------------------------------------------------------- */

enum field_kind { F_U8, F_U16, F_U32, F_U64, F_BOOL, F_BLOB };

struct field {
    enum field_kind kind;
    size_t off, size;
};

#define FIELD(kind, type, member)                                              \
    {                                                                          \
        (kind), offsetof(type, member), sizeof(((type *)0)->member)            \
    }
#define N_FIELDS(t) (sizeof(t) / sizeof((t)[0]))

#define INFO(kind, m) FIELD(F_##kind, struct snap_vm_info, m)
static const struct field info_fields[] = {
    INFO(U32, vcpu_count), INFO(U64, mem_size_mib), INFO(BOOL, smt),
    INFO(U8, huge_pages),  INFO(U8, cpu_template),
};

#define REGION(kind, m) FIELD(F_##kind, struct snap_mem_region, m)
static const struct field region_fields[] = {
    REGION(U64, gpa),
    REGION(U64, size),
};

#define VM(kind, m) FIELD(F_##kind, struct vm_snap, m)
static const struct field vm_fields[] = {
    VM(BLOB, clock),     VM(BLOB, pit),    VM(BLOB, pic_master),
    VM(BLOB, pic_slave), VM(BLOB, ioapic),
};

/* After the u32 index: these, the XSAVE area (u32 size, 4096 or more, and
 * its bytes), the rest; then the CPUID entries and the MSRs. */
#define VCPU(kind, m) FIELD(F_##kind, struct vcpu_snap, m)
static const struct field vcpu_fields[] = {
    VCPU(BLOB, mp_state),
    VCPU(BLOB, regs),
    VCPU(BLOB, sregs),
};
static const struct field vcpu_fields_after_xsave[] = {
    VCPU(BLOB, xcrs),   VCPU(BLOB, debugregs), VCPU(BLOB, lapic),
    VCPU(BLOB, events), VCPU(U32, tsc_khz),
};

/* Then the VMClock page: u32 112 and its ABI bytes (vmm/vmclock.h). */
#define ACPI(kind, m) FIELD(F_##kind, struct acpi_devs_place, m)
static const struct field acpi_fields[] = {
    ACPI(U64, vmgenid_addr),
    ACPI(U32, vmgenid_gsi),
    ACPI(U64, vmclock_addr),
    ACPI(U32, vmclock_gsi),
};

/* Then n_fifo bytes of FIFO. */
#define SERIAL(kind, m) FIELD(F_##kind, struct serial_state, m)
static const struct field serial_fields[] = {
    SERIAL(U8, ier), SERIAL(U8, iir),    SERIAL(U8, lcr), SERIAL(U8, mcr),
    SERIAL(U8, lsr), SERIAL(U8, msr),    SERIAL(U8, scr), SERIAL(U8, dll),
    SERIAL(U8, dlm), SERIAL(U8, n_fifo),
};

/* Then n_buf bytes of output buffer. */
#define I8042(kind, m) FIELD(F_##kind, struct i8042_state, m)
static const struct field i8042_fields[] = {
    I8042(U8, status), I8042(U8, control), I8042(U8, outp),
    I8042(U8, cmd),    I8042(U8, n_buf),
};

/* After kind, id, addr, gsi and the config; then n_queues queues. */
#define TRANSPORT(kind, m) FIELD(F_##kind, struct virtio_mmio_state, m)
static const struct field transport_fields[] = {
    TRANSPORT(U64, acked_features),
    TRANSPORT(U32, features_select),
    TRANSPORT(U32, acked_features_select),
    TRANSPORT(U32, queue_select),
    TRANSPORT(U32, status),
    TRANSPORT(U32, config_generation),
    TRANSPORT(U32, irq_status),
    TRANSPORT(BOOL, activated),
    TRANSPORT(U32, n_queues),
};

#define QUEUE(kind, m) FIELD(F_##kind, struct virtio_mmio_queue_state, m)
static const struct field queue_fields[] = {
    QUEUE(U16, size),       QUEUE(BOOL, ready),    QUEUE(U64, desc_addr),
    QUEUE(U64, avail_addr), QUEUE(U64, used_addr), QUEUE(U16, next_avail),
    QUEUE(U16, next_used),
};

static void put_blob(struct snap_writer *w, const void *p, size_t n)
{
    snap_put_u32(w, (uint32_t)n);
    snap_put_bytes(w, p, n);
}

static void put_fields(struct snap_writer *w, const void *base,
                       const struct field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + f[i].off;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        bool b;

        switch (f[i].kind) {
        case F_U8:
            memcpy(&u8, p, 1);
            snap_put_u8(w, u8);
            break;
        case F_U16:
            memcpy(&u16, p, 2);
            snap_put_u16(w, u16);
            break;
        case F_U32:
            memcpy(&u32, p, 4);
            snap_put_u32(w, u32);
            break;
        case F_U64:
            memcpy(&u64, p, 8);
            snap_put_u64(w, u64);
            break;
        case F_BOOL:
            memcpy(&b, p, sizeof(b));
            snap_put_u8(w, b);
            break;
        case F_BLOB:
            put_blob(w, p, f[i].size);
            break;
        }
    }
}

/* A blob of exactly n bytes into out; a wrong size makes r bad. */
static void get_blob(struct snap_reader *r, void *out, size_t n)
{
    if (snap_get_u32(r) != n) {
        r->bad = true;
        memset(out, 0, n);
        return;
    }
    snap_get_bytes(r, out, n);
}

static void get_fields(struct snap_reader *r, void *base, const struct field *f,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)base + f[i].off;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        bool b;

        switch (f[i].kind) {
        case F_U8:
            u8 = snap_get_u8(r);
            memcpy(p, &u8, 1);
            break;
        case F_U16:
            u16 = snap_get_u16(r);
            memcpy(p, &u16, 2);
            break;
        case F_U32:
            u32 = snap_get_u32(r);
            memcpy(p, &u32, 4);
            break;
        case F_U64:
            u64 = snap_get_u64(r);
            memcpy(p, &u64, 8);
            break;
        case F_BOOL:
            b = snap_get_u8(r) != 0;
            memcpy(p, &b, sizeof(b));
            break;
        case F_BLOB:
            get_blob(r, p, f[i].size);
            break;
        }
    }
}

/* ---- encoding ----------------------------------------------------------- */

static void encode_vcpu(struct snap_writer *w, uint32_t index,
                        const struct vcpu_snap *v)
{
    snap_section_begin(w, SNAP_TAG_VCPU);
    snap_put_u32(w, index);
    put_fields(w, v, vcpu_fields, N_FIELDS(vcpu_fields));
    put_blob(w, v->xsave, v->xsave_size);
    put_fields(w, v, vcpu_fields_after_xsave,
               N_FIELDS(vcpu_fields_after_xsave));
    snap_put_u32(w, v->n_cpuid);
    snap_put_bytes(w, v->cpuid, v->n_cpuid * sizeof(v->cpuid[0]));
    snap_put_u32(w, v->n_msrs);
    for (uint32_t i = 0; i < v->n_msrs; i++) {
        snap_put_u32(w, v->msrs[i].index);
        snap_put_u64(w, v->msrs[i].data);
    }
    snap_section_end(w);
}

static void encode_vdev(struct snap_writer *w, const struct vdev_snap *d,
                        const char *config)
{
    const struct virtio_mmio_state *t = &d->transport;

    snap_section_begin(w, SNAP_TAG_VDEV);
    snap_put_str(w, d->kind);
    snap_put_str(w, d->id);
    snap_put_u64(w, d->addr);
    snap_put_u32(w, d->gsi);
    snap_put_str(w, config);
    put_fields(w, t, transport_fields, N_FIELDS(transport_fields));
    for (uint32_t i = 0; i < t->n_queues; i++)
        put_fields(w, &t->queues[i], queue_fields, N_FIELDS(queue_fields));
    put_blob(w, d->device.data, d->device.len);
    snap_section_end(w);
}

static void encode_acpi(struct snap_writer *w, const struct acpi_devs_state *a)
{
    uint8_t page[VMCLOCK_ABI_SIZE];

    snap_section_begin(w, SNAP_TAG_ACPI);
    put_fields(w, &a->place, acpi_fields, N_FIELDS(acpi_fields));
    vmclock_abi_encode(&a->vmclock, page);
    put_blob(w, page, sizeof(page));
    snap_section_end(w);
}

void microvm_state_encode(const struct microvm_state *s, struct snap_writer *w)
{
    const struct machine_snap *m = &s->machine;

    snap_section_begin(w, SNAP_TAG_VM_INFO);
    put_fields(w, &s->info, info_fields, N_FIELDS(info_fields));
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_MEMORY);
    snap_put_u32(w, s->n_regions);
    for (uint32_t i = 0; i < s->n_regions; i++)
        put_fields(w, &s->regions[i], region_fields, N_FIELDS(region_fields));
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_KVM_VM);
    put_fields(w, &m->vm, vm_fields, N_FIELDS(vm_fields));
    snap_section_end(w);

    for (uint32_t i = 0; i < m->n_vcpus; i++)
        encode_vcpu(w, i, &m->vcpus[i]);

    snap_section_begin(w, SNAP_TAG_SERIAL);
    put_fields(w, &m->serial, serial_fields, N_FIELDS(serial_fields));
    snap_put_bytes(w, m->serial.fifo, m->serial.n_fifo);
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_I8042);
    put_fields(w, &m->i8042, i8042_fields, N_FIELDS(i8042_fields));
    snap_put_bytes(w, m->i8042.buf, m->i8042.n_buf);
    snap_section_end(w);

    if (m->acpi.present)
        encode_acpi(w, &m->acpi);

    for (size_t i = 0; i < s->n_vdevs; i++)
        encode_vdev(w, &s->vdevs[i], s->vdev_configs[i]);
    if (s->mmds)
        snap_mmds_encode(s->mmds, w);
    if (s->pci)
        snap_pci_encode(s->pci, w);
}

/* ---- decoding ----------------------------------------------------------- */

/* n <= max bytes into out; more makes r bad. */
static void get_counted(struct snap_reader *r, uint8_t *n, size_t max,
                        uint8_t *out)
{
    if (*n > max) {
        r->bad = true;
        *n = 0;
    }
    snap_get_bytes(r, out, *n);
}

/* The XSAVE area: a size upstream's Xsave can hold, all of it in the
 * section (allocated only then). */
static void decode_xsave(struct snap_reader *r, struct vcpu_snap *v)
{
    uint32_t n = snap_get_u32(r);

    if (r->bad)
        return; /* an earlier field: a bad layout */
    if (!vcpu_snap_xsave_size_ok(n) || n > r->len - r->off) {
        r->bad = true;
        r->why = "bad XSAVE area size";
        return;
    }
    v->xsave = xmalloc(n);
    v->xsave_size = n;
    snap_get_bytes(r, v->xsave, n);
}

static void decode_vcpu(struct snap_reader *r, struct vcpu_snap *v)
{
    get_fields(r, v, vcpu_fields, N_FIELDS(vcpu_fields));
    decode_xsave(r, v);
    get_fields(r, v, vcpu_fields_after_xsave,
               N_FIELDS(vcpu_fields_after_xsave));
    v->n_cpuid = snap_get_u32(r);
    if (r->bad || v->n_cpuid > VCPU_SNAP_MAX_CPUID) {
        r->bad = true;
        v->n_cpuid = 0;
        return;
    }
    v->cpuid = xcalloc(v->n_cpuid ? v->n_cpuid : 1, sizeof(v->cpuid[0]));
    snap_get_bytes(r, v->cpuid, v->n_cpuid * sizeof(v->cpuid[0]));
    v->n_msrs = snap_get_u32(r);
    if (r->bad || v->n_msrs > VCPU_SNAP_MAX_MSRS) {
        r->bad = true;
        v->n_msrs = 0;
        return;
    }
    v->msrs = xcalloc(v->n_msrs ? v->n_msrs : 1, sizeof(v->msrs[0]));
    for (uint32_t i = 0; i < v->n_msrs; i++) {
        v->msrs[i].index = snap_get_u32(r);
        v->msrs[i].data = snap_get_u64(r);
    }
}

static void decode_memory(struct snap_reader *r, struct microvm_state *s)
{
    s->n_regions = snap_get_u32(r);
    if (s->n_regions == 0 || s->n_regions > GUEST_MEM_MAX_REGIONS) {
        r->bad = true;
        s->n_regions = 0;
        return;
    }
    for (uint32_t i = 0; i < s->n_regions; i++)
        get_fields(r, &s->regions[i], region_fields, N_FIELDS(region_fields));
}

/* One VDEV section into the next free entry of s (counted even when the
 * payload is bad, so that what it owns is freed with the rest). */
static void decode_vdev(struct snap_reader *r, struct microvm_state *s)
{
    struct vdev_snap *d;
    struct virtio_mmio_state *t;
    uint32_t n;

    if (s->n_vdevs == SNAP_MAX_VDEVS) {
        r->bad = true;
        return;
    }
    if (!s->vdevs) {
        s->vdevs = xcalloc(SNAP_MAX_VDEVS, sizeof(*s->vdevs));
        s->vdev_configs = xcalloc(SNAP_MAX_VDEVS, sizeof(*s->vdev_configs));
    }
    d = &s->vdevs[s->n_vdevs];
    t = &d->transport;
    buf_init(&d->device);
    d->kind = snap_get_str(r);
    d->id = snap_get_str(r);
    d->addr = snap_get_u64(r);
    d->gsi = snap_get_u32(r);
    s->vdev_configs[s->n_vdevs] = snap_get_str(r);
    s->n_vdevs++;
    get_fields(r, t, transport_fields, N_FIELDS(transport_fields));
    if (t->n_queues > VIRTIO_MMIO_MAX_QUEUES) {
        r->bad = true;
        t->n_queues = 0;
    }
    for (uint32_t i = 0; i < t->n_queues; i++)
        get_fields(r, &t->queues[i], queue_fields, N_FIELDS(queue_fields));
    n = snap_get_u32(r);
    if (n > r->len - r->off) {
        r->bad = true;
        return;
    }
    buf_append(&d->device, r->p + r->off, n);
    r->off += n;
    if (!d->kind || !d->id || !s->vdev_configs[s->n_vdevs - 1])
        r->bad = true;
}

static void decode_acpi(struct snap_reader *r, struct acpi_devs_state *a)
{
    uint8_t page[VMCLOCK_ABI_SIZE];

    get_fields(r, &a->place, acpi_fields, N_FIELDS(acpi_fields));
    get_blob(r, page, sizeof(page));
    vmclock_abi_decode(page, &a->vmclock);
    a->present = true;
}

/* Which required sections were seen (bits by order in state.h). */
enum {
    SEEN_INFO = 1,
    SEEN_MEMORY = 2,
    SEEN_VM = 4,
    SEEN_SERIAL = 8,
    SEEN_I8042 = 16,
    SEEN_ALL = 31,
    SEEN_MMDS = 32,     /* optional */
    SEEN_ACPI = 64,     /* optional: older files have none */
    SEEN_PCI_ROOT = 128 /* optional */
};

static const char *tag_name(uint32_t tag, char out[5])
{
    for (int i = 0; i < 4; i++) {
        uint8_t c = (uint8_t)(tag >> (8 * i));

        out[i] = '?';
        if (c >= 0x20 && c < 0x7f)
            out[i] = (char)c;
    }
    out[4] = '\0';
    return out;
}

/* Decode one known section into s; returns the SEEN_ bit (0 for VCPU). */
static int decode_section(uint32_t tag, struct snap_reader *r,
                          struct microvm_state *s)
{
    struct machine_snap *m = &s->machine;

    switch (tag) {
    case SNAP_TAG_VM_INFO:
        get_fields(r, &s->info, info_fields, N_FIELDS(info_fields));
        return SEEN_INFO;
    case SNAP_TAG_MEMORY:
        decode_memory(r, s);
        return SEEN_MEMORY;
    case SNAP_TAG_KVM_VM:
        get_fields(r, &m->vm, vm_fields, N_FIELDS(vm_fields));
        return SEEN_VM;
    case SNAP_TAG_SERIAL:
        get_fields(r, &m->serial, serial_fields, N_FIELDS(serial_fields));
        get_counted(r, &m->serial.n_fifo, SERIAL_FIFO_SIZE, m->serial.fifo);
        return SEEN_SERIAL;
    case SNAP_TAG_I8042:
        get_fields(r, &m->i8042, i8042_fields, N_FIELDS(i8042_fields));
        get_counted(r, &m->i8042.n_buf, I8042_BUF_SIZE, m->i8042.buf);
        return SEEN_I8042;
    case SNAP_TAG_ACPI:
        decode_acpi(r, &m->acpi);
        return SEEN_ACPI;
    case SNAP_TAG_VDEV:
        decode_vdev(r, s);
        return 0;
    case SNAP_TAG_MMDS:
        if (!s->mmds)
            snap_mmds_decode(r, &s->mmds);
        return SEEN_MMDS;
    case SNAP_TAG_PCI_ROOT:
        snap_pci_decode_root(r, &s->pci);
        return SEEN_PCI_ROOT;
    case SNAP_TAG_PCI_DEV:
        snap_pci_decode_dev(r, &s->pci);
        return 0;
    default: /* VCPU */
        if (snap_get_u32(r) != m->n_vcpus || m->n_vcpus == MACHINE_MAX_VCPUS) {
            r->bad = true;
            return 0;
        }
        decode_vcpu(r, &m->vcpus[m->n_vcpus]);
        /* Counted even when bad: its arrays are freed with the rest. */
        m->n_vcpus++;
        return 0;
    }
}

static bool known(uint32_t tag)
{
    return tag == SNAP_TAG_VM_INFO || tag == SNAP_TAG_MEMORY ||
           tag == SNAP_TAG_KVM_VM || tag == SNAP_TAG_VCPU ||
           tag == SNAP_TAG_SERIAL || tag == SNAP_TAG_I8042 ||
           tag == SNAP_TAG_VDEV || tag == SNAP_TAG_MMDS ||
           tag == SNAP_TAG_ACPI || tag == SNAP_TAG_PCI_ROOT ||
           tag == SNAP_TAG_PCI_DEV;
}

int microvm_state_decode(const struct snap_file *f, struct microvm_state *out,
                         struct sq_err *err)
{
    struct snap_reader r;
    size_t off = 0;
    uint32_t tag;
    char name[5];
    int seen = 0;

    memset(out, 0, sizeof(*out));
    while (snap_next_section(f, &off, &tag, &r)) {
        int bit;

        if (!known(tag))
            continue; /* a section of a newer squib: not ours to restore */
        bit = decode_section(tag, &r, out);
        if ((seen & bit) || !snap_reader_done(&r)) {
            const char *why = (seen & bit) ? "repeated"
                              : r.why      ? r.why
                                           : "bad layout";

            microvm_state_fini(out);
            return sq_errf(err, -EBADMSG, SNAP_ERR_DECODE "%s section: %s",
                           tag_name(tag, name), why);
        }
        seen |= bit;
    }
    if ((seen & SEEN_ALL) != SEEN_ALL || out->machine.n_vcpus == 0 ||
        out->machine.n_vcpus != out->info.vcpu_count) {
        microvm_state_fini(out);
        return sq_errf(err, -EBADMSG,
                       SNAP_ERR_DECODE "required sections missing");
    }
    if (out->pci && (!(seen & SEEN_PCI_ROOT) || out->pci->n != out->n_vdevs)) {
        microvm_state_fini(out);
        return sq_errf(err, -EBADMSG,
                       SNAP_ERR_DECODE "PCI sections do not match the "
                                       "virtio devices");
    }
    return 0;
}

void microvm_state_fini(struct microvm_state *s)
{
    if (!s)
        return;
    machine_snap_fini(&s->machine);
    for (size_t i = 0; s->vdev_configs && i < s->n_vdevs; i++)
        free(s->vdev_configs[i]);
    free(s->vdev_configs);
    s->vdev_configs = NULL;
    vdev_snap_free(s->vdevs, s->n_vdevs);
    s->vdevs = NULL;
    s->n_vdevs = 0;
    snap_mmds_free(s->mmds);
    s->mmds = NULL;
    pci_snap_free(s->pci);
    s->pci = NULL;
}

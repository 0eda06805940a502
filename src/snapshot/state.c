/*
 * state.c: struct microvm_state <-> sections (state.h).
 *
 * KVM's structures go in as their uapi bytes, each behind its u32 size,
 * which the decoder checks against sizeof: a kernel header with a different
 * layout makes the file undecodable rather than silently wrong.
 */
#include "snapshot/state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* ---- encoding ----------------------------------------------------------- */

static void put_blob(struct snap_writer *w, const void *p, size_t n)
{
    snap_put_u32(w, (uint32_t)n);
    snap_put_bytes(w, p, n);
}

static void encode_vcpu(struct snap_writer *w, uint32_t index,
                        const struct vcpu_snap *v)
{
    snap_section_begin(w, SNAP_TAG_VCPU);
    snap_put_u32(w, index);
    put_blob(w, &v->mp_state, sizeof(v->mp_state));
    put_blob(w, &v->regs, sizeof(v->regs));
    put_blob(w, &v->sregs, sizeof(v->sregs));
    put_blob(w, &v->xsave, sizeof(v->xsave));
    put_blob(w, &v->xcrs, sizeof(v->xcrs));
    put_blob(w, &v->debugregs, sizeof(v->debugregs));
    put_blob(w, &v->lapic, sizeof(v->lapic));
    put_blob(w, &v->events, sizeof(v->events));
    snap_put_u32(w, v->tsc_khz);
    snap_put_u32(w, v->n_cpuid);
    snap_put_bytes(w, v->cpuid, v->n_cpuid * sizeof(v->cpuid[0]));
    snap_put_u32(w, v->n_msrs);
    for (uint32_t i = 0; i < v->n_msrs; i++) {
        snap_put_u32(w, v->msrs[i].index);
        snap_put_u64(w, v->msrs[i].data);
    }
    snap_section_end(w);
}

void microvm_state_encode(const struct microvm_state *s, struct snap_writer *w)
{
    const struct machine_snap *m = &s->machine;

    snap_section_begin(w, SNAP_TAG_VM_INFO);
    snap_put_u32(w, s->info.vcpu_count);
    snap_put_u64(w, s->info.mem_size_mib);
    snap_put_u8(w, s->info.smt);
    snap_put_u8(w, s->info.huge_pages);
    snap_put_u8(w, s->info.cpu_template);
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_MEMORY);
    snap_put_u32(w, s->n_regions);
    for (uint32_t i = 0; i < s->n_regions; i++) {
        snap_put_u64(w, s->regions[i].gpa);
        snap_put_u64(w, s->regions[i].size);
    }
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_KVM_VM);
    put_blob(w, &m->vm.clock, sizeof(m->vm.clock));
    put_blob(w, &m->vm.pit, sizeof(m->vm.pit));
    put_blob(w, &m->vm.pic_master, sizeof(m->vm.pic_master));
    put_blob(w, &m->vm.pic_slave, sizeof(m->vm.pic_slave));
    put_blob(w, &m->vm.ioapic, sizeof(m->vm.ioapic));
    snap_section_end(w);

    for (uint32_t i = 0; i < m->n_vcpus; i++)
        encode_vcpu(w, i, &m->vcpus[i]);

    snap_section_begin(w, SNAP_TAG_SERIAL);
    snap_put_u8(w, m->serial.ier);
    snap_put_u8(w, m->serial.iir);
    snap_put_u8(w, m->serial.lcr);
    snap_put_u8(w, m->serial.mcr);
    snap_put_u8(w, m->serial.lsr);
    snap_put_u8(w, m->serial.msr);
    snap_put_u8(w, m->serial.scr);
    snap_put_u8(w, m->serial.dll);
    snap_put_u8(w, m->serial.dlm);
    snap_put_u8(w, m->serial.n_fifo);
    snap_put_bytes(w, m->serial.fifo, m->serial.n_fifo);
    snap_section_end(w);

    snap_section_begin(w, SNAP_TAG_I8042);
    snap_put_u8(w, m->i8042.status);
    snap_put_u8(w, m->i8042.control);
    snap_put_u8(w, m->i8042.outp);
    snap_put_u8(w, m->i8042.cmd);
    snap_put_u8(w, m->i8042.n_buf);
    snap_put_bytes(w, m->i8042.buf, m->i8042.n_buf);
    snap_section_end(w);
}

/* ---- decoding ----------------------------------------------------------- */

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

static void decode_vcpu(struct snap_reader *r, struct vcpu_snap *v)
{
    get_blob(r, &v->mp_state, sizeof(v->mp_state));
    get_blob(r, &v->regs, sizeof(v->regs));
    get_blob(r, &v->sregs, sizeof(v->sregs));
    get_blob(r, &v->xsave, sizeof(v->xsave));
    get_blob(r, &v->xcrs, sizeof(v->xcrs));
    get_blob(r, &v->debugregs, sizeof(v->debugregs));
    get_blob(r, &v->lapic, sizeof(v->lapic));
    get_blob(r, &v->events, sizeof(v->events));
    v->tsc_khz = snap_get_u32(r);
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

static void decode_info(struct snap_reader *r, struct snap_vm_info *i)
{
    i->vcpu_count = snap_get_u32(r);
    i->mem_size_mib = snap_get_u64(r);
    i->smt = snap_get_u8(r) != 0;
    i->huge_pages = snap_get_u8(r);
    i->cpu_template = snap_get_u8(r);
}

static void decode_memory(struct snap_reader *r, struct microvm_state *s)
{
    s->n_regions = snap_get_u32(r);
    if (s->n_regions == 0 || s->n_regions > GUEST_MEM_MAX_REGIONS) {
        r->bad = true;
        s->n_regions = 0;
        return;
    }
    for (uint32_t i = 0; i < s->n_regions; i++) {
        s->regions[i].gpa = snap_get_u64(r);
        s->regions[i].size = snap_get_u64(r);
    }
}

static void decode_vm(struct snap_reader *r, struct vm_snap *vm)
{
    get_blob(r, &vm->clock, sizeof(vm->clock));
    get_blob(r, &vm->pit, sizeof(vm->pit));
    get_blob(r, &vm->pic_master, sizeof(vm->pic_master));
    get_blob(r, &vm->pic_slave, sizeof(vm->pic_slave));
    get_blob(r, &vm->ioapic, sizeof(vm->ioapic));
}

static void decode_serial(struct snap_reader *r, struct serial_state *st)
{
    st->ier = snap_get_u8(r);
    st->iir = snap_get_u8(r);
    st->lcr = snap_get_u8(r);
    st->mcr = snap_get_u8(r);
    st->lsr = snap_get_u8(r);
    st->msr = snap_get_u8(r);
    st->scr = snap_get_u8(r);
    st->dll = snap_get_u8(r);
    st->dlm = snap_get_u8(r);
    st->n_fifo = snap_get_u8(r);
    if (st->n_fifo > SERIAL_FIFO_SIZE) {
        r->bad = true;
        st->n_fifo = 0;
    }
    snap_get_bytes(r, st->fifo, st->n_fifo);
}

static void decode_i8042(struct snap_reader *r, struct i8042_state *st)
{
    st->status = snap_get_u8(r);
    st->control = snap_get_u8(r);
    st->outp = snap_get_u8(r);
    st->cmd = snap_get_u8(r);
    st->n_buf = snap_get_u8(r);
    if (st->n_buf > I8042_BUF_SIZE) {
        r->bad = true;
        st->n_buf = 0;
    }
    snap_get_bytes(r, st->buf, st->n_buf);
}

/* Which required sections were seen (bits by order in state.h). */
enum {
    SEEN_INFO = 1,
    SEEN_MEMORY = 2,
    SEEN_VM = 4,
    SEEN_SERIAL = 8,
    SEEN_I8042 = 16,
    SEEN_ALL = 31
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
        decode_info(r, &s->info);
        return SEEN_INFO;
    case SNAP_TAG_MEMORY:
        decode_memory(r, s);
        return SEEN_MEMORY;
    case SNAP_TAG_KVM_VM:
        decode_vm(r, &m->vm);
        return SEEN_VM;
    case SNAP_TAG_SERIAL:
        decode_serial(r, &m->serial);
        return SEEN_SERIAL;
    case SNAP_TAG_I8042:
        decode_i8042(r, &m->i8042);
        return SEEN_I8042;
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
           tag == SNAP_TAG_SERIAL || tag == SNAP_TAG_I8042;
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
            microvm_state_fini(out);
            return sq_errf(err, -EBADMSG, SNAP_ERR_DECODE "%s section: %s",
                           tag_name(tag, name),
                           (seen & bit) ? "repeated" : "bad layout");
        }
        seen |= bit;
    }
    if (seen != SEEN_ALL || out->machine.n_vcpus == 0 ||
        out->machine.n_vcpus != out->info.vcpu_count) {
        microvm_state_fini(out);
        return sq_errf(err, -EBADMSG,
                       SNAP_ERR_DECODE "required sections missing");
    }
    return 0;
}

void microvm_state_fini(struct microvm_state *s)
{
    if (s)
        machine_snap_fini(&s->machine);
}

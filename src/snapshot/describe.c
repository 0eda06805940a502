/*
 * describe.c: a state file printed for people (describe.h).
 *
 * The printer writes Rust's pretty Debug layout: "Name {" opens a level,
 * each field is "name: value," one per line, four spaces per level, and
 * "}," closes it. It is small on purpose: a field is one call.
 */
#include "snapshot/describe.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pretty {
    struct buf *b;
    int depth;
};

static void indent(struct pretty *p)
{
    for (int i = 0; i < p->depth; i++)
        buf_puts(p->b, "    ");
}

/* "name: Type {" (name NULL: a list item or the top). */
static void open_struct(struct pretty *p, const char *name, const char *type)
{
    indent(p);
    if (name)
        buf_printf(p->b, "%s: ", name);
    buf_printf(p->b, "%s {\n", type);
    p->depth++;
}

/* "name: [" */
static void open_list(struct pretty *p, const char *name)
{
    indent(p);
    buf_printf(p->b, "%s: [\n", name);
    p->depth++;
}

static void close_level(struct pretty *p, char bracket)
{
    p->depth--;
    indent(p);
    buf_putc(p->b, bracket);
    buf_puts(p->b, p->depth ? ",\n" : "\n");
}

__attribute__((format(printf, 3, 4))) static void
field(struct pretty *p, const char *name, const char *fmt, ...)
{
    va_list ap;

    indent(p);
    buf_printf(p->b, "%s: ", name);
    va_start(ap, fmt);
    buf_vprintf(p->b, fmt, ap);
    va_end(ap);
    buf_puts(p->b, ",\n");
}

static void u64_dec(struct pretty *p, const char *name, uint64_t v)
{
    field(p, name, "%" PRIu64, v);
}

static void u64_hex(struct pretty *p, const char *name, uint64_t v)
{
    field(p, name, "0x%" PRIx64, v);
}

static void boolean(struct pretty *p, const char *name, bool v)
{
    field(p, name, "%s", v ? "true" : "false");
}

/* A byte area as rows of 32 hex digits pairs, offsets on the left. */
static void bytes(struct pretty *p, const char *name, const void *data,
                  size_t n)
{
    const uint8_t *b = data;

    if (n == 0) {
        field(p, name, "[]");
        return;
    }
    open_list(p, name);
    for (size_t off = 0; off < n; off += 32) {
        indent(p);
        buf_printf(p->b, "0x%04zx: ", off);
        for (size_t i = off; i < n && i < off + 32; i++)
            buf_printf(p->b, "%02x", b[i]);
        buf_puts(p->b, ",\n");
    }
    close_level(p, ']');
}

/* ---- KVM structures ----------------------------------------------------- */

static void segment(struct pretty *p, const char *name,
                    const struct kvm_segment *s)
{
    open_struct(p, name, "kvm_segment");
    u64_hex(p, "base", s->base);
    u64_hex(p, "limit", s->limit);
    u64_hex(p, "selector", s->selector);
    u64_dec(p, "type", s->type);
    u64_dec(p, "present", s->present);
    u64_dec(p, "dpl", s->dpl);
    u64_dec(p, "db", s->db);
    u64_dec(p, "s", s->s);
    u64_dec(p, "l", s->l);
    u64_dec(p, "g", s->g);
    u64_dec(p, "avl", s->avl);
    u64_dec(p, "unusable", s->unusable);
    close_level(p, '}');
}

static void dtable(struct pretty *p, const char *name,
                   const struct kvm_dtable *t)
{
    open_struct(p, name, "kvm_dtable");
    u64_hex(p, "base", t->base);
    u64_hex(p, "limit", t->limit);
    close_level(p, '}');
}

static void regs(struct pretty *p, const struct kvm_regs *r)
{
    open_struct(p, "regs", "kvm_regs");
    u64_hex(p, "rax", r->rax);
    u64_hex(p, "rbx", r->rbx);
    u64_hex(p, "rcx", r->rcx);
    u64_hex(p, "rdx", r->rdx);
    u64_hex(p, "rsi", r->rsi);
    u64_hex(p, "rdi", r->rdi);
    u64_hex(p, "rsp", r->rsp);
    u64_hex(p, "rbp", r->rbp);
    u64_hex(p, "r8", r->r8);
    u64_hex(p, "r9", r->r9);
    u64_hex(p, "r10", r->r10);
    u64_hex(p, "r11", r->r11);
    u64_hex(p, "r12", r->r12);
    u64_hex(p, "r13", r->r13);
    u64_hex(p, "r14", r->r14);
    u64_hex(p, "r15", r->r15);
    u64_hex(p, "rip", r->rip);
    u64_hex(p, "rflags", r->rflags);
    close_level(p, '}');
}

static void sregs(struct pretty *p, const struct kvm_sregs *s)
{
    open_struct(p, "sregs", "kvm_sregs");
    segment(p, "cs", &s->cs);
    segment(p, "ds", &s->ds);
    segment(p, "es", &s->es);
    segment(p, "fs", &s->fs);
    segment(p, "gs", &s->gs);
    segment(p, "ss", &s->ss);
    segment(p, "tr", &s->tr);
    segment(p, "ldt", &s->ldt);
    dtable(p, "gdt", &s->gdt);
    dtable(p, "idt", &s->idt);
    u64_hex(p, "cr0", s->cr0);
    u64_hex(p, "cr2", s->cr2);
    u64_hex(p, "cr3", s->cr3);
    u64_hex(p, "cr4", s->cr4);
    u64_hex(p, "cr8", s->cr8);
    u64_hex(p, "efer", s->efer);
    u64_hex(p, "apic_base", s->apic_base);
    bytes(p, "interrupt_bitmap", s->interrupt_bitmap,
          sizeof(s->interrupt_bitmap));
    close_level(p, '}');
}

static void events(struct pretty *p, const struct kvm_vcpu_events *e)
{
    open_struct(p, "vcpu_events", "kvm_vcpu_events");
    boolean(p, "exception.injected", e->exception.injected);
    u64_dec(p, "exception.nr", e->exception.nr);
    boolean(p, "exception.has_error_code", e->exception.has_error_code);
    u64_hex(p, "exception.error_code", e->exception.error_code);
    boolean(p, "interrupt.injected", e->interrupt.injected);
    u64_dec(p, "interrupt.nr", e->interrupt.nr);
    u64_dec(p, "interrupt.shadow", e->interrupt.shadow);
    boolean(p, "nmi.injected", e->nmi.injected);
    boolean(p, "nmi.pending", e->nmi.pending);
    boolean(p, "nmi.masked", e->nmi.masked);
    u64_dec(p, "sipi_vector", e->sipi_vector);
    u64_hex(p, "flags", e->flags);
    boolean(p, "smi.smm", e->smi.smm);
    boolean(p, "smi.pending", e->smi.pending);
    close_level(p, '}');
}

static void vcpu(struct pretty *p, const struct vcpu_snap *v)
{
    open_struct(p, NULL, "VcpuState");
    open_list(p, "cpuid");
    for (uint32_t i = 0; i < v->n_cpuid; i++) {
        const struct kvm_cpuid_entry2 *c = &v->cpuid[i];

        open_struct(p, NULL, "kvm_cpuid_entry2");
        u64_hex(p, "function", c->function);
        u64_hex(p, "index", c->index);
        u64_hex(p, "flags", c->flags);
        u64_hex(p, "eax", c->eax);
        u64_hex(p, "ebx", c->ebx);
        u64_hex(p, "ecx", c->ecx);
        u64_hex(p, "edx", c->edx);
        close_level(p, '}');
    }
    close_level(p, ']');
    open_list(p, "saved_msrs");
    for (uint32_t i = 0; i < v->n_msrs; i++) {
        indent(p);
        buf_printf(p->b, "0x%08" PRIx32 ": 0x%" PRIx64 ",\n", v->msrs[i].index,
                   v->msrs[i].data);
    }
    close_level(p, ']');
    open_struct(p, "debug_regs", "kvm_debugregs");
    for (unsigned i = 0; i < 4; i++) {
        char name[16];

        snprintf(name, sizeof(name), "db%u", i);
        u64_hex(p, name, v->debugregs.db[i]);
    }
    u64_hex(p, "dr6", v->debugregs.dr6);
    u64_hex(p, "dr7", v->debugregs.dr7);
    u64_hex(p, "flags", v->debugregs.flags);
    close_level(p, '}');
    bytes(p, "lapic", v->lapic.regs, sizeof(v->lapic.regs));
    u64_dec(p, "mp_state", v->mp_state.mp_state);
    regs(p, &v->regs);
    sregs(p, &v->sregs);
    events(p, &v->events);
    open_struct(p, "xcrs", "kvm_xcrs");
    u64_dec(p, "nr_xcrs", v->xcrs.nr_xcrs);
    for (uint32_t i = 0; i < v->xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
        char name[24];

        snprintf(name, sizeof(name), "xcr[%" PRIu32 "]", v->xcrs.xcrs[i].xcr);
        u64_hex(p, name, v->xcrs.xcrs[i].value);
    }
    close_level(p, '}');
    bytes(p, "xsave", v->xsave, v->xsave_size);
    if (v->tsc_khz)
        field(p, "tsc_khz", "Some(%" PRIu32 ")", v->tsc_khz);
    else
        field(p, "tsc_khz", "None");
    close_level(p, '}');
}

/* ---- the machine -------------------------------------------------------- */

static void vm_info(struct pretty *p, const struct snap_vm_info *i)
{
    open_struct(p, "vm_info", "VmInfo");
    u64_dec(p, "vcpu_count", i->vcpu_count);
    u64_dec(p, "mem_size_mib", i->mem_size_mib);
    boolean(p, "smt", i->smt);
    u64_dec(p, "huge_pages", i->huge_pages);
    u64_dec(p, "cpu_template", i->cpu_template);
    close_level(p, '}');
}

static void kvm_vm(struct pretty *p, const struct vm_snap *v)
{
    open_struct(p, "vm_state", "VmState");
    open_struct(p, "clock", "kvm_clock_data");
    u64_dec(p, "clock", v->clock.clock);
    u64_hex(p, "flags", v->clock.flags);
    u64_dec(p, "realtime", v->clock.realtime);
    u64_dec(p, "host_tsc", v->clock.host_tsc);
    close_level(p, '}');
    open_struct(p, "pit", "kvm_pit_state2");
    for (unsigned i = 0; i < 3; i++) {
        const struct kvm_pit_channel_state *c = &v->pit.channels[i];
        char name[24];

        snprintf(name, sizeof(name), "channels[%u]", i);
        open_struct(p, name, "kvm_pit_channel_state");
        u64_dec(p, "count", c->count);
        u64_dec(p, "mode", c->mode);
        u64_dec(p, "gate", c->gate);
        u64_dec(p, "status", c->status);
        close_level(p, '}');
    }
    u64_hex(p, "flags", v->pit.flags);
    close_level(p, '}');
    bytes(p, "pic_master", &v->pic_master.chip.pic,
          sizeof(v->pic_master.chip.pic));
    bytes(p, "pic_slave", &v->pic_slave.chip.pic,
          sizeof(v->pic_slave.chip.pic));
    bytes(p, "ioapic", &v->ioapic.chip.ioapic, sizeof(v->ioapic.chip.ioapic));
    close_level(p, '}');
}

static void legacy(struct pretty *p, const struct machine_snap *m)
{
    const struct serial_state *s = &m->serial;
    const struct i8042_state *k = &m->i8042;

    open_struct(p, "serial", "SerialState");
    u64_hex(p, "ier", s->ier);
    u64_hex(p, "iir", s->iir);
    u64_hex(p, "lcr", s->lcr);
    u64_hex(p, "mcr", s->mcr);
    u64_hex(p, "lsr", s->lsr);
    u64_hex(p, "msr", s->msr);
    u64_hex(p, "scr", s->scr);
    u64_hex(p, "dll", s->dll);
    u64_hex(p, "dlm", s->dlm);
    bytes(p, "fifo", s->fifo, s->n_fifo);
    close_level(p, '}');
    open_struct(p, "i8042", "I8042State");
    u64_hex(p, "status", k->status);
    u64_hex(p, "control", k->control);
    u64_hex(p, "outp", k->outp);
    u64_hex(p, "cmd", k->cmd);
    bytes(p, "buf", k->buf, k->n_buf);
    close_level(p, '}');
}

static void vdev(struct pretty *p, const struct vdev_snap *d,
                 const char *config)
{
    const struct virtio_mmio_state *t = &d->transport;

    open_struct(p, NULL, "VirtioDeviceState");
    field(p, "kind", "%s", d->kind);
    field(p, "id", "%s", d->id);
    u64_hex(p, "mmio_addr", d->addr);
    u64_dec(p, "gsi", d->gsi);
    field(p, "config", "%s", config);
    open_struct(p, "transport", "MmioTransportState");
    u64_hex(p, "acked_features", t->acked_features);
    u64_dec(p, "features_select", t->features_select);
    u64_dec(p, "acked_features_select", t->acked_features_select);
    u64_dec(p, "queue_select", t->queue_select);
    u64_hex(p, "device_status", t->status);
    u64_dec(p, "config_generation", t->config_generation);
    u64_hex(p, "interrupt_status", t->irq_status);
    boolean(p, "activated", t->activated);
    open_list(p, "queues");
    for (uint32_t i = 0; i < t->n_queues; i++) {
        const struct virtio_mmio_queue_state *qs = &t->queues[i];

        open_struct(p, NULL, "QueueState");
        u64_dec(p, "size", qs->size);
        boolean(p, "ready", qs->ready);
        u64_hex(p, "desc_table", qs->desc_addr);
        u64_hex(p, "avail_ring", qs->avail_addr);
        u64_hex(p, "used_ring", qs->used_addr);
        u64_dec(p, "next_avail", qs->next_avail);
        u64_dec(p, "next_used", qs->next_used);
        close_level(p, '}');
    }
    close_level(p, ']');
    close_level(p, '}');
    bytes(p, "device_state", d->device.data, d->device.len);
    close_level(p, '}');
}

/* The guest-writable registers of a configuration space. */
static void pci_config(struct pretty *p, const char *name,
                       const struct pci_config_state *c)
{
    open_struct(p, name, "PciConfigurationState");
    u64_hex(p, "bar_sizing", c->bar_sizing);
    open_list(p, "registers");
    for (uint32_t i = 0; i < c->n_regs; i++) {
        indent(p);
        buf_printf(p->b, "(0x%x, 0x%x),\n", (unsigned)c->regs[i].reg,
                   (unsigned)c->regs[i].value);
    }
    close_level(p, ']');
    close_level(p, '}');
}

static void pci_dev(struct pretty *p, const struct pci_dev_snap *d)
{
    const struct virtio_pci_state *t = &d->transport;

    open_struct(p, NULL, "VirtioPciDeviceState");
    field(p, "kind", "%s", d->kind);
    field(p, "id", "%s", d->id);
    field(p, "sbdf", "%04x:%02x:%02x.%u", d->segment, d->bus, d->dev,
          (unsigned)d->fn);
    u64_hex(p, "bar_address", t->bar_addr);
    if (t->has_cfg_cap) { /* PCID layout 2 */
        u64_hex(p, "cap_pci_cfg_offset", t->cfg_cap_off);
        bytes(p, "cap_pci_cfg", t->cfg_cap, sizeof(t->cfg_cap));
    }
    pci_config(p, "pci_configuration_state", &t->config);
    u64_hex(p, "msix_config", t->config_vector);
    open_list(p, "msix_queues");
    for (uint32_t q = 0; q < t->n_queues; q++) {
        indent(p);
        buf_printf(p->b, "(0x%x, last_used: %u),\n",
                   (unsigned)t->queue_vector[q], (unsigned)t->last_used[q]);
    }
    close_level(p, ']');
    u64_dec(p, "first_gsi", t->first_gsi);
    open_list(p, "msix_table");
    for (uint16_t v = 0; v < t->n_vectors; v++) {
        indent(p);
        buf_printf(p->b, "(0x%x, 0x%x, 0x%x, 0x%x),\n",
                   (unsigned)t->vec[v].addr_lo, (unsigned)t->vec[v].addr_hi,
                   (unsigned)t->vec[v].data, (unsigned)t->vec[v].ctrl);
    }
    close_level(p, ']');
    u64_hex(p, "pba", t->pba[0]);
    close_level(p, '}');
}

/* A PCI-mode machine's root bus and transports (state_pci.h). */
static void pci(struct pretty *p, const struct pci_snap *s)
{
    open_struct(p, "pci_state", "PciDevicesState");
    u64_hex(p, "config_address", s->root.config_address);
    pci_config(p, "host_bridge", &s->root.host);
    open_list(p, "virtio_devices");
    for (size_t i = 0; i < s->n; i++)
        pci_dev(p, &s->devs[i]);
    close_level(p, ']');
    close_level(p, '}');
}

/* ---- the interface ------------------------------------------------------ */

int snap_describe_open(const char *path, struct snap_described *out,
                       enum snap_error *kind, struct sq_err *err)
{
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = snap_file_read(path, &out->raw, &len, kind, err);
    if (rc < 0)
        return rc;
    rc = snap_file_parse(out->raw, len, &out->file, kind, err);
    if (rc == 0) {
        rc = microvm_state_decode(&out->file, &out->state, err);
        if (rc < 0)
            *kind = SNAP_E_DECODE;
    }
    if (rc < 0) {
        free(out->raw);
        out->raw = NULL;
    }
    return rc;
}

void snap_describe_fini(struct snap_described *d)
{
    if (!d || !d->raw)
        return;
    microvm_state_fini(&d->state);
    free(d->raw);
    d->raw = NULL;
}

void snap_describe_version(const struct snap_described *d, struct buf *out)
{
    buf_printf(out, "v%" PRIu32 ".%" PRIu32 ".%" PRIu32 "\n",
               d->file.version.major, d->file.version.minor,
               d->file.version.patch);
}

void snap_describe_vcpus(const struct snap_described *d, struct buf *out)
{
    struct pretty p = {out, 0};

    for (uint32_t i = 0; i < d->state.machine.n_vcpus; i++) {
        buf_printf(out, "vcpu %" PRIu32 ":\n", i);
        vcpu(&p, &d->state.machine.vcpus[i]);
    }
}

void snap_describe_vm(const struct snap_described *d, struct buf *out)
{
    const struct microvm_state *s = &d->state;
    struct pretty p = {out, 0};

    open_struct(&p, NULL, "MicrovmState");
    vm_info(&p, &s->info);
    open_list(&p, "memory_regions");
    for (uint32_t i = 0; i < s->n_regions; i++) {
        open_struct(&p, NULL, "GuestMemoryRegionState");
        u64_hex(&p, "base_address", s->regions[i].gpa);
        u64_hex(&p, "size", s->regions[i].size);
        close_level(&p, '}');
    }
    close_level(&p, ']');
    kvm_vm(&p, &s->machine.vm);
    open_list(&p, "vcpu_states");
    for (uint32_t i = 0; i < s->machine.n_vcpus; i++)
        vcpu(&p, &s->machine.vcpus[i]);
    close_level(&p, ']');
    legacy(&p, &s->machine);
    open_list(&p, "virtio_devices");
    for (size_t i = 0; i < s->n_vdevs; i++)
        vdev(&p, &s->vdevs[i], s->vdev_configs[i]);
    close_level(&p, ']');
    if (s->pci)
        pci(&p, s->pci);
    close_level(&p, '}');
}

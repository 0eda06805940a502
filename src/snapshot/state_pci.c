/*
 * state_pci.c: the PCIR and PCID sections (state_pci.h).
 */
#include "snapshot/state_pci.h"

#include "util/xalloc.h"

static void put_config(struct snap_writer *w, const struct pci_config_state *c)
{
    snap_put_u8(w, c->bar_sizing);
    snap_put_u32(w, c->n_regs);
    for (uint32_t i = 0; i < c->n_regs; i++) {
        snap_put_u16(w, c->regs[i].reg);
        snap_put_u32(w, c->regs[i].value);
    }
}

static void get_config(struct snap_reader *r, struct pci_config_state *c)
{
    c->bar_sizing = snap_get_u8(r);
    c->n_regs = snap_get_u32(r);
    if (c->n_regs > PCI_SNAP_MAX_REGS) {
        r->bad = true;
        c->n_regs = 0;
    }
    for (uint32_t i = 0; i < c->n_regs; i++) {
        c->regs[i].reg = snap_get_u16(r);
        c->regs[i].value = snap_get_u32(r);
    }
}

static void put_transport(struct snap_writer *w,
                          const struct virtio_pci_state *t)
{
    snap_put_u64(w, t->bar_addr);
    put_config(w, &t->config);
    snap_put_u16(w, t->config_vector);
    snap_put_u32(w, t->n_queues);
    for (uint32_t q = 0; q < t->n_queues; q++) {
        snap_put_u16(w, t->queue_vector[q]);
        snap_put_u16(w, t->last_used[q]);
    }
    snap_put_u16(w, t->n_vectors);
    snap_put_u32(w, t->first_gsi);
    for (uint16_t v = 0; v < t->n_vectors; v++) {
        snap_put_u32(w, t->vec[v].addr_lo);
        snap_put_u32(w, t->vec[v].addr_hi);
        snap_put_u32(w, t->vec[v].data);
        snap_put_u32(w, t->vec[v].ctrl);
    }
    snap_put_u32(w, (uint32_t)((t->n_vectors + 63u) / 64u));
    for (uint32_t i = 0; i < (t->n_vectors + 63u) / 64u; i++)
        snap_put_u64(w, t->pba[i]);
    /* Layout 2: the window. A state without one (decoded from a layout 1
     * section) is written in layout 1 again. */
    if (!t->has_cfg_cap)
        return;
    snap_put_u16(w, t->cfg_cap_off);
    snap_put_u32(w, VIRTIO_PCI_CFG_CAP_LEN);
    snap_put_bytes(w, t->cfg_cap, VIRTIO_PCI_CFG_CAP_LEN);
}

static void get_transport(struct snap_reader *r, struct virtio_pci_state *t,
                          uint32_t layout)
{
    uint32_t n_pba;

    t->bar_addr = snap_get_u64(r);
    get_config(r, &t->config);
    t->config_vector = snap_get_u16(r);
    t->n_queues = snap_get_u32(r);
    if (t->n_queues > VIRTIO_MMIO_MAX_QUEUES) {
        r->bad = true;
        t->n_queues = 0;
    }
    for (uint32_t q = 0; q < t->n_queues; q++) {
        t->queue_vector[q] = snap_get_u16(r);
        t->last_used[q] = snap_get_u16(r);
    }
    t->n_vectors = snap_get_u16(r);
    t->first_gsi = snap_get_u32(r);
    if (t->n_vectors > MSIX_MAX_VECTORS) {
        r->bad = true;
        t->n_vectors = 0;
    }
    for (uint16_t v = 0; v < t->n_vectors; v++) {
        t->vec[v].addr_lo = snap_get_u32(r);
        t->vec[v].addr_hi = snap_get_u32(r);
        t->vec[v].data = snap_get_u32(r);
        t->vec[v].ctrl = snap_get_u32(r);
    }
    n_pba = snap_get_u32(r);
    if (n_pba != (t->n_vectors + 63u) / 64u) {
        r->bad = true;
        return;
    }
    for (uint32_t i = 0; i < n_pba; i++)
        t->pba[i] = snap_get_u64(r);
    if (layout < 2)
        return;
    t->has_cfg_cap = true;
    t->cfg_cap_off = snap_get_u16(r);
    if (snap_get_u32(r) != VIRTIO_PCI_CFG_CAP_LEN) {
        r->bad = true;
        return;
    }
    snap_get_bytes(r, t->cfg_cap, VIRTIO_PCI_CFG_CAP_LEN);
}

void snap_pci_encode(const struct pci_snap *s, struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_PCI_ROOT);
    snap_put_u32(w, SNAP_PCI_ROOT_LAYOUT);
    snap_put_u32(w, s->root.config_address);
    put_config(w, &s->root.host);
    snap_section_end(w);
    for (size_t i = 0; i < s->n; i++) {
        const struct pci_dev_snap *d = &s->devs[i];

        snap_section_begin(w, SNAP_TAG_PCI_DEV);
        snap_put_u32(w, d->transport.has_cfg_cap ? SNAP_PCI_DEV_LAYOUT : 1u);
        snap_put_str(w, d->kind);
        snap_put_str(w, d->id);
        snap_put_u16(w, d->segment);
        snap_put_u8(w, d->bus);
        snap_put_u8(w, d->dev);
        snap_put_u8(w, d->fn);
        put_transport(w, &d->transport);
        snap_section_end(w);
    }
}

static struct pci_snap *snap_of(struct pci_snap **out)
{
    if (!*out) {
        *out = xcalloc(1, sizeof(**out));
        (*out)->devs = xcalloc(SNAP_PCI_MAX_DEVS, sizeof(*(*out)->devs));
    }
    return *out;
}

void snap_pci_decode_root(struct snap_reader *r, struct pci_snap **out)
{
    struct pci_snap *s = snap_of(out);

    if (snap_get_u32(r) != SNAP_PCI_ROOT_LAYOUT) {
        r->bad = true;
        return;
    }
    s->root.config_address = snap_get_u32(r);
    get_config(r, &s->root.host);
}

void snap_pci_decode_dev(struct snap_reader *r, struct pci_snap **out)
{
    struct pci_snap *s = snap_of(out);
    struct pci_dev_snap *d;
    uint32_t layout;

    if (s->n == SNAP_PCI_MAX_DEVS) {
        r->bad = true;
        return;
    }
    layout = snap_get_u32(r);
    if (layout != 1 && layout != SNAP_PCI_DEV_LAYOUT) {
        r->bad = true;
        return;
    }
    d = &s->devs[s->n++];
    d->kind = snap_get_str(r);
    d->id = snap_get_str(r);
    d->segment = snap_get_u16(r);
    d->bus = snap_get_u8(r);
    d->dev = snap_get_u8(r);
    d->fn = snap_get_u8(r);
    get_transport(r, &d->transport, layout);
    if (!d->kind || !d->id)
        r->bad = true;
}

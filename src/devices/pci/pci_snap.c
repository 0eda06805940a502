/*
 * pci_snap.c: the root bus's and the virtio-pci transport's state out and
 * back in (pci_snap.h).
 */
#include "devices/pci/pci_snap.h"

#include <errno.h>
#include <string.h>

/* ---- configuration space ------------------------------------------------ */

static void config_save(const struct pci_config *c, struct pci_config_state *s)
{
    memset(s, 0, sizeof(*s));
    s->bar_sizing = c->bar_sizing;
    for (uint32_t reg = 0; reg < PCI_CONFIG_REGS; reg++) {
        if (!c->wmask[reg] || s->n_regs == PCI_SNAP_MAX_REGS)
            continue;
        s->regs[s->n_regs].reg = (uint16_t)reg;
        s->regs[s->n_regs].value = c->regs[reg];
        s->n_regs++;
    }
}

/* The bar_sizing bits a configuration space can have: its used BAR
 * registers (a 64-bit BAR's two). */
static uint8_t sizing_bits(const struct pci_config *c)
{
    uint8_t bits = 0;

    for (unsigned i = 0; i < PCI_CONFIG_N_BARS; i++)
        if (c->bars[i].size)
            bits |= (uint8_t)(3u << i);
    return (uint8_t)(bits & ((1u << PCI_CONFIG_N_BARS) - 1));
}

static int config_check(const struct pci_config *c,
                        const struct pci_config_state *s)
{
    if (s->n_regs > PCI_SNAP_MAX_REGS || (s->bar_sizing & ~sizing_bits(c)))
        return -EINVAL;
    for (uint32_t i = 0; i < s->n_regs; i++)
        if (s->regs[i].reg >= PCI_CONFIG_REGS || !c->wmask[s->regs[i].reg])
            return -EINVAL;
    return 0;
}

/* After config_check: each register through its write mask. */
static void config_apply(struct pci_config *c, const struct pci_config_state *s)
{
    c->bar_sizing = s->bar_sizing;
    for (uint32_t i = 0; i < s->n_regs; i++) {
        uint32_t reg = s->regs[i].reg, m = c->wmask[reg];

        c->regs[reg] = (c->regs[reg] & ~m) | (s->regs[i].value & m);
    }
}

/* ---- root --------------------------------------------------------------- */

void pci_root_save(struct pci_root *r, struct pci_root_state *out)
{
    memset(out, 0, sizeof(*out));
    bus_dev_lock(&r->pio);
    out->config_address = r->config_address;
    bus_dev_unlock(&r->pio);
    pthread_mutex_lock(&r->host_lock);
    config_save(&r->host.cfg, &out->host);
    pthread_mutex_unlock(&r->host_lock);
}

int pci_root_restore(struct pci_root *r, const struct pci_root_state *s)
{
    int rc;

    pthread_mutex_lock(&r->host_lock);
    rc = config_check(&r->host.cfg, &s->host);
    if (rc == 0)
        config_apply(&r->host.cfg, &s->host);
    pthread_mutex_unlock(&r->host_lock);
    if (rc == 0) {
        bus_dev_lock(&r->pio);
        r->config_address = s->config_address;
        bus_dev_unlock(&r->pio);
    }
    return rc;
}

/* ---- virtio-pci --------------------------------------------------------- */

void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *out)
{
    const struct msix *m = &p->msix;

    memset(out, 0, sizeof(*out));
    bus_dev_lock(&p->t->bus);
    out->bar_addr = p->bar_addr;
    config_save(&p->pci.cfg, &out->config);
    out->config_vector = p->config_vector;
    out->n_queues = (uint32_t)p->t->n_queues;
    for (uint32_t q = 0; q < out->n_queues; q++) {
        out->queue_vector[q] = p->queue_vector[q];
        out->last_used[q] = p->last_used[q];
    }
    out->n_vectors = m->n_vectors;
    out->first_gsi = m->n_vectors ? m->vec[0].gsi : 0;
    for (uint16_t i = 0; i < m->n_vectors; i++)
        out->vec[i] =
            (struct msix_entry_state){m->vec[i].addr_lo, m->vec[i].addr_hi,
                                      m->vec[i].data, m->vec[i].ctrl};
    memcpy(out->pba, m->pba, sizeof(out->pba));
    out->has_cfg_cap = true;
    out->cfg_cap_off = p->cfg_cap_off;
    memcpy(out->cfg_cap, p->cfg_cap, sizeof(out->cfg_cap));
    bus_dev_unlock(&p->t->bus);
}

static bool vector_ok(const struct virtio_pci_state *s, uint16_t v)
{
    return v == MSIX_NO_VECTOR || v < s->n_vectors;
}

/* Whether s fits p (see virtio_pci_restore). Device lock held. */
static int check(const struct virtio_pci *p, const struct virtio_pci_state *s)
{
    const struct msix *m = &p->msix;

    if (s->bar_addr != p->bar_addr || s->n_queues != p->t->n_queues ||
        s->n_vectors != m->n_vectors || s->first_gsi != m->vec[0].gsi ||
        config_check(&p->pci.cfg, &s->config) < 0 ||
        !vector_ok(s, s->config_vector) ||
        (s->has_cfg_cap && s->cfg_cap_off != p->cfg_cap_off))
        return -EINVAL;
    for (uint32_t q = 0; q < s->n_queues; q++)
        if (!vector_ok(s, s->queue_vector[q]))
            return -EINVAL;
    for (uint16_t i = 0; i < s->n_vectors; i++)
        if (s->vec[i].ctrl & ~MSIX_VEC_MASKED)
            return -EINVAL;
    for (uint32_t v = s->n_vectors; v < MSIX_MAX_VECTORS; v++)
        if (s->pba[v / 64] >> (v % 64) & 1)
            return -EINVAL;
    return 0;
}

int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *s)
{
    struct msix *m = &p->msix;
    int rc;

    bus_dev_lock(&p->t->bus);
    rc = check(p, s);
    if (rc == 0) {
        config_apply(&p->pci.cfg, &s->config);
        p->config_vector = s->config_vector;
        for (uint32_t q = 0; q < s->n_queues; q++) {
            p->queue_vector[q] = s->queue_vector[q];
            p->last_used[q] = s->last_used[q];
        }
        for (uint16_t i = 0; i < m->n_vectors; i++) {
            m->vec[i].addr_lo = s->vec[i].addr_lo;
            m->vec[i].addr_hi = s->vec[i].addr_hi;
            m->vec[i].data = s->vec[i].data;
            m->vec[i].ctrl = s->vec[i].ctrl;
        }
        memcpy(m->pba, s->pba, sizeof(m->pba));
        if (s->has_cfg_cap)
            memcpy(p->cfg_cap, s->cfg_cap, sizeof(p->cfg_cap));
        /* Enable and function mask from the restored Message Control;
         * with no VM connected nothing goes live yet. */
        msix_set_msg_ctl(
            m, (uint16_t)(pci_config_raw(&p->pci.cfg, p->msix_cap / 4u) >> 16));
    }
    bus_dev_unlock(&p->t->bus);
    return rc;
}

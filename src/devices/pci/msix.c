/*
 * msix.c: MSI-X table, PBA and vector liveness (msix.h).
 */
#include "devices/pci/msix.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "obs/log.h"

int msix_gsi_alloc(uint32_t *next, uint16_t n, uint32_t *first)
{
    if (n == 0 || *next < MSIX_FIRST_GSI || *next > MSIX_LAST_GSI ||
        MSIX_LAST_GSI - *next + 1 < n)
        return -ENOSPC;
    *first = *next;
    *next += n;
    return 0;
}

int msix_init(struct msix *m, uint16_t n, uint32_t first_gsi)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < MSIX_MAX_VECTORS; i++)
        m->vec[i].efd = -1;
    if (n == 0 || n > MSIX_MAX_VECTORS)
        return -EINVAL;
    m->n_vectors = n;
    for (uint16_t i = 0; i < n; i++) {
        m->vec[i].ctrl = MSIX_VEC_MASKED;
        m->vec[i].gsi = first_gsi + i;
        m->vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->vec[i].efd < 0) {
            int rc = -errno;

            msix_fini(m);
            return rc;
        }
    }
    return 0;
}

/* Take vector i's irqfd off; it stays not live even if that fails. */
static void unlive(struct msix *m, uint16_t i)
{
    struct msix_vector *v = &m->vec[i];

    if (!v->is_live)
        return;
    v->is_live = false;
    if (m->ops && m->ops->irqfd(m->ctx, v->efd, v->gsi, true) < 0)
        log_warn_rl("msi-x: could not remove the irqfd of GSI %u",
                    (unsigned)v->gsi);
}

void msix_fini(struct msix *m)
{
    for (uint16_t i = 0; i < MSIX_MAX_VECTORS; i++) {
        if (i < m->n_vectors)
            unlive(m, i);
        if (m->vec[i].efd >= 0)
            (void)close(m->vec[i].efd);
        m->vec[i].efd = -1;
    }
    m->n_vectors = 0;
}

static void update(struct msix *m, uint16_t i, bool msg_changed);

void msix_connect(struct msix *m, const struct msix_irq_ops *ops, void *ctx)
{
    for (uint16_t i = 0; i < m->n_vectors; i++)
        unlive(m, i);
    m->ops = ops;
    m->ctx = ctx;
    for (uint16_t i = 0; i < m->n_vectors; i++)
        update(m, i, false);
}

void msix_cap_body(const struct msix *m, uint8_t bir, uint32_t table_off,
                   uint32_t pba_off, uint8_t body[MSIX_CAP_BODY_SIZE],
                   uint8_t wmask[MSIX_CAP_BODY_SIZE])
{
    uint32_t table = (table_off & ~7u) | (bir & 7u);
    uint32_t pba = (pba_off & ~7u) | (bir & 7u);
    uint16_t ctl = (uint16_t)(m->n_vectors - 1); /* table size, N - 1 */

    memset(wmask, 0, MSIX_CAP_BODY_SIZE);
    body[0] = (uint8_t)ctl;
    body[1] = (uint8_t)(ctl >> 8);
    for (int i = 0; i < 4; i++) {
        body[2 + i] = (uint8_t)(table >> (8 * i));
        body[6 + i] = (uint8_t)(pba >> (8 * i));
    }
    wmask[1] = (uint8_t)((MSIX_CTL_ENABLE | MSIX_CTL_FMASK) >> 8);
}

uint32_t msix_table_size(const struct msix *m)
{
    return (uint32_t)m->n_vectors * MSIX_ENTRY_SIZE;
}

uint32_t msix_pba_size(const struct msix *m)
{
    return ((uint32_t)m->n_vectors + 63u) / 64u * 8u;
}

bool msix_is_pending(const struct msix *m, uint16_t v)
{
    return v < m->n_vectors && (m->pba[v / 64] >> (v % 64) & 1);
}

static void set_pending(struct msix *m, uint16_t v, bool on)
{
    if (on)
        m->pba[v / 64] |= 1ull << (v % 64);
    else
        m->pba[v / 64] &= ~(1ull << (v % 64));
}

static int fire(const struct msix_vector *v)
{
    uint64_t one = 1;

    if (write(v->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        return -errno;
    return 0;
}

bool msix_wants_live(const struct msix *m, uint16_t v)
{
    return v < m->n_vectors && m->is_enabled && !m->is_masked &&
           !(m->vec[v].ctrl & MSIX_VEC_MASKED);
}

/*
 * Bring vector i to the state its bits ask for (the diagram in msix.h);
 * `msg_changed`: the guest changed the message, so a live vector is
 * routed again.
 */
static void update(struct msix *m, uint16_t i, bool msg_changed)
{
    struct msix_vector *v = &m->vec[i];
    bool want = msix_wants_live(m, i);
    uint64_t addr = (uint64_t)v->addr_hi << 32 | v->addr_lo;

    if (!want || !m->ops) {
        unlive(m, i);
        return;
    }
    if (!v->is_live || msg_changed) {
        if (m->ops->set_route(m->ctx, v->gsi, addr, v->data) < 0) {
            log_warn_rl("msi-x: could not route GSI %u", (unsigned)v->gsi);
            unlive(m, i);
            return;
        }
    }
    if (!v->is_live) {
        if (m->ops->irqfd(m->ctx, v->efd, v->gsi, false) < 0) {
            log_warn_rl("msi-x: could not register the irqfd of GSI %u",
                        (unsigned)v->gsi);
            return;
        }
        v->is_live = true;
    }
    if (msix_is_pending(m, i)) {
        set_pending(m, i, false);
        if (fire(v) < 0)
            log_warn_rl("msi-x: could not raise GSI %u", (unsigned)v->gsi);
    }
}

void msix_set_msg_ctl(struct msix *m, uint16_t ctl)
{
    bool en = ctl & MSIX_CTL_ENABLE, fm = ctl & MSIX_CTL_FMASK;

    if (en == m->is_enabled && fm == m->is_masked)
        return;
    m->is_enabled = en;
    m->is_masked = fm;
    for (uint16_t i = 0; i < m->n_vectors; i++)
        update(m, i, false);
}

/* An access of 4 or 8 bytes, naturally aligned, inside `size` bytes. */
static bool access_ok(uint64_t off, uint32_t len, uint32_t size)
{
    return (len == 4 || len == 8) && off % len == 0 && off < size &&
           size - off >= len;
}

static uint32_t entry_word(const struct msix_vector *v, unsigned w)
{
    switch (w) {
    case 0:
        return v->addr_lo;
    case 1:
        return v->addr_hi;
    case 2:
        return v->data;
    default:
        return v->ctrl;
    }
}

static void put_words(uint8_t *data, uint32_t len, uint64_t value)
{
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(value >> (8 * i));
}

void msix_table_read(const struct msix *m, uint64_t off, uint8_t *data,
                     uint32_t len)
{
    const struct msix_vector *v;
    unsigned w;

    if (!access_ok(off, len, msix_table_size(m))) {
        memset(data, 0xff, len > 8 ? 8 : len);
        return;
    }
    v = &m->vec[off / MSIX_ENTRY_SIZE];
    w = (unsigned)(off % MSIX_ENTRY_SIZE) / 4;
    put_words(data, len,
              entry_word(v, w) |
                  (len == 8 ? (uint64_t)entry_word(v, w + 1) << 32 : 0));
}

static void set_word(struct msix_vector *v, unsigned w, uint32_t value)
{
    switch (w) {
    case 0:
        v->addr_lo = value;
        break;
    case 1:
        v->addr_hi = value;
        break;
    case 2:
        v->data = value;
        break;
    default:
        v->ctrl = value & MSIX_VEC_MASKED;
        break;
    }
}

void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data,
                      uint32_t len)
{
    struct msix_vector *v, old;
    uint64_t value = 0;
    unsigned w;
    uint16_t i;

    if (!access_ok(off, len, msix_table_size(m))) {
        log_warn_rl("msi-x: dropped a table write of %u bytes at 0x%llx",
                    (unsigned)len, (unsigned long long)off);
        return;
    }
    for (uint32_t b = 0; b < len; b++)
        value |= (uint64_t)data[b] << (8 * b);
    i = (uint16_t)(off / MSIX_ENTRY_SIZE);
    v = &m->vec[i];
    old = *v;
    w = (unsigned)(off % MSIX_ENTRY_SIZE) / 4;
    set_word(v, w, (uint32_t)value);
    if (len == 8)
        set_word(v, w + 1, (uint32_t)(value >> 32));
    if (old.addr_lo == v->addr_lo && old.addr_hi == v->addr_hi &&
        old.data == v->data && old.ctrl == v->ctrl)
        return;
    update(m, i,
           old.addr_lo != v->addr_lo || old.addr_hi != v->addr_hi ||
               old.data != v->data);
}

void msix_pba_read(const struct msix *m, uint64_t off, uint8_t *data,
                   uint32_t len)
{
    uint64_t word;

    if (!access_ok(off, len, msix_pba_size(m))) {
        memset(data, 0xff, len > 8 ? 8 : len);
        return;
    }
    word = m->pba[off / 8];
    put_words(data, len, len == 8 ? word : word >> (8 * (off % 8)));
}

int msix_signal(struct msix *m, uint16_t v)
{
    if (v >= m->n_vectors)
        return -EINVAL;
    if (!m->is_enabled)
        return 0;
    if (!m->vec[v].is_live) {
        set_pending(m, v, true);
        return 0;
    }
    return fire(&m->vec[v]);
}

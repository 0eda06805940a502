/*
 * test_pci_snap.c: the PCI state of a snapshot (devices/pci/pci_snap.h and
 * its sections, snapshot/state_pci.h) with a real device, virtio-rng
 * behind virtio-pci, driven through the real buses by the fixture's
 * driver and a fake VMM for MSI-X (virtio_pci_fixture.h).
 *
 * The round trip: a driver brings the device up and works with it, leaves
 * a vector masked with its interrupt pending, a request published but not
 * yet seen, BAR sizing half done, CONFIG_ADDRESS set, the
 * VIRTIO_PCI_CAP_PCI_CFG window pointed at a queue address; the state is
 * saved,
 * encoded into PCIR/PCID sections and decoded, the root, device and
 * transport are built anew in place (as a new process builds them) and
 * restored. The guest then sees the same configuration space, common
 * configuration and MSI-X table and PBA; only the unmasked vectors are
 * routed and have an irqfd; the pending vector is delivered once on
 * unmask; the request published before the snapshot completes, and new
 * ones complete with the queue's vector.
 *
 * Then what must be refused: a state that does not fit the transport
 * (BAR, queue and vector counts, GSIs, read-only registers, vector
 * numbers, reserved bits, pending bits past the table, the window's
 * offset), leaving the transport untouched; section payloads that do not
 * decode; a PCID section of layout 1 (no window) still decoding, encoding
 * again as layout 1 and leaving the window as built.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/pci/pci_snap.h"
#include "snapshot/state_pci.h"
#include "util/xalloc.h"
#include "virtio_pci_fixture.h"

#define E1       (BAR + VIRTIO_PCI_MSIX_TABLE + 16) /* vector 1's entry */
#define WIN      0x84u /* the VIRTIO_PCI_CAP_PCI_CFG capability */
#define WIN_TAIL (2u + 4u + VIRTIO_PCI_CFG_CAP_LEN) /* PCID layout 2's */

/* The port CONFIG_ADDRESS through the PIO bus. */
static uint32_t config_address(struct fx *f)
{
    uint8_t b[4];

    assert_int_equal(bus_read(&f->pio, PCI_PIO_BASE, b, 4), 0);
    return pci_bytes_get(b, 4);
}

static void set_config_address(struct fx *f, uint32_t v)
{
    uint8_t b[4];

    pci_bytes_put(b, v);
    assert_int_equal(bus_write(&f->pio, PCI_PIO_BASE, b, 4), 0);
}

/* What the guest sees: the whole configuration space and the common
 * configuration's queue 0 fields. */
struct view {
    uint32_t cfg[PCI_CONFIG_REGS];
    uint64_t common[8];
    uint64_t table[4], pba;
};

static void look(struct fx *f, struct view *v)
{
    static const unsigned fields[8][2] = {
        {0x00, 4}, {0x08, 4}, {0x10, 2}, {0x14, 1},
        {0x1a, 2}, {0x1c, 2}, {0x20, 8}, {0x30, 8},
    };

    for (unsigned r = 0; r < PCI_CONFIG_REGS; r++)
        v->cfg[r] = (uint32_t)rd(f, cfg(r * 4), 4);
    wr(f, common(0x16), 2, 0);
    for (unsigned i = 0; i < 8; i++)
        v->common[i] = rd(f, common(fields[i][0]), fields[i][1]);
    for (unsigned i = 0; i < 4; i++)
        v->table[i] = rd(f, BAR + VIRTIO_PCI_MSIX_TABLE + 8 * i, 8);
    v->pba = rd(f, BAR + VIRTIO_PCI_MSIX_PBA, 8);
}

/* The state through its sections and back. */
static struct pci_snap *through_sections(const struct pci_root_state *root,
                                         const struct virtio_pci_state *t)
{
    struct pci_snap s = {*root, 1, NULL}, *out = NULL;
    char kind[] = "virtio-rng", id[] = "rng";
    struct pci_dev_snap d;
    struct snap_writer w;
    struct snap_file file;
    struct snap_reader r;
    enum snap_error e;
    struct sq_err err;
    size_t off = 0;
    uint32_t tag;

    memset(&d, 0, sizeof(d));
    d.kind = kind;
    d.id = id;
    d.dev = SLOT;
    d.transport = *t;
    s.devs = &d;
    snap_writer_init(&w);
    snap_pci_encode(&s, &w);
    snap_writer_finish(&w);
    assert_int_equal(
        snap_file_parse((const uint8_t *)w.b.data, w.b.len, &file, &e, &err),
        0);
    while (snap_next_section(&file, &off, &tag, &r)) {
        if (tag == SNAP_TAG_PCI_ROOT)
            snap_pci_decode_root(&r, &out);
        else if (tag == SNAP_TAG_PCI_DEV)
            snap_pci_decode_dev(&r, &out);
        else
            fail();
        assert_true(snap_reader_done(&r));
    }
    snap_writer_fini(&w);
    assert_non_null(out);
    assert_int_equal(out->n, 1);
    assert_string_equal(out->devs[0].kind, "virtio-rng");
    assert_string_equal(out->devs[0].id, "rng");
    assert_int_equal(out->devs[0].dev, SLOT);
    assert_memory_equal(&out->root, root, sizeof(*root));
    assert_memory_equal(&out->devs[0].transport, t, sizeof(*t));
    return out;
}

/* A new process's root, device and transport, in place (the buses keep
 * pointing at the same structures), attached to the same guest memory. */
static void rebuild(struct fx *f)
{
    uint16_t avail = f->d.avail_idx;
    struct sq_err err;

    virtio_pci_fini(&f->p);
    rng_free(f->r);
    pci_root_fini(&f->root);
    pci_root_init(&f->root);
    assert_int_equal(rng_new(NULL, &f->r, &err), 0);
    assert_int_equal(virtio_pci_init(&f->p, rng_transport(f->r), BAR, 24), 0);
    assert_int_equal(pci_root_add_at(&f->root, &f->p.pci, SLOT), 0);
    assert_int_equal(rng_attach(f->r, &f->mem.gm, -1, BAR, NULL), 0);
    memset(&f->vm, 0, sizeof(f->vm));
    drv_view(&f->d, &f->mem, rng_transport(f->r), 256, 0);
    f->d.avail_idx = avail;
}

static void test_round_trip_mid_work(void **state)
{
    struct fx *f = *state;
    struct pci_root_state root;
    struct virtio_pci_state t;
    struct virtio_mmio_state ms;
    struct pci_snap *s;
    struct view before, after;
    uint16_t used;

    assert_int_equal(driver_init(f), 15);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
    /* What the guest leaves behind: Command, cache line, interrupt line,
     * the high BAR register in sizing state, a masked vector with its
     * interrupt pending, CONFIG_ADDRESS, and a request published without
     * a notification the device saw. */
    wr(f, cfg(0x04), 2, 0x0006);
    wr(f, cfg(0x0c), 1, 0x10);
    wr(f, cfg(0x3c), 1, 0x0b);
    wr(f, cfg(0x14), 4, 0xffffffff);
    wr(f, E1 + 12, 4, 1);
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 0);
    set_config_address(f, 0x80000810u);
    wr(f, cfg(WIN + 8), 4, VIRTIO_PCI_COMMON + 0x20); /* queue_desc low */
    wr(f, cfg(WIN + 12), 4, 4);
    used = drv_used_idx(&f->d);
    drv_desc(&f->d, used % 256, BUF, 32, SQ_VIRTQ_DESC_F_WRITE, 0);
    drv_publish(&f->d, used % 256);
    look(f, &before);
    assert_int_equal(before.pba, 2);
    assert_int_equal(before.cfg[5], 0xffffffff); /* sizing */

    pci_root_save(&f->root, &root);
    virtio_pci_save(&f->p, &t);
    virtio_mmio_save(rng_transport(f->r), &ms);
    assert_int_equal(root.config_address, 0x80000810u);
    assert_int_equal(t.n_vectors, 2);
    assert_int_equal(t.first_gsi, 24);
    assert_int_equal(t.queue_vector[0], 1);
    assert_true(t.has_cfg_cap);
    assert_int_equal(t.cfg_cap_off, WIN + 2);
    s = through_sections(&root, &t);

    rebuild(f);
    assert_int_equal(pci_root_restore(&f->root, &s->root), 0);
    assert_int_equal(virtio_pci_restore(&f->p, &s->devs[0].transport), 0);
    assert_int_equal(virtio_mmio_restore(rng_transport(f->r), &ms), 0);
    pci_snap_free(s);
    /* Nothing reached the VMM before the connect. */
    assert_int_equal(f->vm.n_routes + f->vm.n_irqfds, 0);
    msix_connect(&f->p.msix, &fake_ops, &f->vm);
    /* Only the unmasked vector (0, config) is routed and has an irqfd. */
    assert_int_equal(f->vm.n_routes, 1);
    assert_int_equal(f->vm.n_irqfds, 1);
    assert_int_equal(f->vm.last_gsi, 24);
    assert_int_equal(fired(f, 1) + fired(f, 0), 0);
    assert_int_equal(config_address(f), 0x80000810u);
    look(f, &after);
    assert_memory_equal(before.cfg, after.cfg, sizeof(before.cfg));
    assert_memory_equal(before.common, after.common, sizeof(before.common));
    assert_memory_equal(before.table, after.table, sizeof(before.table));
    assert_int_equal(after.pba, 2);
    /* The window reads the same queue address through config space. */
    assert_int_equal(rd(f, cfg(WIN + 16), 4), rd(f, common(0x20), 4));
    assert_int_not_equal(rd(f, cfg(WIN + 16), 4), 0);

    /* The pending interrupt is delivered once on unmask. */
    wr(f, E1 + 12, 4, 0);
    assert_int_equal(fired(f, 1), 1);
    assert_int_equal(rd(f, BAR + VIRTIO_PCI_MSIX_PBA, 8), 0);
    assert_int_equal(f->vm.n_irqfds, 2);
    /* The request published before the snapshot: activation looks at the
     * queue once, as after DRIVER_OK. */
    assert_int_equal(evloop_eventfd_drain(f->d.t->queue_fd[0]), 1);
    virtio_mmio_notify(f->d.t, 0);
    assert_int_equal(drv_used_idx(&f->d), (uint16_t)(used + 1));
    assert_int_equal(fired(f, 1), 1);
    assert_int_equal(fired(f, 0), 0);
    /* And the device goes on. */
    assert_int_equal(request(f), 64);
    assert_int_equal(fired(f, 1), 1);
    wr(f, cfg(0x14), 4, BAR >> 32); /* sizing ends, the address stays */
    assert_int_equal(rd(f, cfg(0x14), 4), BAR >> 32);
}

/* A state that does not fit is refused whole: nothing the guest sees
 * changes. */
static void refused(struct fx *f, const struct virtio_pci_state *s)
{
    struct view before, after;

    look(f, &before);
    assert_int_equal(virtio_pci_restore(&f->p, s), -EINVAL);
    look(f, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_false(f->p.msix.is_enabled);
}

static void test_restore_refuses_what_does_not_fit(void **state)
{
    struct fx *f = *state;
    struct virtio_pci_state good, s;
    struct pci_root_state root;
    unsigned ctl_reg = (find_msix_cap(f) + 2) / 4;

    virtio_pci_save(&f->p, &good);
    /* Make the good state one that would change things: MSI-X enabled,
     * Command set, vector 0 unmasked. */
    for (uint32_t i = 0; i < good.config.n_regs; i++) {
        if (good.config.regs[i].reg == ctl_reg)
            good.config.regs[i].value |= (uint32_t)MSIX_CTL_ENABLE << 16;
        if (good.config.regs[i].reg == PCI_REG_CMD_STATUS)
            good.config.regs[i].value = 0xffffffffu;
    }
    good.vec[0].ctrl = 0;
#define REFUSED(change)                                                        \
    do {                                                                       \
        s = good;                                                              \
        change;                                                                \
        refused(f, &s);                                                        \
    } while (0)
    REFUSED(s.bar_addr += VIRTIO_PCI_BAR_SIZE);
    REFUSED(s.n_queues = 2);
    REFUSED(s.n_vectors = 3);
    REFUSED(s.first_gsi = 25);
    REFUSED(s.config.regs[0].reg = PCI_REG_ID);
    REFUSED(s.config.regs[s.config.n_regs - 1].reg = PCI_CONFIG_REGS);
    REFUSED(s.config.n_regs = PCI_SNAP_MAX_REGS + 1);
    REFUSED(s.config.bar_sizing = 4); /* BAR 2 is not used */
    REFUSED(s.config_vector = 2);
    REFUSED(s.queue_vector[0] = 0x7fff);
    REFUSED(s.vec[1].ctrl = 2);
    REFUSED(s.pba[0] = 1ull << 2);
    REFUSED(s.cfg_cap_off = WIN);
#undef REFUSED
    /* The good one goes in; Command takes only its writable bits (Status
     * stays read-only). */
    assert_int_equal(virtio_pci_restore(&f->p, &good), 0);
    assert_true(f->p.msix.is_enabled);
    assert_int_equal(rd(f, cfg(0x04), 4),
                     0x0000ffffu | (uint32_t)PCI_STATUS_CAP_LIST << 16);
    /* The root: a register that is not writable. */
    pci_root_save(&f->root, &root);
    root.host.regs[0].reg = PCI_REG_CLASS;
    root.config_address = 0x80000000u;
    assert_int_equal(pci_root_restore(&f->root, &root), -EINVAL);
    assert_int_equal(config_address(f), 0);
    /* The window as saved, any bytes; and a state without one (PCID
     * layout 1) leaves the window as it is. */
    s = good;
    memset(s.cfg_cap, 0xee, sizeof(s.cfg_cap));
    assert_int_equal(virtio_pci_restore(&f->p, &s), 0);
    assert_int_equal(f->p.cfg_cap[17], 0xee);
    s.has_cfg_cap = false;
    s.cfg_cap_off = 0;
    memset(s.cfg_cap, 0, sizeof(s.cfg_cap));
    assert_int_equal(virtio_pci_restore(&f->p, &s), 0);
    assert_int_equal(f->p.cfg_cap[17], 0xee);
}

/* One PCID payload from `p` (len bytes) into a new state: whether it
 * decoded. */
static bool decodes(const uint8_t *p, size_t len, bool is_root)
{
    struct snap_reader r = {p, len, 0, false, NULL};
    struct pci_snap *s = NULL;
    bool ok;

    if (is_root)
        snap_pci_decode_root(&r, &s);
    else
        snap_pci_decode_dev(&r, &s);
    ok = snap_reader_done(&r);
    pci_snap_free(s);
    return ok;
}

/* A PCID payload of layout 1 decodes without the window and encodes as
 * the same layout 1 payload again. */
static void layout1_again(const uint8_t *p, size_t len,
                          const struct pci_root_state *root)
{
    struct snap_reader r = {p, len, 0, false, NULL};
    struct pci_snap *s = NULL;
    struct snap_writer w;
    size_t root_len;

    snap_pci_decode_dev(&r, &s);
    assert_true(snap_reader_done(&r));
    assert_false(s->devs[0].transport.has_cfg_cap);
    s->root = *root;
    snap_writer_init(&w);
    w.b.len = 0;
    snap_pci_encode(s, &w);
    root_len = pci_bytes_get((const uint8_t *)w.b.data + 4, 4);
    assert_int_equal(w.b.len, 2 * SNAP_SECTION_HDR + root_len + len);
    assert_memory_equal(
        (const uint8_t *)w.b.data + 2 * SNAP_SECTION_HDR + root_len, p, len);
    snap_writer_fini(&w);
    pci_snap_free(s);
}

static void test_sections_that_do_not_decode(void **state)
{
    struct fx *f = *state;
    struct pci_snap s = {{0}, 1, NULL};
    char kind[] = "virtio-rng", id[] = "rng";
    struct pci_dev_snap d;
    struct snap_writer w;
    struct snap_reader r;
    uint8_t *dev;
    size_t dev_len, root_len;
    struct pci_snap *many = NULL;

    memset(&d, 0, sizeof(d));
    d.kind = kind;
    d.id = id;
    virtio_pci_save(&f->p, &d.transport);
    pci_root_save(&f->root, &s.root);
    s.devs = &d;
    snap_writer_init(&w);
    w.b.len = 0;
    snap_pci_encode(&s, &w);
    /* PCIR's header, payload; PCID's header, payload. */
    root_len = pci_bytes_get((const uint8_t *)w.b.data + 4, 4);
    dev = (uint8_t *)w.b.data + SNAP_SECTION_HDR + root_len + SNAP_SECTION_HDR;
    dev_len = w.b.len - (SNAP_SECTION_HDR + root_len + SNAP_SECTION_HDR);
    assert_true(
        decodes((const uint8_t *)w.b.data + SNAP_SECTION_HDR, root_len, true));
    assert_true(decodes(dev, dev_len, false));
    /* Cut short, one byte too many. */
    assert_false(decodes(dev, dev_len - 1, false));
    assert_false(decodes((const uint8_t *)w.b.data + SNAP_SECTION_HDR,
                         root_len - 1, true));
    /* Another layout. */
    dev[0] = 3;
    assert_false(decodes(dev, dev_len, false));
    /* Layout 1: no window; layout 2 without it is cut short. */
    dev[0] = 1;
    assert_true(decodes(dev, dev_len - WIN_TAIL, false));
    assert_false(decodes(dev, dev_len, false));
    layout1_again(dev, dev_len - WIN_TAIL, &s.root);
    dev[0] = 2;
    assert_false(decodes(dev, dev_len - WIN_TAIL, false));
    /* The window's byte count is 18. */
    pci_bytes_put(dev + dev_len - VIRTIO_PCI_CFG_CAP_LEN - 4, 17);
    assert_false(decodes(dev, dev_len, false));
    pci_bytes_put(dev + dev_len - VIRTIO_PCI_CFG_CAP_LEN - 4,
                  VIRTIO_PCI_CFG_CAP_LEN);
    /* More registers than any function has: kind, id, segment..fn, BAR,
     * then bar_sizing, then the count. */
    {
        size_t at =
            4 + 4 + strlen("virtio-rng") + 4 + strlen("rng") + 5 + 8 + 1;
        uint32_t n = pci_bytes_get(dev + at, 4);

        pci_bytes_put(dev + at, PCI_SNAP_MAX_REGS + 1);
        assert_false(decodes(dev, dev_len, false));
        pci_bytes_put(dev + at, n);
    }
    /* The pending-bit count must match the vectors': the u32 + u64 before
     * the window. */
    pci_bytes_put(dev + dev_len - WIN_TAIL - 12, 2);
    assert_false(decodes(dev, dev_len, false));
    pci_bytes_put(dev + dev_len - WIN_TAIL - 12, 1);
    assert_true(decodes(dev, dev_len, false));
    /* One device more than the bus's slots. */
    for (unsigned i = 0; i <= SNAP_PCI_MAX_DEVS; i++) {
        r = (struct snap_reader){dev, dev_len, 0, false, NULL};
        snap_pci_decode_dev(&r, &many);
        assert_int_equal(snap_reader_done(&r), i < SNAP_PCI_MAX_DEVS);
    }
    assert_int_equal(many->n, SNAP_PCI_MAX_DEVS);
    pci_snap_free(many);
    snap_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_mid_work, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restore_refuses_what_does_not_fit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sections_that_do_not_decode, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * balloon.c: the test guest's virtio-balloon driver and its tests
 * (balloon, hostile-balloon; README.md "virtio-balloon tests").
 *
 * A polled driver for a virtio-mmio version 2 balloon (device id 5):
 * VERSION_1, and STATS_VQ, DEFLATE_ON_OOM, FREE_PAGE_HINT and REPORTING
 * when offered (balloon_drv.h; the hinting and reporting queues are driven
 * by balloon_hint.c). Queues: 0 inflate, 1 deflate, then stats, hinting,
 * reporting as negotiated, each a vring.h ring.
 *
 *   inflate/deflate: one chain at a time, one device-readable buffer of up
 *   to 256 u32 page frame numbers, waited for until used.
 *   stats: one buffer of {u16 tag, u64 value} records, published at start;
 *   whenever the device gives it back (its polling interval), it is
 *   refilled with fresh numbers and published again (as Linux does).
 *
 * `balloon` touches squibmib= MiB at squibbase= (one write per 4 KiB page,
 * so that the host has them resident), waits for the host to set
 * num_pages to that many pages, inflates exactly those pages, writes
 * `actual`, waits for num_pages 0, deflates them, writes `actual` 0 and
 * checks that every page reads zero (the host dropped them).
 *
 * `balloon-follow` touches all memory from squibbase up, then follows
 * num_pages, whatever it is, for as long as the machine runs.
 */
#include "balloon_drv.h"
#include "guest.h"
#include "virtio_int.h"
#include "vring.h"

#define ID_BALLOON 5

#define QSIZE          64
#define PFNS_PER_CHAIN 256
#define PAGE           BAL_PAGE
#define INFLATEQ       BAL_INFLATEQ
#define DEFLATEQ       BAL_DEFLATEQ
#define CFG_NUM_PAGES  BAL_CFG_NUM_PAGES
#define CFG_ACTUAL     BAL_CFG_ACTUAL

/* stats tags (virtio spec 5.5.6.3) */
#define ST_SWAP_IN  0
#define ST_SWAP_OUT 1
#define ST_FREE_MEM 4
#define ST_TOTAL    5
#define ST_RECORD   10
#define N_STATS     3

#define OUTSIDE_RAM_PFN 0x10000000u /* 1 TiB: no guest RAM there */

static uint8_t rings[BAL_MAX_QUEUES][VRING_MEM_SIZE]
    __attribute__((aligned(4096)));
static uint32_t pfns[PFNS_PER_CHAIN] __attribute__((aligned(64)));
static uint8_t stats_buf[ST_RECORD * N_STATS + 64] __attribute__((aligned(64)));
static struct bdrv drv;

uint32_t bal_cfg_read(const struct bdrv *b, uint32_t off)
{
    return vr(b->dev, VM_CONFIG + off);
}

void bal_cfg_write(const struct bdrv *b, uint32_t off, uint32_t v)
{
    vw(b->dev, VM_CONFIG + off, v);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
    p[0] = (uint8_t)tag;
    p[1] = (uint8_t)(tag >> 8);
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)(val >> (8 * i));
}

/* Fill the stats buffer and give it to the device. */
static void stats_publish(struct bdrv *b)
{
    struct vq *q = &b->q[b->stats_q];

    put_stat(stats_buf, ST_SWAP_OUT, b->refreshes);
    put_stat(stats_buf + ST_RECORD, ST_TOTAL, (uint64_t)b->mem_mib << 20);
    put_stat(stats_buf + 2 * ST_RECORD, ST_FREE_MEM,
             ((uint64_t)b->mem_mib << 20) / 2);
    vring_set_desc(q, 0, addr_of(stats_buf), ST_RECORD * N_STATS, 0, 0);
    vring_publish(q, 0);
    vring_kick(b->dev, (uint32_t)b->stats_q);
}

void bal_stats_service(struct bdrv *b)
{
    uint32_t id, len;

    if (b->stats_q < 0)
        return;
    while (vring_take(&b->q[b->stats_q], &id, &len)) {
        b->refreshes++;
        stats_publish(b);
    }
    vring_ack_isr(b->dev);
}

/* Wait (serving stats) until num_pages equals want: 1, or 0 on timeout. */
static int wait_target(struct bdrv *b, uint32_t want, uint64_t timeout)
{
    uint64_t t0 = rdtsc();

    for (;;) {
        bal_stats_service(b);
        if (bal_cfg_read(b, CFG_NUM_PAGES) == want)
            return 1;
        if (rdtsc() - t0 > timeout)
            return 0;
        delay_cycles(b->tsc_hz / 1000);
    }
}

int bal_send_chain(struct bdrv *b, int qi, const struct bal_seg *segs,
                   uint32_t n, uint64_t timeout)
{
    struct vq *q = &b->q[qi];
    uint64_t t0 = rdtsc();
    uint32_t id, len;

    for (uint32_t i = 0; i < n; i++)
        vring_set_desc(q, (uint16_t)i, segs[i].addr, segs[i].len,
                       (uint16_t)(segs[i].flags | (i + 1 < n ? D_NEXT : 0)),
                       (uint16_t)(i + 1 < n ? i + 1 : 0));
    vring_publish(q, 0);
    vring_kick(b->dev, (uint32_t)qi);
    while (!vring_take(q, &id, &len)) {
        if (rdtsc() - t0 > timeout)
            return 0;
        bal_stats_service(b);
    }
    vring_ack_isr(b->dev);
    return 1;
}

/* Send the first `bytes` of pfns[] on queue qi as one buffer. */
static int send_pfns(struct bdrv *b, uint32_t qi, uint32_t bytes,
                     uint16_t flags, uint64_t timeout)
{
    const struct bal_seg s = {addr_of(pfns), bytes, flags};

    return bal_send_chain(b, (int)qi, &s, 1, timeout);
}

int bal_move_pages(struct bdrv *b, uint32_t qi, uint64_t base, uint32_t pages,
                   uint64_t timeout, uint32_t *chains)
{
    for (uint32_t done = 0; done < pages;) {
        uint32_t n = pages - done;

        if (n > PFNS_PER_CHAIN)
            n = PFNS_PER_CHAIN;
        for (uint32_t i = 0; i < n; i++)
            pfns[i] = (uint32_t)((base >> 12) + done + i);
        if (!send_pfns(b, qi, n * 4, 0, timeout))
            return -1;
        (*chains)++;
        done += n;
    }
    return 0;
}

int bal_init(struct bdrv *b, const struct vdev *d, const struct venv *e,
             uint32_t mem_mib)
{
    uint64_t dev;
    uint32_t nq = 2, st;
    struct line l;
    int rc = 0;

    memset(b, 0, sizeof(*b));
    b->dev = d;
    b->tsc_hz = e->tsc_hz;
    b->mem_mib = mem_mib;
    b->stats_q = b->hint_q = b->report_q = -1;
    line_start(&l);
    line_str(&l, "balloon-init");
    line_kv_hex(&l, "addr", d->base);
    if (virtio_negotiate(d,
                         BAL_F_STATS_VQ | BAL_F_DEFLATE_ON_OOM |
                             BAL_F_FREE_PAGE_HINT | BAL_F_REPORTING,
                         &l, &dev, &b->features)) {
        rc = -1;
        goto out;
    }
    if (b->features & BAL_F_STATS_VQ)
        b->stats_q = (int)nq++;
    if (b->features & BAL_F_FREE_PAGE_HINT)
        b->hint_q = (int)nq++;
    if (b->features & BAL_F_REPORTING)
        b->report_q = (int)nq++;
    for (uint32_t i = 0; i < nq; i++) {
        if (vring_setup(d, i, &b->q[i], rings[i], QSIZE)) {
            line_str(&l, " queue=bad");
            rc = -1;
            goto out;
        }
    }
    vw(d, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    st = vr(d, VM_STATUS);
    line_kv_hex(&l, "status", st);
    if (st & (ST_NEEDS_RESET | ST_FAILED)) {
        rc = -1;
        goto out;
    }
    line_str(&l, b->stats_q >= 0 ? " stats=1" : " stats=0");
    line_str(&l, b->features & BAL_F_DEFLATE_ON_OOM ? " deflate_on_oom=1"
                                                    : " deflate_on_oom=0");
    line_str(&l, b->hint_q >= 0 ? " hinting=1" : " hinting=0");
    line_str(&l, b->report_q >= 0 ? " reporting=1" : " reporting=0");
    if (b->stats_q >= 0)
        stats_publish(b);
out:
    line_str(&l, rc ? " ok=no" : " ok=yes");
    line_end(&l);
    return rc;
}

static void balloon_run(struct venv *e, const struct vdev *d)
{
    uint64_t mib = virtio_param_u64(e, "squibmib=", 16);
    uint64_t base = virtio_param_u64(e, "squibbase=", 0x4000000);
    uint64_t mem = virtio_param_u64(e, "squibmem=", 128);
    uint64_t timeout =
        e->tsc_hz / 1000 * virtio_param_u64(e, "squibtimeout=", 60000);
    uint32_t pages = (uint32_t)(mib * 256), chains = 0, zeroed = 0;
    struct line l;

    if (bal_init(&drv, d, e, (uint32_t)mem))
        return;
    for (uint64_t a = base; a < base + mib * (1 << 20); a += PAGE) {
        *(volatile uint8_t *)(uintptr_t)a = 0x5a;
        *(volatile uint8_t *)(uintptr_t)(a + PAGE / 2) = 0xa5;
    }
    line_start(&l);
    line_str(&l, "balloon-touched");
    line_kv_hex(&l, "base", base);
    line_kv_dec(&l, "mib", mib);
    line_kv_dec(&l, "pages", pages);
    line_end(&l);

    line_start(&l);
    line_str(&l, "balloon-target");
    if (!wait_target(&drv, pages, timeout)) {
        line_str(&l, " result=timeout");
        line_kv_dec(&l, "num_pages", bal_cfg_read(&drv, CFG_NUM_PAGES));
        line_end(&l);
        return;
    }
    line_kv_dec(&l, "num_pages", pages);
    line_end(&l);

    line_start(&l);
    line_str(&l, "balloon-inflated");
    line_str(&l, bal_move_pages(&drv, INFLATEQ, base, pages, timeout, &chains)
                     ? " result=timeout"
                     : " result=ok");
    bal_cfg_write(&drv, CFG_ACTUAL, pages);
    line_kv_dec(&l, "pages", pages);
    line_kv_dec(&l, "chains", chains);
    line_kv_dec(&l, "actual", bal_cfg_read(&drv, CFG_ACTUAL));
    line_end(&l);

    line_start(&l);
    line_str(&l, "balloon-deflated");
    if (!wait_target(&drv, 0, timeout)) {
        line_str(&l, " result=timeout");
        line_end(&l);
        return;
    }
    chains = 0;
    line_str(&l, bal_move_pages(&drv, DEFLATEQ, base, pages, timeout, &chains)
                     ? " result=timeout"
                     : " result=ok");
    bal_cfg_write(&drv, CFG_ACTUAL, 0);
    for (uint64_t a = base; a < base + mib * (1 << 20); a += PAGE)
        zeroed += *(volatile uint8_t *)(uintptr_t)a == 0 &&
                  *(volatile uint8_t *)(uintptr_t)(a + PAGE / 2) == 0;
    line_kv_dec(&l, "pages", pages);
    line_kv_dec(&l, "chains", chains);
    line_kv_dec(&l, "zeroed", zeroed);
    line_kv_dec(&l, "actual", bal_cfg_read(&drv, CFG_ACTUAL));
    line_end(&l);

    line_start(&l);
    line_str(&l, "balloon-done");
    line_kv_dec(&l, "stats_refreshes", drv.refreshes);
    line_end(&l);
}

/* -------------------------------------------------------- balloon-follow */

/*
 * balloon-follow: touch every page of [squibbase, squibmem MiB), print
 * balloon-touched, then forever follow num_pages as Linux's driver does:
 * inflate or deflate 256 PFNs a chain (from squibbase upwards), writing
 * `actual` after each chain, and print balloon-follow once actual reaches
 * a new target. A target above the touched pages is capped there.
 */
static void balloon_follow(struct venv *e, const struct vdev *d)
{
    uint64_t base = virtio_param_u64(e, "squibbase=", 0x4000000);
    uint64_t mem = virtio_param_u64(e, "squibmem=", 128);
    uint64_t timeout =
        e->tsc_hz / 1000 * virtio_param_u64(e, "squibtimeout=", 60000);
    uint64_t end = mem << 20;
    uint32_t max = end > base ? (uint32_t)((end - base) / PAGE) : 0;
    uint32_t actual = 0, reported = 0, chains = 0;
    struct line l;

    if (bal_init(&drv, d, e, (uint32_t)mem))
        return;
    for (uint64_t a = base; a < end; a += PAGE)
        *(volatile uint8_t *)(uintptr_t)a = 0x5a;
    line_start(&l);
    line_str(&l, "balloon-touched");
    line_kv_hex(&l, "base", base);
    line_kv_dec(&l, "mib", (end - base) >> 20);
    line_kv_dec(&l, "pages", max);
    line_end(&l);
    for (;;) {
        uint32_t want = bal_cfg_read(&drv, CFG_NUM_PAGES), n;

        bal_stats_service(&drv);
        if (want > max)
            want = max;
        if (want == actual) {
            if (actual != reported) {
                reported = actual;
                line_start(&l);
                line_str(&l, "balloon-follow");
                line_kv_dec(&l, "actual", actual);
                line_kv_dec(&l, "chains", chains);
                line_end(&l);
                chains = 0;
            }
            delay_cycles(e->tsc_hz / 1000);
            continue;
        }
        n = want > actual ? want - actual : actual - want;
        if (n > PFNS_PER_CHAIN)
            n = PFNS_PER_CHAIN;
        if (want > actual) {
            if (bal_move_pages(&drv, INFLATEQ, base + actual * PAGE, n, timeout,
                               &chains))
                break;
            actual += n;
        } else {
            if (bal_move_pages(&drv, DEFLATEQ, base + (actual - n) * PAGE, n,
                               timeout, &chains))
                break;
            actual -= n;
        }
        bal_cfg_write(&drv, CFG_ACTUAL, actual);
    }
    say("balloon-follow result=timeout");
}

/* ------------------------------------------------------- hostile-balloon */

static const char *const hnames[] = {
    "pfn-outside-ram", "pfn-duplicates",   "inflate-write-only",
    "inflate-odd-len", "inflate-zero-len", "deflate-outside-ram",
    "stats-odd-len",   "stats-oversized",  "stats-write-only",
};

static int streq(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && memcmp(a, b, strlen(b)) == 0;
}

/*
 * One hostile case, then a good inflate and deflate of one page to show
 * the device still works. Prints hostile-case name= answered= then
 * after_ok=.
 */
static void h_case(struct bdrv *b, const char *name, uint64_t base,
                   uint64_t timeout)
{
    int answered = 1, is_stats = 0;
    uint32_t chains = 0;
    struct line l;

    if (streq(name, "pfn-outside-ram")) {
        pfns[0] = OUTSIDE_RAM_PFN;
        pfns[1] = (uint32_t)(base >> 12);
        answered = send_pfns(b, INFLATEQ, 8, 0, timeout);
    } else if (streq(name, "pfn-duplicates")) {
        for (uint32_t i = 0; i < PFNS_PER_CHAIN; i++)
            pfns[i] = (uint32_t)(base >> 12) + (i & 3);
        answered = send_pfns(b, INFLATEQ, PFNS_PER_CHAIN * 4, 0, timeout);
    } else if (streq(name, "inflate-write-only")) {
        pfns[0] = (uint32_t)(base >> 12);
        answered = send_pfns(b, INFLATEQ, 4, D_WRITE, timeout);
    } else if (streq(name, "inflate-odd-len")) {
        pfns[0] = (uint32_t)(base >> 12);
        answered = send_pfns(b, INFLATEQ, 7, 0, timeout);
    } else if (streq(name, "inflate-zero-len")) {
        answered = send_pfns(b, INFLATEQ, 0, 0, timeout);
    } else if (streq(name, "deflate-outside-ram")) {
        pfns[0] = OUTSIDE_RAM_PFN;
        answered = send_pfns(b, DEFLATEQ, 4, 0, timeout);
    } else {
        /* The stats queue holds one buffer at a time: these replace the
         * next refill with a bad one and wait for the device to give it
         * back at its next poll (or not: then answered=no). */
        uint32_t len = ST_RECORD * N_STATS, id, ulen;
        uint16_t flags = 0;
        uint64_t t0;

        is_stats = 1;
        if (b->stats_q < 0) {
            answered = 0;
            goto report;
        }
        if (streq(name, "stats-odd-len"))
            len = 7;
        else if (streq(name, "stats-oversized"))
            len = 256 * ST_RECORD + 10;
        else
            flags = D_WRITE;
        /* wait for the device to hand the good buffer back first */
        t0 = rdtsc();
        while (!vring_take(&b->q[b->stats_q], &id, &ulen)) {
            if (rdtsc() - t0 > timeout) {
                answered = 0;
                goto report;
            }
            delay_cycles(b->tsc_hz / 1000);
        }
        vring_set_desc(&b->q[b->stats_q], 0, addr_of(stats_buf), len, flags, 0);
        vring_publish(&b->q[b->stats_q], 0);
        vring_kick(b->dev, (uint32_t)b->stats_q);
        t0 = rdtsc();
        while (!vring_take(&b->q[b->stats_q], &id, &ulen)) {
            if (rdtsc() - t0 > timeout) {
                answered = 0;
                break;
            }
            delay_cycles(b->tsc_hz / 1000);
        }
        stats_publish(b); /* a good buffer again */
    }
report:
    line_start(&l);
    line_str(&l, "hostile-case case=");
    line_str(&l, name);
    line_str(&l, answered ? " answered=yes" : " answered=no");
    line_str(&l, is_stats ? " queue=stats" : " queue=pfn");
    line_kv_hex(&l, "status", vr(b->dev, VM_STATUS));
    line_str(&l,
             bal_move_pages(b, INFLATEQ, base, 1, timeout, &chains) == 0 &&
                     bal_move_pages(b, DEFLATEQ, base, 1, timeout, &chains) == 0
                 ? " after_ok=yes"
                 : " after_ok=no");
    line_end(&l);
}

static void hostile_balloon(struct venv *e, const struct vdev *d)
{
    uint64_t base = virtio_param_u64(e, "squibbase=", 0x4000000);
    uint64_t timeout =
        e->tsc_hz / 1000 * virtio_param_u64(e, "squibtimeout=", 5000);
    size_t clen = 0;
    const char *only = virtio_param(e, "squibcase=", &clen);

    if (bal_init(&drv, d, e, 128))
        return;
    for (size_t i = 0; i < sizeof(hnames) / sizeof(hnames[0]); i++) {
        if (only &&
            (clen != strlen(hnames[i]) || memcmp(only, hnames[i], clen) != 0))
            continue;
        h_case(&drv, hnames[i], base, timeout);
    }
    say("hostile done");
}

/* ---------------------------------------------------------------- entry */

void balloon_run_test(struct venv *e, int which)
{
    const struct vdev *d = virtio_find_dev(e, ID_BALLOON);

    if (!d) {
        say("virtio-balloon found=no");
        return;
    }
    if (which == 0)
        balloon_run(e, d);
    else if (which == 1)
        hostile_balloon(e, d);
    else if (which == 4)
        balloon_follow(e, d);
    else
        bal_hint_test(e, d, which == 3);
    virtio_dev_reset(d);
}

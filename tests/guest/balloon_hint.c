/*
 * balloon_hint.c: the test guest's free page hinting and free page
 * reporting, on balloon.c's driver (balloon_drv.h): the tests
 * balloon-hint and hostile-hint (README.md "virtio-balloon tests").
 *
 * Hinting follows Linux's virtio_balloon: when the host writes a new
 * free_page_hint_cmd_id (>= 2) to the config space, the driver sends that
 * id in a 4-byte device-readable buffer, then free memory as
 * device-writable buffers (one a chain), then the id STOP (0) the same way;
 * the pages are the driver's again once the host writes DONE (1).
 * Reporting: chains of device-writable buffers, one per free range; used
 * means the host may have dropped them.
 */
#include "balloon_drv.h"
#include "guest.h"
#include "virtio_int.h"
#include "vring.h"

#define HINT_BUF      (1ULL << 20) /* bytes a hint buffer covers */
#define REPORT_SEGS   4            /* buffers a reporting chain holds */
#define OUTSIDE_RAM   (1ULL << 40) /* 1 TiB: no guest RAM there */
#define MARK_A        0x5a
#define MARK_B        0xa5
#define WRITE_ONLY    D_WRITE
#define DEVICE_READS  0
#define CHAIN_MAX_SEG 8

static struct bdrv hdrv;
static const struct venv *henv; /* hostile_hint()'s, for re-initialising */
static uint32_t cmd_buf[2] __attribute__((aligned(64)));

/* Write the two marks of every page of [base, base + bytes). */
static void touch(uint64_t base, uint64_t bytes)
{
    for (uint64_t a = base; a < base + bytes; a += BAL_PAGE) {
        *(volatile uint8_t *)(uintptr_t)a = MARK_A;
        *(volatile uint8_t *)(uintptr_t)(a + BAL_PAGE / 2) = MARK_B;
    }
}

/* Pages of [base, base + bytes) whose two marked bytes read zero. */
static uint32_t zeroed(uint64_t base, uint64_t bytes)
{
    uint32_t n = 0;

    for (uint64_t a = base; a < base + bytes; a += BAL_PAGE)
        n += *(volatile uint8_t *)(uintptr_t)a == 0 &&
             *(volatile uint8_t *)(uintptr_t)(a + BAL_PAGE / 2) == 0;
    return n;
}

/* Whether the page at a still holds its marks. */
static int kept(uint64_t a)
{
    return *(volatile uint8_t *)(uintptr_t)a == MARK_A &&
           *(volatile uint8_t *)(uintptr_t)(a + BAL_PAGE / 2) == MARK_B;
}

/* Wait (serving stats) until the config's command id satisfies want:
 * a value >= 2 other than `not` (want 0), or exactly want. */
static int wait_cmd(struct bdrv *b, uint32_t want, uint32_t not,
                    uint64_t timeout, uint32_t *got)
{
    uint64_t t0 = rdtsc();

    for (;;) {
        uint32_t c = bal_cfg_read(b, BAL_CFG_HINT_CMD);

        bal_stats_service(b);
        if (want ? c == want : (c > BAL_HINT_DONE && c != not )) {
            *got = c;
            return 1;
        }
        if (rdtsc() - t0 > timeout) {
            *got = c;
            return 0;
        }
        delay_cycles(b->tsc_hz / 1000);
    }
}

/* A chain of the command id `cmd` (4 bytes at `at`, device-readable)
 * followed by n segments; 1 when used. */
static int send_cmd_and(struct bdrv *b, uint64_t at, uint32_t cmd,
                        const struct bal_seg *more, uint32_t n,
                        uint64_t timeout)
{
    struct bal_seg s[CHAIN_MAX_SEG];

    if (at == addr_of(cmd_buf))
        cmd_buf[0] = cmd; /* little-endian, as virtio32 */
    s[0] = (struct bal_seg){at, 4, DEVICE_READS};
    for (uint32_t i = 0; i < n && i + 1 < CHAIN_MAX_SEG; i++)
        s[i + 1] = more[i];
    return bal_send_chain(b, b->hint_q, s, n + 1, timeout);
}

static int send_cmd(struct bdrv *b, uint32_t cmd, uint64_t timeout)
{
    return send_cmd_and(b, addr_of(cmd_buf), cmd, 0, 0, timeout);
}

/* Hint [base, base + bytes) in HINT_BUF buffers, one a chain, counting
 * buffers sent and used. */
static void hint_range(struct bdrv *b, uint64_t base, uint64_t bytes,
                       uint64_t timeout, uint32_t *sent, uint32_t *used)
{
    for (uint64_t a = base; a < base + bytes; a += HINT_BUF) {
        uint64_t left = base + bytes - a;
        const struct bal_seg s = {
            a, (uint32_t)(left < HINT_BUF ? left : HINT_BUF), WRITE_ONLY};

        (*sent)++;
        *used += (uint32_t)bal_send_chain(b, b->hint_q, &s, 1, timeout);
    }
}

/* Report [base, base + bytes) in chains of REPORT_SEGS buffers. */
static void report_range(struct bdrv *b, uint64_t base, uint64_t bytes,
                         uint64_t timeout, uint32_t *bufs, uint32_t *chains,
                         uint32_t *used)
{
    for (uint64_t a = base; a < base + bytes;) {
        struct bal_seg s[REPORT_SEGS];
        uint32_t n = 0;

        for (; n < REPORT_SEGS && a < base + bytes; n++, a += HINT_BUF) {
            uint64_t left = base + bytes - a;

            s[n] = (struct bal_seg){
                a, (uint32_t)(left < HINT_BUF ? left : HINT_BUF), WRITE_ONLY};
        }
        *bufs += n;
        (*chains)++;
        *used += (uint32_t)bal_send_chain(b, b->report_q, s, n, timeout);
    }
}

/* ---------------------------------------------------------- balloon-hint */

static void hint_run(struct venv *e, const struct vdev *d)
{
    uint64_t mib = virtio_param_u64(e, "squibmib=", 8);
    uint64_t base = virtio_param_u64(e, "squibbase=", 0x4000000);
    uint64_t mem = virtio_param_u64(e, "squibmem=", 128);
    uint64_t runs = virtio_param_u64(e, "squibruns=", 2);
    uint64_t timeout =
        e->tsc_hz / 1000 * virtio_param_u64(e, "squibtimeout=", 60000);
    uint64_t bytes = mib << 20;
    uint32_t pages = (uint32_t)(mib * 256), last = 0;
    struct line l;

    if (bal_init(&hdrv, d, e, (uint32_t)mem))
        return;
    touch(base, bytes);
    line_start(&l);
    line_str(&l, "hint-touched");
    line_kv_hex(&l, "base", base);
    line_kv_dec(&l, "mib", mib);
    line_kv_dec(&l, "pages", pages);
    line_end(&l);
    for (uint64_t run = 1; hdrv.hint_q >= 0 && run <= runs; run++) {
        uint32_t cmd, sent = 0, used = 0, start_ok, stop_ok, now;

        line_start(&l);
        line_str(&l, "hint-run");
        line_kv_dec(&l, "n", run);
        if (!wait_cmd(&hdrv, 0, last, timeout, &cmd)) {
            line_str(&l, " result=timeout");
            line_kv_dec(&l, "cmd_id", cmd);
            line_end(&l);
            break;
        }
        last = cmd;
        start_ok = (uint32_t)send_cmd(&hdrv, cmd, timeout);
        hint_range(&hdrv, base, bytes, timeout, &sent, &used);
        stop_ok = (uint32_t)send_cmd(&hdrv, BAL_HINT_STOP, timeout);
        line_kv_dec(&l, "cmd_id", cmd);
        line_kv_dec(&l, "start_used", start_ok);
        line_kv_dec(&l, "buffers", sent);
        line_kv_dec(&l, "used", used);
        line_kv_dec(&l, "stop_used", stop_ok);
        line_kv_dec(&l, "bytes", bytes);
        line_end(&l);

        /* The pages are ours again once the host says DONE. */
        line_start(&l);
        line_str(&l, "hint-done");
        line_kv_dec(&l, "n", run);
        if (!wait_cmd(&hdrv, BAL_HINT_DONE, 0, timeout, &now)) {
            line_str(&l, " result=timeout");
            line_kv_dec(&l, "cmd_id", now);
            line_end(&l);
            break;
        }
        line_kv_dec(&l, "cmd_id", now);
        line_kv_dec(&l, "zeroed", zeroed(base, bytes));
        line_kv_dec(&l, "pages", pages);
        line_end(&l);
        touch(base, bytes); /* used again, as Linux gives them back */
    }

    line_start(&l);
    line_str(&l, "report-done");
    if (hdrv.report_q < 0) {
        line_str(&l, " reporting=0");
    } else {
        uint32_t bufs = 0, chains = 0, used = 0;

        report_range(&hdrv, base, bytes, timeout, &bufs, &chains, &used);
        line_kv_dec(&l, "buffers", bufs);
        line_kv_dec(&l, "chains", chains);
        line_kv_dec(&l, "used", used);
        line_kv_dec(&l, "zeroed", zeroed(base, bytes));
        line_kv_dec(&l, "pages", pages);
    }
    line_end(&l);

    line_start(&l);
    line_str(&l, "balloon-hint-done");
    line_kv_dec(&l, "stats_refreshes", hdrv.refreshes);
    line_end(&l);
}

/* ----------------------------------------------------------- hostile-hint */

/* Cases in the order they run; those before "hint-no-cmd" run before the
 * host starts a hinting run. */
static const char *const hcases[] = {
    "hint-before-run",  "hint-no-cmd",      "done-before-start",
    "hint-stale-cmd",   "hint-wrong-cmd",   "stop-then-hint",
    "cmd-outside-ram",  "hint-outside-ram", "hint-overlap",
    "hint-duplicate",   "hint-zero-len",    "hint-huge-len",
    "hint-addr-wraps",  "hint-read-only",   "report-outside-ram",
    "report-read-only", "report-zero-len",  "report-huge-len",
    "report-overlap",   "guest-done",
};

#define N_HCASES     (sizeof(hcases) / sizeof(hcases[0]))
#define FIRST_IN_RUN 1

static int streq(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && memcmp(a, b, strlen(b)) == 0;
}

/* A hint buffer of `pages` pages at page index `pg` of the scratch. */
static struct bal_seg hseg(uint64_t scratch, uint32_t pg, uint32_t pages,
                           uint16_t flags)
{
    return (struct bal_seg){scratch + pg * BAL_PAGE,
                            (uint32_t)(pages * BAL_PAGE), flags};
}

/*
 * Run case i with the run's command id cmd (0 before the run); *probe is
 * set to the scratch page whose marks tell whether the device dropped it
 * (0: none). 1 when the device used the case's chain.
 */
static int h_do(struct bdrv *b, size_t i, uint64_t sc, uint32_t cmd,
                uint64_t timeout, uint64_t *probe)
{
    const char *n = hcases[i];
    const uint64_t cb = addr_of(cmd_buf);
    uint32_t pg = (uint32_t)i * 4; /* this case's own scratch pages */
    struct bal_seg s[3];

    *probe = sc + pg * BAL_PAGE;
    s[0] = hseg(sc, pg, 1, WRITE_ONLY);
    if (streq(n, "hint-before-run") || streq(n, "hint-no-cmd"))
        return bal_send_chain(b, b->hint_q, s, 1, timeout);
    if (streq(n, "done-before-start"))
        return send_cmd_and(b, cb, BAL_HINT_DONE, s, 1, timeout);
    if (streq(n, "hint-stale-cmd"))
        return send_cmd_and(b, cb, cmd - 1, s, 1, timeout);
    if (streq(n, "hint-wrong-cmd"))
        return send_cmd_and(b, cb, cmd + 100, s, 1, timeout);
    if (streq(n, "stop-then-hint"))
        return send_cmd_and(b, cb, BAL_HINT_STOP, s, 1, timeout);
    if (streq(n, "cmd-outside-ram"))
        return send_cmd_and(b, OUTSIDE_RAM, cmd, s, 1, timeout);
    if (streq(n, "guest-done"))
        return send_cmd(b, BAL_HINT_DONE, timeout);
    if (streq(n, "hint-overlap") || streq(n, "report-overlap")) {
        s[0] = hseg(sc, pg, 2, WRITE_ONLY);
        s[1] = hseg(sc, pg + 1, 2, WRITE_ONLY);
    } else if (streq(n, "hint-duplicate")) {
        s[1] = s[0];
        s[2] = s[0];
    } else if (streq(n, "hint-zero-len") || streq(n, "report-zero-len")) {
        s[0].len = 0;
    } else if (streq(n, "hint-read-only") || streq(n, "report-read-only")) {
        s[0].flags = DEVICE_READS;
    } else {
        /* outside-ram, huge-len, addr-wraps: nothing of ours is hit */
        *probe = 0;
        s[0] = (struct bal_seg){OUTSIDE_RAM, (uint32_t)BAL_PAGE, WRITE_ONLY};
        if (streq(n, "hint-huge-len") || streq(n, "report-huge-len"))
            s[0].len = 0xfffff000u;
        else if (streq(n, "hint-addr-wraps"))
            s[0] = (struct bal_seg){0xfffffffffffff000ULL, 0x10000, WRITE_ONLY};
    }
    if (n[0] == 'r') {
        if (b->report_q < 0)
            return 0;
        return bal_send_chain(b, b->report_q, s,
                              streq(n, "report-overlap") ? 2 : 1, timeout);
    }
    return send_cmd_and(b, cb, cmd, s,
                        streq(n, "hint-overlap")     ? 2
                        : streq(n, "hint-duplicate") ? 3
                                                     : 1,
                        timeout);
}

/*
 * After a case: the run's command id (in a run), a good inflate and
 * deflate of one page, and a good report of one page are all used.
 */
static int h_after(struct bdrv *b, uint64_t good, uint32_t cmd,
                   uint64_t timeout)
{
    uint32_t chains = 0;
    const struct bal_seg r = {good, (uint32_t)BAL_PAGE, WRITE_ONLY};

    if (cmd && !send_cmd(b, cmd, timeout))
        return 0;
    if (bal_move_pages(b, BAL_INFLATEQ, good, 1, timeout, &chains) ||
        bal_move_pages(b, BAL_DEFLATEQ, good, 1, timeout, &chains))
        return 0;
    return b->report_q < 0 || bal_send_chain(b, b->report_q, &r, 1, timeout);
}

static void h_case(struct bdrv *b, size_t i, uint64_t sc, uint32_t cmd,
                   uint64_t timeout, uint32_t *ok)
{
    uint64_t probe = 0;
    int answered = h_do(b, i, sc, cmd, timeout, &probe), after;
    struct line l;

    line_start(&l);
    line_str(&l, "hint-case case=");
    line_str(&l, hcases[i]);
    line_str(&l, answered ? " answered=yes" : " answered=no");
    line_str(&l, !probe ? " kept=na" : kept(probe) ? " kept=yes" : " kept=no");
    line_kv_hex(&l, "status", vr(b->dev, VM_STATUS));
    line_kv_dec(&l, "cmd_id", bal_cfg_read(b, BAL_CFG_HINT_CMD));
    if (vr(b->dev, VM_STATUS) & ST_NEEDS_RESET) {
        /* The device gave up (QEMU does on a 0-byte buffer): reset it
         * and bring it up again, as a driver would. */
        line_str(&l, " reset=yes");
        if (bal_init(b, b->dev, henv, b->mem_mib))
            line_str(&l, " reinit=no");
    }
    after = h_after(b, sc + (N_HCASES * 4 + 4) * BAL_PAGE, cmd, timeout);
    line_str(&l, after ? " after_ok=yes" : " after_ok=no");
    line_end(&l);
    *ok += (uint32_t)(answered && after);
}

static void hostile_hint(struct venv *e, const struct vdev *d)
{
    uint64_t sc = virtio_param_u64(e, "squibbase=", 0x4000000);
    uint64_t timeout =
        e->tsc_hz / 1000 * virtio_param_u64(e, "squibtimeout=", 5000);
    uint64_t wait = e->tsc_hz / 1000 * virtio_param_u64(e, "squibwait=", 60000);
    uint64_t hold = e->tsc_hz / 1000 * virtio_param_u64(e, "squibhold=", 0);
    size_t clen = 0;
    const char *only = virtio_param(e, "squibcase=", &clen);
    uint32_t cmd = 0, ran = 0, ok = 0;
    struct line l;

    henv = e;
    if (bal_init(&hdrv, d, e, 128))
        return;
    if (hdrv.hint_q < 0) {
        say("hostile done dev=hint hinting=0");
        return;
    }
    touch(sc, (N_HCASES * 4 + 8) * BAL_PAGE);
    for (size_t i = 0; i < N_HCASES; i++) {
        if (i == FIRST_IN_RUN) {
            say("hostile-hint waiting");
            line_start(&l);
            line_str(&l, "hint-start");
            /* Without a run (a host that never starts one) the cases
             * still run, with command id 0. */
            if (!wait_cmd(&hdrv, 0, 0, wait, &cmd)) {
                line_str(&l, " result=timeout");
                cmd = 0;
            }
            line_kv_dec(&l, "cmd_id", cmd);
            line_end(&l);
        }
        if (only &&
            (clen != strlen(hcases[i]) || memcmp(only, hcases[i], clen) != 0))
            continue;
        h_case(&hdrv, i, sc, cmd, timeout, &ok);
        ran++;
    }
    line_start(&l);
    line_str(&l, "hostile done dev=hint");
    line_kv_dec(&l, "cases", ran);
    line_kv_dec(&l, "ok", ok);
    line_kv_dec(&l, "cmd_id", bal_cfg_read(&hdrv, BAL_CFG_HINT_CMD));
    line_end(&l);
    /* The device stays up (stats served) while the host looks at it. */
    for (uint64_t t0 = rdtsc(); rdtsc() - t0 < hold;) {
        bal_stats_service(&hdrv);
        delay_cycles(hdrv.tsc_hz / 1000);
    }
}

void bal_hint_test(struct venv *e, const struct vdev *d, int hostile)
{
    if (hostile)
        hostile_hint(e, d);
    else
        hint_run(e, d);
}

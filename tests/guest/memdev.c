/*
 * memdev.c: the test guest's memory-device tests: virtio-pmem (the file
 * window read and written through guest memory, FLUSH, hostile requests)
 * and virtio-mem (blocks plugged, touched, queried and unplugged, with
 * requests the device must refuse). Both windows live past 512 GiB, above
 * the guest's identity map of the first 4 GiB, so the window is mapped
 * with one more page-directory-pointer table and directory of 2 MiB pages
 * (map_high). See README.md ("memory-device tests") for the lines.
 */
#include "guest.h"
#include "virtio_int.h"

#define GIB      (1ULL << 30)
#define HIGH_MIN (512ULL * GIB)

#define PMEM_CFG_START 0x100
#define PMEM_CFG_SIZE  0x108

#define MEM_CFG_BLOCK                0x100
#define MEM_CFG_ADDR                 0x110
#define MEM_CFG_REGION               0x118
#define MEM_CFG_USABLE               0x120
#define MEM_CFG_PLUGGED              0x128
#define MEM_CFG_REQUESTED            0x130
#define MEM_F_UNPLUGGED_INACCESSIBLE (1ULL << 1)

#define MEM_PLUG       0
#define MEM_UNPLUG     1
#define MEM_UNPLUG_ALL 2
#define MEM_STATE      3

/* Outside RAM and every window: what hostile requests point at. */
#define NOWHERE 0x10000000000ULL /* 1 TiB */

struct mem_req {
    uint16_t type, pad[3];
    uint64_t addr;
    uint16_t nb_blocks, pad2[3];
};

struct mem_resp {
    uint16_t type, pad[3];
    uint16_t state;
};

static uint64_t hi_pdpt[512] __attribute__((aligned(4096)));
static uint64_t hi_pd[512] __attribute__((aligned(4096)));
static uint32_t req_type __attribute__((aligned(16)));
static uint8_t req_long[16] __attribute__((aligned(16)));
static volatile uint32_t req_status __attribute__((aligned(16)));
static struct mem_req mreq __attribute__((aligned(64)));
static volatile struct mem_resp mresp __attribute__((aligned(64)));
static uint8_t copy[256];

static uint64_t cfg64(const struct vdev *d, uint32_t off)
{
    return vr(d, off) | (uint64_t)vr(d, off + 4) << 32;
}

/*
 * Map the GiB holding gpa (>= 4 GiB) at the same virtual address with
 * 2 MiB pages, replacing the previous high mapping. 0, or -1 below 4 GiB.
 * Below 512 GiB it is an entry of the boot PDPT (QEMU puts virtio-mem's
 * region right above RAM there); the boot identity map's entries (the
 * first four) and its PML4 entry are never touched.
 */
static int map_high(uint64_t gpa)
{
    uint64_t gib = gpa & ~(GIB - 1);

    if (gpa < 4 * GIB)
        return -1;
    for (uint64_t j = 0; j < 512; j++)
        hi_pd[j] = (gib + (j << 21)) | 0x83; /* present, writable, 2 MiB */
    if (gpa < HIGH_MIN) {
        pdpt[(gpa >> 30) & 511] = addr_of(hi_pd) | 3;
    } else {
        memset(hi_pdpt, 0, sizeof(hi_pdpt));
        hi_pdpt[(gpa >> 30) & 511] = addr_of(hi_pd) | 3;
        pml4[(gpa >> 39) & 511] = addr_of(hi_pdpt) | 3;
    }
    __asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
    return 0;
}

static volatile uint8_t *at(uint64_t gpa)
{
    return (volatile uint8_t *)(uintptr_t)gpa;
}

/* ---------------------------------------------------------------- pmem */

/* A case's address "use the 16-byte buffer" (static tables cannot hold
 * addresses of .bss objects in this freestanding build). */
#define LONG_BUF 1

/* One FLUSH chain: the type head then the status; 0 fields are the good
 * request's (its own buffers, 4 bytes each). */
struct pcase {
    const char *name;
    uint64_t head_addr, status_addr;
    uint32_t head_len, status_len;
    uint16_t head_flags, status_flags;
    int no_status;
    uint32_t type;
};

static void pmem_request(struct vdrv *v, const struct pcase *c,
                         uint64_t timeout, struct vres *r)
{
    uint16_t hf = c->head_flags | (c->no_status ? 0 : D_NEXT);
    uint64_t ha = c->head_addr == LONG_BUF ? addr_of(req_long) : c->head_addr;
    uint64_t sa =
        c->status_addr == LONG_BUF ? addr_of(req_long) : c->status_addr;

    req_type = c->type;
    req_status = 0x7777;
    virtio_set_desc(&v->q, 0, ha ? ha : addr_of(&req_type),
                    c->head_len ? c->head_len : 4, hf, 1);
    virtio_set_desc(&v->q, 1, sa ? sa : addr_of(&req_status),
                    c->status_len ? c->status_len : 4, c->status_flags, 0);
    virtio_submit(v, 0, timeout, r);
}

static void pmem_case_line(const char *what, const struct pcase *c,
                           const struct vres *r)
{
    struct line l;

    line_start(&l);
    line_str(&l, what);
    line_kv_str(&l, "case", c->name, strlen(c->name));
    virtio_line_res(&l, r);
    line_kv_hex(&l, "status", req_status);
    line_end(&l);
}

/* n good FLUSH requests, one notification each. */
static void pmem_flushes(struct vdrv *v, uint64_t n, uint64_t timeout)
{
    const struct pcase good = {"flush", 0, 0, 0, 0, 0, D_WRITE, 0, 0};
    uint64_t answered = 0, ok = 0;
    struct vres r;
    struct line l;

    memset(&r, 0, sizeof(r));
    for (uint64_t i = 0; i < n; i++) {
        pmem_request(v, &good, timeout, &r);
        answered += r.answered;
        ok += r.answered && r.len == 4 && req_status == 0;
    }
    line_start(&l);
    line_str(&l, "pmem-flush");
    line_kv_dec(&l, "n", n);
    line_kv_dec(&l, "done", answered);
    line_kv_dec(&l, "good", ok);
    virtio_line_res(&l, &r);
    line_kv_hex(&l, "status", req_status);
    line_end(&l);
}

static void pmem_hostile(struct vdrv *v, uint64_t timeout)
{
    static const struct pcase cases[] = {
        {"type1", 0, 0, 0, 0, 0, D_WRITE, 0, 1},
        {"head8", LONG_BUF, 0, 8, 0, 0, D_WRITE, 0, 0},
        {"head-write", 0, 0, 0, 0, D_WRITE, D_WRITE, 0, 0},
        {"no-status", 0, 0, 0, 0, 0, D_WRITE, 1, 0},
        {"status-ro", 0, 0, 0, 0, 0, 0, 0, 0},
        {"status8", 0, LONG_BUF, 0, 8, 0, D_WRITE, 0, 0},
        {"status-outside", 0, NOWHERE, 0, 0, 0, D_WRITE, 0, 0},
        {"head-outside", NOWHERE, 0, 0, 0, 0, D_WRITE, 0, 0},
    };
    struct vres r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pmem_request(v, &cases[i], timeout, &r);
        pmem_case_line("pmem-hostile", &cases[i], &r);
    }
}

static void pmem_test(struct venv *e, int hostile, uint64_t timeout)
{
    const struct vdev *d = virtio_find_dev(e, ID_PMEM);
    uint64_t n = virtio_param_u64(e, "squibbytes=", 64);
    uint64_t wn = virtio_param_u64(e, "squibwrite=", 0);
    uint64_t off = virtio_param_u64(e, "squiboff=", 0);
    uint64_t start, size;
    static struct vdrv drv;
    struct line l;
    int same = 1;

    if (!d) {
        say("pmem found=no");
        return;
    }
    if (virtio_drv_open(&drv, d, 0, 64))
        return;
    start = cfg64(d, PMEM_CFG_START);
    size = cfg64(d, PMEM_CFG_SIZE);
    line_start(&l);
    line_str(&l, "pmem");
    line_kv_hex(&l, "addr", d->base);
    line_kv_hex(&l, "start", start);
    line_kv_hex(&l, "size", size);
    line_end(&l);
    if (size == 0 || size > GIB || map_high(start) ||
        (start & (GIB - 1)) + size > GIB) {
        say("pmem window=unusable");
        return;
    }
    if (n > sizeof(copy))
        n = sizeof(copy);
    if (off > size - n)
        off = 0;
    for (uint64_t i = 0; i < n; i++)
        copy[i] = at(start + off)[i];
    line_start(&l);
    line_str(&l, "pmem-read");
    line_kv_dec(&l, "off", off);
    line_kv_dec(&l, "bytes", n);
    line_kv_hex(&l, "sum", virtio_fnv1a(copy, n));
    virtio_line_hexbytes(&l, "hex", copy, n < 32 ? n : 32);
    line_end(&l);
    if (wn) {
        /* On a read-only device the slot is read-only: the writes exit to
         * the VMM, which drops them, and the bytes stay as they were. */
        if (wn > sizeof(copy) || wn > size - off)
            wn = sizeof(copy) < size - off ? sizeof(copy) : size - off;
        for (uint64_t i = 0; i < wn; i++)
            at(start + off)[i] = (uint8_t)(i * 13 + 0x21);
        for (uint64_t i = 0; i < wn; i++)
            same &= at(start + off)[i] == (uint8_t)(i * 13 + 0x21);
        line_start(&l);
        line_str(&l, "pmem-write");
        line_kv_dec(&l, "off", off);
        line_kv_dec(&l, "bytes", wn);
        line_str(&l, same ? " readback=written" : " readback=unchanged");
        line_end(&l);
    }
    if (hostile)
        pmem_hostile(&drv, timeout);
    pmem_flushes(&drv, virtio_param_u64(e, "squibflushes=", 1), timeout);
    virtio_dev_reset(d);
}

/* ---------------------------------------------------------- virtio-mem */

static void mem_config_line(const struct vdev *d, const char *what)
{
    struct line l;

    line_start(&l);
    line_str(&l, what);
    line_kv_hex(&l, "block", cfg64(d, MEM_CFG_BLOCK));
    line_kv_hex(&l, "start", cfg64(d, MEM_CFG_ADDR));
    line_kv_hex(&l, "region", cfg64(d, MEM_CFG_REGION));
    line_kv_hex(&l, "usable", cfg64(d, MEM_CFG_USABLE));
    line_kv_hex(&l, "plugged", cfg64(d, MEM_CFG_PLUGGED));
    line_kv_hex(&l, "requested", cfg64(d, MEM_CFG_REQUESTED));
    line_end(&l);
}

/* One request; prints "mem-req name=.. answered=.. used_len=.. resp=..
 * state=..". Returns the response type (0xffff when unanswered). */
static uint32_t mem_request(struct vdrv *v, const char *name, uint16_t type,
                            uint64_t addr, uint16_t nb, uint64_t timeout)
{
    struct vres r;
    struct line l;

    memset(&mreq, 0, sizeof(mreq));
    mreq.type = type;
    mreq.addr = addr;
    mreq.nb_blocks = nb;
    mresp.type = 0xffff;
    mresp.state = 0xffff;
    virtio_set_desc(&v->q, 0, addr_of(&mreq), sizeof(mreq), D_NEXT, 1);
    virtio_set_desc(&v->q, 1, addr_of(&mresp), 10, D_WRITE, 0);
    virtio_submit(v, 0, timeout, &r);
    line_start(&l);
    line_str(&l, "mem-req");
    line_kv_str(&l, "name", name, strlen(name));
    virtio_line_res(&l, &r);
    line_kv_dec(&l, "resp", mresp.type);
    line_kv_dec(&l, "state", mresp.state);
    line_end(&l);
    return r.answered && r.len ? mresp.type : 0xffff;
}

/* Poll the requested size until `cond` (1: non-zero, 0: zero) or ms. */
static uint64_t mem_wait_requested(const struct venv *e, const struct vdev *d,
                                   int nonzero, uint64_t ms)
{
    uint64_t end = rdtsc() + e->tsc_hz / 1000 * ms;
    uint64_t v = cfg64(d, MEM_CFG_REQUESTED);

    while ((v != 0) != nonzero && rdtsc() < end) {
        delay_cycles(e->tsc_hz / 1000);
        v = cfg64(d, MEM_CFG_REQUESTED);
    }
    return v;
}

/* Write then check one quadword in every 4 KiB page of [gpa, gpa + len). */
static void mem_touch(uint64_t gpa, uint64_t len)
{
    uint64_t pages = 0, bad = 0;
    struct line l;

    for (uint64_t p = gpa; p < gpa + len; p += 4096, pages++)
        *(volatile uint64_t *)(uintptr_t)(p + 8) = p ^ 0x5a5a5a5a5a5a5a5aULL;
    for (uint64_t p = gpa; p < gpa + len; p += 4096)
        bad += *(volatile uint64_t *)(uintptr_t)(p + 8) !=
               (p ^ 0x5a5a5a5a5a5a5a5aULL);
    line_start(&l);
    line_str(&l, "mem-touch");
    line_kv_dec(&l, "pages", pages);
    line_kv_dec(&l, "bad", bad);
    line_end(&l);
}

static void mem_test(struct venv *e, uint64_t timeout)
{
    const struct vdev *d = virtio_find_dev(e, ID_MEM);
    uint64_t wait_ms = virtio_param_u64(e, "squibwait=", 30000);
    uint64_t block, start, req, nb;
    static struct vdrv drv;

    if (!d) {
        say("virtio-mem found=no");
        return;
    }
    if (virtio_drv_open(&drv, d, MEM_F_UNPLUGGED_INACCESSIBLE, 64))
        return;
    mem_config_line(d, "mem-config");
    block = cfg64(d, MEM_CFG_BLOCK);
    start = cfg64(d, MEM_CFG_ADDR);
    req = mem_wait_requested(e, d, 1, wait_ms);
    mem_config_line(d, "mem-requested");
    if (!block || !req || req / block > 0xffff || map_high(start) ||
        (start & (GIB - 1)) + req > GIB) {
        say("mem window=unusable");
        return;
    }
    nb = req / block;
    /* Refused before anything is plugged. */
    mem_request(&drv, "plug-too-many", MEM_PLUG, start, (uint16_t)(nb + 1),
                timeout);
    mem_request(&drv, "plug-misaligned", MEM_PLUG, start + 4096, (uint16_t)nb,
                timeout);
    mem_request(&drv, "plug-outside", MEM_PLUG, NOWHERE, 1, timeout);
    mem_request(&drv, "unplug-unplugged", MEM_UNPLUG, start, 1, timeout);
    mem_request(&drv, "bad-type", 9, start, 1, timeout);
    mem_request(&drv, "state-empty", MEM_STATE, start, (uint16_t)nb, timeout);
    /* Plug the requested size, use it, show it. */
    mem_request(&drv, "plug", MEM_PLUG, start, (uint16_t)nb, timeout);
    mem_request(&drv, "plug-again", MEM_PLUG, start, 1, timeout);
    mem_request(&drv, "state-plugged", MEM_STATE, start, (uint16_t)nb, timeout);
    mem_touch(start, req);
    mem_config_line(d, "mem-plugged");
    /* The host looks, then asks for the memory back (requested 0). */
    mem_wait_requested(e, d, 0, wait_ms);
    mem_config_line(d, "mem-unrequested");
    if (nb > 1) {
        mem_request(&drv, "unplug-half", MEM_UNPLUG, start, (uint16_t)(nb / 2),
                    timeout);
        mem_request(&drv, "state-mixed", MEM_STATE, start, (uint16_t)nb,
                    timeout);
    }
    mem_request(&drv, "unplug-all", MEM_UNPLUG_ALL, 0, 0, timeout);
    mem_request(&drv, "state-after", MEM_STATE, start, 1, timeout);
    mem_config_line(d, "mem-done");
    /* The host looks again, then asks for memory once more to let us go. */
    mem_wait_requested(e, d, 1, wait_ms);
    mem_config_line(d, "mem-end");
    virtio_dev_reset(d);
}

/* ------------------------------------------------- snapshots (memsnap) */

/* FNV-1a of the pmem window's first 64 bytes, or 0 without a window. */
static uint32_t pmem_sum(uint64_t start)
{
    for (uint64_t i = 0; i < 64; i++)
        copy[i] = at(start)[i];
    return virtio_fnv1a(copy, 64);
}

/* Pages of [gpa, gpa + len) whose marker quadword (mem_touch's) is not
 * what was written there. */
static uint64_t mem_bad_pages(uint64_t gpa, uint64_t len)
{
    uint64_t bad = 0;

    for (uint64_t p = gpa; p < gpa + len; p += 4096)
        bad += *(volatile uint64_t *)(uintptr_t)(p + 8) !=
               (p ^ 0x5a5a5a5a5a5a5a5aULL);
    return bad;
}

/* Plug [start + have, start + want) and mark it; the plugged size. */
static uint64_t memsnap_grow(struct vdrv *v, const struct vdev *d,
                             uint64_t start, uint64_t have, uint64_t want,
                             uint64_t timeout)
{
    uint64_t block = cfg64(d, MEM_CFG_BLOCK);
    uint64_t nb = (want - have) / block;

    if (!nb || nb > 0xffff ||
        mem_request(v, "memsnap-plug", MEM_PLUG, start + have, (uint16_t)nb,
                    timeout) != 0)
        return have;
    mem_touch(start + have, nb * block);
    return have + nb * block;
}

/*
 * The guest of the snapshot tests: both windows in one GiB past 512 GiB
 * (virtio-mem's region first, pmem's after it, as squib places them), the
 * requested memory plugged and every page marked, then forever, every
 * squibms= ms: "memsnap-check n= bad= plugged= pmem=" (pages whose mark
 * changed, the pmem window's first 64 bytes hashed). When the host asks
 * for more (a PATCH, e.g. after a restore), the new blocks are plugged and
 * marked ("memsnap-grown").
 */
static void memsnap_test(struct venv *e, uint64_t timeout)
{
    const struct vdev *dm = virtio_find_dev(e, ID_MEM);
    const struct vdev *dp = virtio_find_dev(e, ID_PMEM);
    uint64_t ms = virtio_param_u64(e, "squibms=", 200);
    uint64_t start, pstart = 0, plugged = 0, req, n = 0;
    static struct vdrv drv;
    struct line l;

    if (!dm || virtio_drv_open(&drv, dm, MEM_F_UNPLUGGED_INACCESSIBLE, 64)) {
        say("memsnap virtio-mem=no");
        return;
    }
    start = cfg64(dm, MEM_CFG_ADDR);
    if (dp) {
        pstart = cfg64(dp, PMEM_CFG_START);
        if ((pstart & ~(GIB - 1)) != (start & ~(GIB - 1)))
            pstart = 0; /* not in the GiB mapped: not read */
    }
    if (map_high(start)) {
        say("memsnap window=unusable");
        return;
    }
    req = mem_wait_requested(e, dm, 1, 30000);
    if ((start & (GIB - 1)) + req > GIB) {
        say("memsnap window=unusable");
        return;
    }
    plugged = memsnap_grow(&drv, dm, start, 0, req, timeout);
    mem_config_line(dm, "memsnap-ready");
    for (;;) {
        delay_cycles(e->tsc_hz / 1000 * ms);
        req = cfg64(dm, MEM_CFG_REQUESTED);
        if (req > plugged && (start & (GIB - 1)) + req <= GIB) {
            plugged = memsnap_grow(&drv, dm, start, plugged, req, timeout);
            mem_config_line(dm, "memsnap-grown");
        }
        line_start(&l);
        line_str(&l, "memsnap-check");
        line_kv_dec(&l, "n", n++);
        line_kv_dec(&l, "bad", mem_bad_pages(start, plugged));
        line_kv_hex(&l, "plugged", plugged);
        line_kv_hex(&l, "pmem", pstart ? pmem_sum(pstart) : 0);
        line_end(&l);
    }
}

/*
 * mem-follow: forever follow requested_size as a driver does: plug the
 * blocks above what is plugged when it grows, unplug the top ones when it
 * shrinks (UNPLUG_ALL at 0), one request each, then print mem-follow (the
 * config line). squibtouch=1 also writes every page of newly plugged
 * memory (mem-touch) before that line.
 */
static void mem_follow(struct venv *e, uint64_t timeout)
{
    const struct vdev *d = virtio_find_dev(e, ID_MEM);
    uint64_t touch = virtio_param_u64(e, "squibtouch=", 0);
    uint64_t block, start, plugged = 0;
    static struct vdrv drv;

    if (!d || virtio_drv_open(&drv, d, MEM_F_UNPLUGGED_INACCESSIBLE, 64)) {
        say("mem-follow virtio-mem=no");
        return;
    }
    block = cfg64(d, MEM_CFG_BLOCK);
    start = cfg64(d, MEM_CFG_ADDR);
    if (!block || map_high(start)) {
        say("mem-follow window=unusable");
        return;
    }
    mem_config_line(d, "mem-config");
    for (;;) {
        uint64_t req = cfg64(d, MEM_CFG_REQUESTED), nb;

        if ((start & (GIB - 1)) + req > GIB)
            req = GIB - (start & (GIB - 1)); /* what one GiB map reaches */
        req -= req % block;
        if (req == plugged) {
            delay_cycles(e->tsc_hz / 1000);
            continue;
        }
        nb = (req > plugged ? req - plugged : plugged - req) / block;
        if (nb > 0xffff)
            nb = 0xffff;
        if (req > plugged) {
            if (mem_request(&drv, "follow-plug", MEM_PLUG, start + plugged,
                            (uint16_t)nb, timeout) != 0)
                break;
            if (touch)
                mem_touch(start + plugged, nb * block);
            plugged += nb * block;
        } else if (req == 0) {
            if (mem_request(&drv, "follow-unplug-all", MEM_UNPLUG_ALL, 0, 0,
                            timeout) != 0)
                break;
            plugged = 0;
        } else {
            plugged -= nb * block;
            if (mem_request(&drv, "follow-unplug", MEM_UNPLUG, start + plugged,
                            (uint16_t)nb, timeout) != 0)
                break;
        }
        mem_config_line(d, "mem-follow");
    }
    say("mem-follow result=refused");
}

void memdev_run_test(struct venv *e, int which, uint64_t timeout)
{
    if (which == 4)
        mem_follow(e, timeout);
    else if (which == 3)
        memsnap_test(e, timeout);
    else if (which == 2)
        mem_test(e, timeout);
    else
        pmem_test(e, which == 1, timeout);
}

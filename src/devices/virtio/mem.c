/*
 * mem.c: virtio memory device (mem.h), upstream's VirtioMem in C: the
 * hot-pluggable window, its bitmap of plugged blocks, the guest's
 * PLUG/UNPLUG/UNPLUG_ALL/STATE requests and the requested size.
 *
 * Invariants (lock held): plugged_size = popcount(plugged) * block_size;
 * slot_on[i] is true exactly when slot i holds a plugged block and the
 * machine's hook accepted it; plugged_size <= usable_region_size is NOT an
 * invariant (UNPLUG_ALL shrinks usable to 0, PATCH may lower requested).
 */
#include "devices/virtio/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio/virtio_dev.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/time.h"
#include "util/xalloc.h"

#define MIB        (1024ULL * 1024)
#define HOST_ALIGN (2 * MIB)

/* Request and response codes (virtio 1.x 5.15.6). */
#define REQ_PLUG        0
#define REQ_UNPLUG      1
#define REQ_UNPLUG_ALL  2
#define REQ_STATE       3
#define RESP_ACK        0
#define RESP_ERROR      3
#define STATE_PLUGGED   0
#define STATE_UNPLUGGED 1
#define STATE_MIXED     2

struct virtio_mem {
    struct virtio_mmio t;
    struct metrics_memory_hotplug *m;
    virtio_mem_slot_fn *update_slot;
    void *slot_opaque;
    void (*changed)(void *opaque); /* may be NULL */
    void *changed_opaque;

    uint8_t *map;      /* the window, HOST_ALIGN aligned */
    uint8_t *map_base; /* owned mapping as made (map_len bytes); NULL when
                        * the window is adopted (virtio_mem_use_window) */
    size_t map_len;
    bool file_backed; /* adopted window mapped privately from a file */

    /* Config space fields (struct virtio_mem_config). */
    uint64_t block_size;
    gpa_t addr;
    uint64_t region_size;
    uint64_t usable_region_size;
    uint64_t plugged_size;
    uint64_t requested_size;

    uint64_t slot_size;
    uint32_t n_slots;
    uint64_t n_blocks;
    uint64_t *plugged; /* owned bitmap, n_blocks bits */
    bool *slot_on;     /* owned, n_slots */

    struct virtq_chain chain; /* scratch */
};

/* ---- Bitmap -------------------------------------------------------------- */

static bool bit(const struct virtio_mem *vm, uint64_t i)
{
    return (vm->plugged[i / 64] >> (i % 64)) & 1;
}

static void set_bit(struct virtio_mem *vm, uint64_t i, bool on)
{
    if (on)
        vm->plugged[i / 64] |= 1ULL << (i % 64);
    else
        vm->plugged[i / 64] &= ~(1ULL << (i % 64));
}

static uint64_t count_plugged(const struct virtio_mem *vm, uint64_t first,
                              uint64_t n)
{
    uint64_t c = 0;

    for (uint64_t i = first; i < first + n; i++)
        c += bit(vm, i);
    return c;
}

/* PLUGGED / UNPLUGGED / MIXED for a validated block range. */
static uint16_t range_state(const struct virtio_mem *vm, uint64_t first,
                            uint64_t n)
{
    uint64_t c = count_plugged(vm, first, n);

    if (c == n)
        return STATE_PLUGGED;
    return c == 0 ? STATE_UNPLUGGED : STATE_MIXED;
}

bool virtio_mem_block_plugged(const struct virtio_mem *vm, uint64_t i)
{
    return i < vm->n_blocks && bit(vm, i);
}

/* ---- Ranges ---------------------------------------------------------------
 */

/*
 * Upstream's validate_range: block aligned, at least one block, start and
 * end inside the usable region. On success *first is the first block.
 */
static bool validate_range(const struct virtio_mem *vm, uint64_t gpa,
                           uint16_t nb_blocks, uint64_t *first)
{
    uint64_t off, end;

    if (gpa % vm->block_size || nb_blocks == 0 || gpa < vm->addr)
        return false;
    off = gpa - vm->addr;
    if (off >= vm->usable_region_size)
        return false;
    if (__builtin_mul_overflow((uint64_t)nb_blocks, vm->block_size, &end) ||
        __builtin_add_overflow(end, off, &end) || end > vm->usable_region_size)
        return false;
    *first = off / vm->block_size;
    return true;
}

/*
 * Bring the machine's slots over blocks [first, first + n) in line with
 * the bitmap. Returns 0, or the hook's -errno (slots done so far stay).
 */
static int sync_slots(struct virtio_mem *vm, uint64_t first, uint64_t n)
{
    uint64_t per_slot = vm->slot_size / vm->block_size;
    uint32_t s0 = (uint32_t)(first / per_slot);
    uint32_t s1 = (uint32_t)((first + n - 1) / per_slot);

    for (uint32_t s = s0; s <= s1; s++) {
        bool want = count_plugged(vm, s * per_slot, per_slot) > 0;
        int rc;

        if (want == vm->slot_on[s])
            continue;
        if (vm->update_slot) {
            rc = vm->update_slot(
                vm->slot_opaque, s, vm->addr + s * vm->slot_size,
                vm->map + s * vm->slot_size, vm->slot_size, want);
            if (rc < 0)
                return rc;
        }
        vm->slot_on[s] = want;
    }
    return 0;
}

/*
 * Upstream's update_range: set the blocks, update plugged_size, the KVM
 * slots (before discarding, so the guest cannot fault the memory back in
 * between), then discard unplugged memory. If the hook fails, the blocks
 * and slots go back to how they were and -errno is returned.
 */
static int update_range(struct virtio_mem *vm, uint64_t first, uint64_t n,
                        bool plug)
{
    uint64_t *saved = xmalloc(((vm->n_blocks + 63) / 64) * 8);
    uint64_t before = count_plugged(vm, first, n);
    int rc;

    memcpy(saved, vm->plugged, ((vm->n_blocks + 63) / 64) * 8);
    for (uint64_t i = first; i < first + n; i++)
        set_bit(vm, i, plug);
    rc = sync_slots(vm, first, n);
    if (rc < 0) {
        memcpy(vm->plugged, saved, ((vm->n_blocks + 63) / 64) * 8);
        (void)sync_slots(vm, first, n); /* best effort back */
        free(saved);
        return rc;
    }
    free(saved);
    vm->plugged_size -= before * vm->block_size;
    vm->plugged_size += (plug ? n : 0) * vm->block_size;
    if (!plug &&
        guest_mem_release(vm->file_backed, vm->map + first * vm->block_size,
                          n * vm->block_size) < 0) {
        /* Not reported to the driver, as upstream. */
        metrics_counter_inc(&vm->m->unplug_discard_fails);
        log_error_rl("virtio-mem: Failed to discard memory range: errno %d",
                     errno);
    }
    return 0;
}

/* ---- Requests --------------------------------------------------------------
 */

struct req {
    uint16_t type;
    uint64_t addr;
    uint16_t nb_blocks;
};

/* Upstream's parse_request. NULL and a reason on a malformed chain. */
static void *parse_request(const struct virtq_chain *c, struct req *r,
                           const char **why)
{
    const struct virtq_buf *h = &c->bufs[0], *st;
    const uint8_t *p;

    if (h->is_write) {
        *why = "Descriptor is write-only";
        return NULL;
    }
    if (h->len < VIRTIO_MEM_REQ_LEN) {
        *why = "Descriptor is too small";
        return NULL;
    }
    if (!h->hva) {
        *why = "Error reading virtio descriptor";
        return NULL;
    }
    p = h->hva;
    memcpy(&r->type, p, 2);
    memcpy(&r->addr, p + 8, 8);
    memcpy(&r->nb_blocks, p + 16, 2);
    if (c->n < 2) {
        *why = "Descriptor chain is too short";
        return NULL;
    }
    st = &c->bufs[1];
    if (!st->is_write) {
        *why = "Descriptor is read-only";
        return NULL;
    }
    if (st->len < VIRTIO_MEM_RESP_LEN) {
        *why = "Descriptor is too small";
        return NULL;
    }
    if (!st->hva) {
        *why = "Error writing virtio descriptor";
        return NULL;
    }
    return st->hva;
}

static void write_resp(void *at, uint16_t type, uint16_t state)
{
    uint8_t resp[VIRTIO_MEM_RESP_LEN] = {0};

    memcpy(resp, &type, 2);
    memcpy(resp + 8, &state, 2);
    memcpy(at, resp, sizeof(resp));
}

static uint16_t do_plug(struct virtio_mem *vm, const struct req *r)
{
    const char *why = NULL;
    uint64_t first, len = 0;

    metrics_counter_inc(&vm->m->plug_count);
    if (!validate_range(vm, r->addr, r->nb_blocks, &first)) {
        why = "Invalid requested range";
    } else {
        len = (uint64_t)r->nb_blocks * vm->block_size; /* inside the window */
        if (vm->plugged_size + len > vm->requested_size)
            why = "Plug request rejected as plugged_size would be greater "
                  "than requested_size";
        else if (range_state(vm, first, r->nb_blocks) != STATE_UNPLUGGED)
            why = "The requested range cannot be plugged because of its "
                  "state";
        else if (update_range(vm, first, r->nb_blocks, true) < 0)
            why = "There was an error updating the KVM slot.";
    }
    if (why) {
        log_error_rl("virtio-mem: Failed to plug range: %s", why);
        metrics_counter_inc(&vm->m->plug_fails);
        return RESP_ERROR;
    }
    metrics_counter_add(&vm->m->plug_bytes, len);
    return RESP_ACK;
}

static uint16_t do_unplug(struct virtio_mem *vm, const struct req *r)
{
    uint64_t first;

    metrics_counter_inc(&vm->m->unplug_count);
    if (!validate_range(vm, r->addr, r->nb_blocks, &first)) {
        log_error_rl("virtio-mem: Failed to unplug range: Invalid requested "
                     "range");
    } else if (range_state(vm, first, r->nb_blocks) != STATE_PLUGGED) {
        log_error_rl("virtio-mem: Failed to unplug range: The requested "
                     "range cannot be unplugged because of its state");
    } else if (update_range(vm, first, r->nb_blocks, false) < 0) {
        log_error_rl("virtio-mem: Failed to unplug range: There was an error "
                     "updating the KVM slot.");
    } else {
        metrics_counter_add(&vm->m->unplug_bytes,
                            (uint64_t)r->nb_blocks * vm->block_size);
        return RESP_ACK;
    }
    metrics_counter_inc(&vm->m->unplug_fails);
    return RESP_ERROR;
}

static uint16_t do_unplug_all(struct virtio_mem *vm)
{
    metrics_counter_inc(&vm->m->unplug_all_count);
    if (update_range(vm, 0, vm->n_blocks, false) < 0) {
        metrics_counter_inc(&vm->m->unplug_all_fails);
        log_error_rl("virtio-mem: Failed to unplug all: There was an error "
                     "updating the KVM slot.");
        return RESP_ERROR;
    }
    vm->usable_region_size = 0;
    return RESP_ACK;
}

static uint16_t do_state(struct virtio_mem *vm, const struct req *r,
                         uint16_t *state)
{
    uint64_t first;

    metrics_counter_inc(&vm->m->state_count);
    if (!validate_range(vm, r->addr, r->nb_blocks, &first)) {
        metrics_counter_inc(&vm->m->state_fails);
        log_error_rl("virtio-mem: Failed to retrieve state of range: Invalid "
                     "requested range");
        return RESP_ERROR;
    }
    *state = range_state(vm, first, r->nb_blocks);
    return RESP_ACK;
}

/* One parsed request: the response type (and state for STATE), or -1 for
 * an unknown type. */
static int handle(struct virtio_mem *vm, const struct req *r, uint16_t *state)
{
    uint64_t t0 = time_mono_us();
    struct metrics_latency *agg;
    int resp;

    *state = 0;
    switch (r->type) {
    case REQ_PLUG:
        resp = do_plug(vm, r);
        agg = &vm->m->plug_agg;
        break;
    case REQ_UNPLUG:
        resp = do_unplug(vm, r);
        agg = &vm->m->unplug_agg;
        break;
    case REQ_UNPLUG_ALL:
        resp = do_unplug_all(vm);
        agg = &vm->m->unplug_all_agg;
        break;
    case REQ_STATE:
        resp = do_state(vm, r, state);
        agg = &vm->m->state_agg;
        break;
    default:
        return -1;
    }
    metrics_latency_record(agg, time_mono_us() - t0);
    return resp;
}

/* Lock held, device active. */
static void process_queue(struct virtio_mem *vm)
{
    struct virtq *q = &vm->t.queues[0];
    uint64_t plugged_before = vm->plugged_size;
    bool used_any = false;

    for (;;) {
        const char *why = NULL;
        uint32_t used_len = 0;
        struct req r;
        void *resp_at;
        int rc = virtq_pop(q, &vm->chain);

        if (rc < 0) {
            log_error_rl("virtio-mem: the driver corrupted the available "
                         "ring; the device needs a reset");
            metrics_counter_inc(&vm->m->queue_event_fails);
            virtio_mmio_set_needs_reset(&vm->t);
            break;
        }
        if (rc == 0)
            break;
        resp_at = parse_request(&vm->chain, &r, &why);
        if (resp_at) {
            uint16_t state;
            int resp = handle(vm, &r, &state);

            if (resp < 0) {
                why = "Unknown request type";
            } else {
                write_resp(resp_at, (uint16_t)resp, state);
                used_len = VIRTIO_MEM_RESP_LEN;
                virtq_chain_written(q, &vm->chain, used_len);
            }
        }
        if (why) {
            log_error_rl("virtio-mem: Failed to process queue: %s", why);
            metrics_counter_inc(&vm->m->queue_event_fails);
        }
        if (virtq_add_used(q, vm->chain.head, used_len) < 0) {
            metrics_counter_inc(&vm->m->queue_event_fails);
            break;
        }
        used_any = true;
    }
    virtq_flush_used(q);
    if (used_any && virtq_should_notify(q) &&
        virtio_mmio_signal_used(&vm->t) < 0)
        metrics_counter_inc(&vm->m->queue_event_fails);
    if (vm->plugged_size != plugged_before && vm->changed)
        vm->changed(vm->changed_opaque);
}

/* ---- Transport callbacks ----------------------------------------------------
 */

static void mem_read_config(void *dev, uint64_t off, uint8_t *data,
                            uint32_t len)
{
    struct virtio_mem *vm = dev;
    uint8_t cfg[VIRTIO_MEM_CONFIG_LEN] = {0};

    /* Little-endian host; node_id and padding (8..15) stay 0. */
    memcpy(cfg, &vm->block_size, 8);
    memcpy(cfg + 16, &vm->addr, 8);
    memcpy(cfg + 24, &vm->region_size, 8);
    memcpy(cfg + 32, &vm->usable_region_size, 8);
    memcpy(cfg + 40, &vm->plugged_size, 8);
    memcpy(cfg + 48, &vm->requested_size, 8);
    for (uint32_t i = 0; i < len; i++)
        data[i] = off + i < sizeof(cfg) ? cfg[off + i] : 0;
}

static void mem_write_config(void *dev, uint64_t off, const uint8_t *data,
                             uint32_t len)
{
    (void)dev;
    (void)data;
    log_warn_rl("virtio-mem: guest driver attempted to write device config "
                "(offset=%#llx, len=%#x)",
                (unsigned long long)off, len);
}

static int mem_activate(void *dev)
{
    struct virtio_mem *vm = dev;

    if (!virtio_mmio_has_feature(&vm->t,
                                 SQ_VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE)) {
        log_error_rl("virtio-mem: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE "
                     "feature not acknowledged by guest");
        metrics_counter_inc(&vm->m->activate_fails);
        return -EINVAL;
    }
    return 0;
}

static bool mem_reset(void *dev)
{
    (void)dev;
    /* Virtio 1.x 5.15.5.2: a reset changes no block's state. */
    return true;
}

static void mem_queue_notify(void *dev, uint16_t qi)
{
    struct virtio_mem *vm = dev;

    (void)qi;
    metrics_counter_inc(&vm->m->queue_event_count);
    process_queue(vm);
}

static const struct virtio_dev_ops mem_ops = {
    .device_type = SQ_VIRTIO_ID_MEM,
    .read_config = mem_read_config,
    .write_config = mem_write_config,
    .activate = mem_activate,
    .reset = mem_reset,
    .queue_notify = mem_queue_notify,
};

/* ---- Lifecycle -------------------------------------------------------------
 */

static int check_sizes(const struct virtio_mem_params *p, struct sq_err *err)
{
    uint32_t b = p->block_size_mib, s = p->slot_size_mib;

    if (b < 2 || (b & (b - 1)))
        return sq_errf(err, -EINVAL, "virtio-mem: bad block size %u MiB", b);
    if (s < b || s % b)
        return sq_errf(err, -EINVAL, "virtio-mem: bad slot size %u MiB", s);
    if (p->total_size_mib == 0 || p->total_size_mib % s)
        return sq_errf(err, -EINVAL, "virtio-mem: bad total size %u MiB",
                       p->total_size_mib);
    return 0;
}

/* Map the window, HOST_ALIGN aligned (over-map and keep the aligned part
 * in the bookkeeping; the slack stays mapped and is unmapped with it). */
static int map_window(struct virtio_mem *vm)
{
    size_t len = (size_t)vm->region_size + HOST_ALIGN;
    uint8_t *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (base == MAP_FAILED)
        return -errno;
    vm->map_base = base;
    vm->map_len = len;
    vm->map = base + (HOST_ALIGN - (uintptr_t)base % HOST_ALIGN) % HOST_ALIGN;
    return 0;
}

int virtio_mem_new(const struct virtio_mem_params *p, struct virtio_mem **out,
                   struct sq_err *err)
{
    static const uint16_t sizes[1] = {VIRTIO_MEM_QUEUE_SIZE};
    struct virtio_mem *vm;
    char os[128];
    int rc = check_sizes(p, err);

    if (rc < 0)
        return rc;
    vm = xcalloc(1, sizeof(*vm));
    vm->t.irq_fd = -1;
    for (size_t i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        vm->t.queue_fd[i] = -1;
    vm->update_slot = p->update_slot;
    vm->slot_opaque = p->slot_opaque;
    vm->changed = p->changed;
    vm->changed_opaque = p->changed_opaque;
    vm->block_size = p->block_size_mib * MIB;
    vm->slot_size = p->slot_size_mib * MIB;
    vm->region_size = p->total_size_mib * MIB;
    vm->n_blocks = vm->region_size / vm->block_size;
    vm->n_slots = (uint32_t)(vm->region_size / vm->slot_size);
    vm->plugged = xcalloc((size_t)(vm->n_blocks + 63) / 64, 8);
    vm->slot_on = xcalloc(vm->n_slots, sizeof(bool));
    rc = map_window(vm);
    if (rc < 0) {
        sq_errf(err, rc, "virtio-mem: Cannot map the hotplug region: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    rc = virtio_mmio_init(&vm->t, "virtio-mem", &mem_ops, vm,
                          1ULL << SQ_VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE, 1,
                          sizes);
    if (rc < 0) {
        sq_errf(err, rc, "Error while handling an Event file descriptor: %s",
                sq_os_error(-rc, os, sizeof(os)));
        goto fail;
    }
    vm->m = metrics_memory_hotplug();
    *out = vm;
    return 0;
fail:
    virtio_mem_free(vm);
    return rc;
}

void virtio_mem_detach(struct virtio_mem *vm)
{
    virtio_dev_detach(&vm->t, NULL, 0);
}

void virtio_mem_free(struct virtio_mem *vm)
{
    if (!vm)
        return;
    virtio_mem_detach(vm);
    virtio_mmio_fini(&vm->t);
    if (vm->map_base)
        munmap(vm->map_base, vm->map_len);
    free(vm->plugged);
    free(vm->slot_on);
    free(vm);
}

struct virtio_mmio *virtio_mem_transport(struct virtio_mem *vm)
{
    return &vm->t;
}

void virtio_mem_host_region(const struct virtio_mem *vm,
                            struct virtio_mem_region *out)
{
    out->hva = vm->map;
    out->size = vm->region_size;
    out->align = VIRTIO_MEM_ADDR_ALIGN;
    out->slot_size = vm->slot_size;
    out->n_slots = vm->n_slots;
}

int virtio_mem_set_guest_addr(struct virtio_mem *vm, gpa_t gpa)
{
    uint64_t end;

    if (gpa % VIRTIO_MEM_ADDR_ALIGN ||
        __builtin_add_overflow(gpa, vm->region_size, &end))
        return -EINVAL;
    vm->addr = gpa;
    return 0;
}

int virtio_mem_attach(struct virtio_mem *vm, const struct guest_mem *gm,
                      int vm_fd, uint64_t addr, struct evloop *loop)
{
    return virtio_dev_attach(&vm->t, gm, vm_fd, addr, loop, NULL, 0);
}

int virtio_mem_update_requested_size(struct virtio_mem *vm,
                                     uint32_t requested_size_mib,
                                     struct sq_err *err)
{
    uint64_t req = requested_size_mib * MIB;
    int rc = 0;

    bus_dev_lock(&vm->t.bus);
    if (!vm->t.activated) {
        rc = sq_errf(err, -ENODEV, "Device is not active");
    } else if (req % vm->block_size || req > vm->region_size) {
        rc = sq_errf(err, -EINVAL,
                     "Size %llu is invalid: it must be a multiple of block "
                     "size and less than the total size",
                     (unsigned long long)req);
    } else {
        /* Grow the usable region to cover the request, in whole slots;
         * only UNPLUG_ALL shrinks it. */
        if (vm->usable_region_size < req)
            vm->usable_region_size =
                (req + vm->slot_size - 1) / vm->slot_size * vm->slot_size;
        vm->requested_size = req;
        rc = virtio_mmio_signal_config(&vm->t);
        if (rc < 0)
            sq_errf(err, rc, "Received error while sending an interrupt");
    }
    bus_dev_unlock(&vm->t.bus);
    return rc;
}

void virtio_mem_status(struct virtio_mem *vm, struct virtio_mem_status *out)
{
    bus_dev_lock(&vm->t.bus);
    out->block_size_mib = (uint32_t)(vm->block_size / MIB);
    out->total_size_mib = (uint32_t)(vm->region_size / MIB);
    out->slot_size_mib = (uint32_t)(vm->slot_size / MIB);
    out->plugged_size_mib = (uint32_t)(vm->plugged_size / MIB);
    out->requested_size_mib = (uint32_t)(vm->requested_size / MIB);
    bus_dev_unlock(&vm->t.bus);
}

/* ---- Snapshots -------------------------------------------------------------
 */

static size_t bitmap_words(uint64_t n_blocks)
{
    return (size_t)((n_blocks + 63) / 64);
}

int virtio_mem_use_window(struct virtio_mem *vm, void *hva, bool file_backed)
{
    if (!hva || (uintptr_t)hva % HOST_ALIGN || vm->plugged_size)
        return -EINVAL;
    if (vm->map_base)
        munmap(vm->map_base, vm->map_len);
    vm->map_base = NULL;
    vm->map_len = 0;
    vm->map = hva;
    vm->file_backed = file_backed;
    return 0;
}

const uint64_t *virtio_mem_plugged_bits(const struct virtio_mem *vm,
                                        uint64_t *block_size)
{
    *block_size = vm->block_size;
    return vm->plugged;
}

const bool *virtio_mem_slots_on(const struct virtio_mem *vm,
                                uint64_t *slot_size)
{
    *slot_size = vm->slot_size;
    return vm->slot_on;
}

void virtio_mem_save_state(struct virtio_mem *vm, struct virtio_mem_state *out)
{
    size_t words = bitmap_words(vm->n_blocks);

    bus_dev_lock(&vm->t.bus);
    out->addr = vm->addr;
    out->region_size = vm->region_size;
    out->block_size = vm->block_size;
    out->slot_size = vm->slot_size;
    out->usable_region_size = vm->usable_region_size;
    out->requested_size = vm->requested_size;
    out->n_blocks = vm->n_blocks;
    out->plugged = xcalloc(words ? words : 1, 8);
    memcpy(out->plugged, vm->plugged, words * 8);
    bus_dev_unlock(&vm->t.bus);
}

void virtio_mem_state_fini(struct virtio_mem_state *s)
{
    free(s->plugged);
    s->plugged = NULL;
}

int virtio_mem_restore_state(struct virtio_mem *vm,
                             const struct virtio_mem_state *s,
                             struct sq_err *err)
{
    size_t words = bitmap_words(vm->n_blocks);
    uint64_t plugged = 0;
    char os[128];
    int rc;

    if (s->addr != vm->addr || s->region_size != vm->region_size ||
        s->block_size != vm->block_size || s->slot_size != vm->slot_size ||
        s->n_blocks != vm->n_blocks)
        return sq_errf(
            err, -EINVAL,
            "virtio-mem state: saved region at %#llx of %llu "
            "bytes (blocks %llu, slots %llu), built at %#llx of "
            "%llu bytes (blocks %llu, slots %llu)",
            (unsigned long long)s->addr, (unsigned long long)s->region_size,
            (unsigned long long)s->block_size, (unsigned long long)s->slot_size,
            (unsigned long long)vm->addr, (unsigned long long)vm->region_size,
            (unsigned long long)vm->block_size,
            (unsigned long long)vm->slot_size);
    if (s->usable_region_size > vm->region_size ||
        s->requested_size > vm->region_size ||
        s->requested_size % vm->block_size ||
        s->usable_region_size % vm->block_size)
        return sq_errf(err, -EINVAL,
                       "virtio-mem state: requested or usable size outside "
                       "the region");
    for (size_t i = 0; i < words; i++)
        plugged += (uint64_t)__builtin_popcountll(s->plugged[i]);
    bus_dev_lock(&vm->t.bus);
    memcpy(vm->plugged, s->plugged, words * 8);
    vm->usable_region_size = s->usable_region_size;
    vm->requested_size = s->requested_size;
    vm->plugged_size = plugged * vm->block_size;
    /* Upstream's register_memory_region: each slot holding a plugged
     * block goes back into KVM. */
    rc = vm->n_blocks ? sync_slots(vm, 0, vm->n_blocks) : 0;
    bus_dev_unlock(&vm->t.bus);
    if (rc < 0)
        return sq_errf(err, rc,
                       "virtio-mem state: Cannot set the memory regions: %s",
                       sq_os_error(-rc, os, sizeof(os)));
    return 0;
}

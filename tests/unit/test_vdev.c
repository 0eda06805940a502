/*
 * test_vdev.c: the virtio device list (vmm/vdev.h) without a machine: the
 * attach-order table, the refusal of kinds squib cannot build yet in that
 * order, placement of the built devices (window and GSI in attach order;
 * pmem and virtio-mem memory windows past 512 GiB),
 * attach and detach without KVM or a loop, PATCH through the class, a
 * failed create that leaves the devices built so far for the caller, and
 * each transport's device limit (19 on virtio-mmio, 31 on PCI) with
 * upstream's texts; a snapshot after pmem hot-unplug and hot-plug rebuilt
 * with each pmem window at its saved address, and saved windows that
 * cannot be taken refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/xalloc.h"
#include "vmm/action.h"
#include "vmm/device_cfg.h"
#include "vmm/pci_attach.h"
#include "vmm/pci_snap.h"
#include "vmm/resources.h"
#include "vmm/vdev.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_snap.h"

#define MUT(s) ((char *)(uintptr_t)(s))

struct fx {
    struct vm_resources r;
    char dir[64];
    char disk[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    FILE *fp;

    strcpy(f->dir, "/tmp/squib-vdev-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->disk, sizeof(f->disk), "%s/disk.img", f->dir);
    fp = fopen(f->disk, "w");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 4095, SEEK_SET), 0);
    fputc(0, fp);
    fclose(fp);
    res_init(&f->r, 0, false, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[160];

    res_fini(&f->r);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void add_drive(struct fx *f, const char *id, bool root)
{
    struct drive_cfg d;
    struct sq_err err;

    memset(&d, 0, sizeof(d));
    d.drive_id = MUT(id);
    d.drive_id_len = strlen(id);
    d.is_root_device = root;
    d.path_on_host = f->disk;
    sq_err_clear(&err);
    assert_int_equal(res_set_drive(&f->r, &d, &err), 0);
}

static void add_entropy(struct fx *f)
{
    struct entropy_cfg e;
    struct sq_err err;

    memset(&e, 0, sizeof(e));
    sq_err_clear(&err);
    assert_int_equal(res_set_entropy(&f->r, &e, &err), 0);
}

static uint32_t reg32(struct virtio_mmio *t, uint64_t off)
{
    uint8_t b[4];

    bus_dev_lock(&t->bus);
    virtio_mmio_read(&t->bus, off, b, 4);
    bus_dev_unlock(&t->bus);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

/* Upstream's build_microvm_for_boot order. */
static void test_attach_order_table(void **state)
{
    static const char *const want[] = {
        "virtio-balloon", "virtio-block", "virtio-net", "virtio-pmem",
        "virtio-vsock",   "virtio-rng",   "virtio-mem",
    };

    (void)state;
    assert_int_equal(vdev_attach_order_len, 7);
    for (size_t i = 0; i < vdev_attach_order_len; i++)
        assert_string_equal(vdev_attach_order[i]->name, want[i]);
    assert_ptr_equal(vdev_attach_order[1], &vdev_class_block);
    assert_ptr_equal(vdev_attach_order[5], &vdev_class_entropy);
    /* Built kinds have the whole lifecycle, and every one of them takes
     * part in snapshots (both hooks). */
    for (size_t i = 0; i < vdev_attach_order_len; i++) {
        const struct vdev_class *c = vdev_attach_order[i];

        assert_non_null(c->count);
        if (c->create) {
            assert_non_null(c->attach);
            assert_non_null(c->detach);
            assert_non_null(c->free);
        }
        assert_true(!c->save == !c->restore);
        assert_true(!c->save == !c->create);
    }
}

/* The first kind squib cannot build, in attach order. The flags are set
 * by hand: only the counts matter, and nothing is opened. */
static void test_unsupported_in_attach_order(void **state)
{
    struct fx *f = *state;
    struct vm_resources *r = &f->r;

    add_drive(f, "rootfs", true);
    add_entropy(f);
    assert_null(vdev_unsupported(r));
    r->has_memory_hotplug = true; /* built since virtio-mem is attached */
    r->has_vsock = true;
    r->n_pmems = 1;
    assert_null(vdev_unsupported(r));
    r->drives[0].is_vhost_user = true;
    assert_string_equal(vdev_unsupported(r), "vhost-user-block");
    r->has_balloon = true; /* built since the balloon device exists */
    assert_string_equal(vdev_unsupported(r), "vhost-user-block");
    r->has_balloon = false;
    r->drives[0].is_vhost_user = false;
    r->n_pmems = 0;
    r->has_vsock = false;
    r->has_memory_hotplug = false;
}

static void add_pmem_on(struct fx *f, const char *id, const char *path, bool ro)
{
    struct pmem_cfg p;
    struct sq_err err;

    memset(&p, 0, sizeof(p));
    p.id = MUT(id);
    p.id_len = strlen(id);
    p.path_on_host = MUT(path);
    p.read_only = ro;
    sq_err_clear(&err);
    assert_int_equal(res_set_pmem(&f->r, &p, &err), 0);
}

static void add_pmem(struct fx *f, const char *id, bool ro)
{
    add_pmem_on(f, id, f->disk, ro);
}

static uint64_t reg64(struct virtio_mmio *t, uint64_t off)
{
    return reg32(t, off) | (uint64_t)reg32(t, off + 4) << 32;
}

/* Memory windows past 512 GiB as upstream allocates them: virtio-mem's
 * region first (128 MiB aligned), then each pmem window (2 MiB) in attach
 * order; the hot-pluggable window reaches guest memory; PATCH and GET
 * through the classes before any driver activated the devices. */
static void test_memory_windows(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct hotplug_memory_cfg h = {256, 2, 128};
    struct hotplug_memory_update hu = {128};
    struct hotplug_memory_status st;
    struct pmem_update pu;
    struct guest_mem *gm;
    struct sq_err err;
    void *p;

    add_drive(f, "root", true);
    add_pmem(f, "p0", false);
    add_pmem(f, "p1", true);
    sq_err_clear(&err);
    assert_int_equal(res_set_memory_hotplug(&f->r, &h, &err), 0);
    mmio_alloc_init(&alloc);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.hotplug_gpa, 512ULL << 30);
    assert_ptr_equal(l.devs[1].cls, &vdev_class_pmem);
    assert_string_equal(l.devs[1].id, "p0");
    assert_int_equal(reg32(l.devs[1].t, 0x008), 27);
    assert_int_equal(reg64(l.devs[1].t, 0x100), (512ULL << 30) + (256 << 20));
    assert_int_equal(reg64(l.devs[1].t, 0x108), 2 << 20);
    assert_int_equal(reg64(l.devs[2].t, 0x100), (512ULL << 30) + (258 << 20));
    assert_ptr_equal(l.devs[3].cls, &vdev_class_mem);
    assert_string_equal(l.devs[3].id, "mem");
    assert_int_equal(reg32(l.devs[3].t, 0x008), 24);
    assert_int_equal(reg64(l.devs[3].t, 0x110), 512ULL << 30);
    assert_int_equal(reg64(l.devs[3].t, 0x118), 256 << 20);
    /* Slots: RAM's, then the pmem windows', then virtio-mem's two. */
    for (uint32_t k = 0; k < 4; k++)
        assert_true(mem_window_slot_taken(&l.win, MEM_WINDOW_FIRST_SLOT + k));
    assert_false(mem_window_slot_taken(&l.win, MEM_WINDOW_FIRST_SLOT + 4));

    assert_int_equal(guest_mem_new(2, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(vdev_list_add_memory(&l, gm, &err), 0);
    assert_int_equal(guest_mem_translate(gm, (512ULL << 30) + 4096, 8, &p), 0);
    assert_int_equal(guest_mem_size(gm), 2 << 20);

    memset(&pu, 0, sizeof(pu));
    pu.has_rate_limiter = true;
    pu.rate_limiter.has_ops = true;
    pu.rate_limiter.ops.size = 10;
    pu.rate_limiter.ops.refill_time = 100;
    assert_int_equal(
        l.devs[1].cls->patch(l.devs[1].dev, VMM_OP_PATCH_PMEM, &pu, &err), 0);
    assert_int_equal(l.devs[3].cls->patch(
                         l.devs[3].dev, VMM_OP_PATCH_HOTPLUG_MEMORY, &hu, &err),
                     -ENODEV);
    assert_string_equal(err.msg, "Device is not active");
    assert_int_equal(l.devs[3].cls->query(l.devs[3].dev,
                                          VMM_OP_GET_HOTPLUG_MEMORY, &st, &err),
                     0);
    assert_int_equal(st.total_size_mib, 256);
    assert_int_equal(st.slot_size_mib, 128);
    assert_int_equal(st.plugged_size_mib, 0);
    assert_int_equal(vdev_list_attach(&l, gm, -1, NULL, &err), 0);
    vdev_list_detach(&l);
    guest_mem_free(gm);
    vdev_list_free(&l);
}

/* A pmem file that cannot be opened: upstream's text. */
static void test_pmem_create_error(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct sq_err err;

    add_pmem(f, "p0", false);
    free(f->r.pmems[0].path_on_host);
    f->r.pmems[0].path_on_host = strdup("/nonexistent/pmem.img");
    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), -ENOENT);
    assert_string_equal(err.msg,
                        "Cannot create pmem device: Error accessing backing "
                        "file: No such file or directory (os error 2)");
    assert_int_equal(l.n, 0);
    vdev_list_free(&l);
}

/* Block devices (root first, then insertion order), then entropy: each the
 * next 4 KiB window from 0xc0001000 and the next GSI from 5. */
static void test_placement_in_attach_order(void **state)
{
    static const char *const ids[] = {"root", "a", "b", "rng"};
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct sq_err err;
    uint32_t gsi;

    add_entropy(f);
    add_drive(f, "a", false);
    add_drive(f, "b", false);
    add_drive(f, "root", true);
    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), 0);
    assert_int_equal(l.n, 4);
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(l.devs[i].id, ids[i]);
        assert_int_equal(l.devs[i].addr, 0xc0001000ULL + 0x1000ULL * i);
        assert_int_equal(l.devs[i].gsi, 5 + i);
        assert_non_null(l.devs[i].t);
        assert_ptr_equal(l.devs[i].t->dev, l.devs[i].dev);
        assert_ptr_equal(l.devs[i].cls,
                         i < 3 ? &vdev_class_block : &vdev_class_entropy);
    }
    /* VMGenID and VMClock follow the devices. */
    assert_int_equal(mmio_alloc_gsi(&alloc, &gsi, &err), 0);
    assert_int_equal(gsi, 9);

    assert_ptr_equal(vdev_find(&l, &vdev_class_block, "a"), &l.devs[1]);
    assert_null(vdev_find(&l, &vdev_class_entropy, "a"));
    assert_null(vdev_find(&l, &vdev_class_block, "rng"));
    assert_null(vdev_find(&l, &vdev_class_block, "c"));

    /* No VM fd and no loop: the transports remember their windows. */
    assert_int_equal(vdev_list_attach(&l, NULL, -1, NULL, &err), 0);
    assert_int_equal(l.devs[3].t->addr, 0xc0004000ULL);
    vdev_list_detach(&l);
    vdev_list_detach(&l); /* idempotent */
    vdev_list_free(&l);
    assert_null(l.devs);
    assert_int_equal(l.n, 0);
}

/* PATCH /drives goes through the block class; entropy has no patch. */
static void test_patch_through_class(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct drive_update u;
    struct rate_limiter_params got;
    struct vmm_vdev *d;
    struct sq_err err;
    char nopath[] = "/nonexistent/disk";

    add_drive(f, "a", false);
    add_entropy(f);
    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), 0);
    assert_null(vdev_class_entropy.patch);
    d = vdev_find(&l, &vdev_class_block, "a");
    assert_non_null(d);
    memset(&u, 0, sizeof(u));
    u.drive_id = MUT("a");
    u.drive_id_len = 1;
    u.has_rate_limiter = true;
    u.rate_limiter.has_ops = true;
    u.rate_limiter.ops.size = 10;
    u.rate_limiter.ops.refill_time = 100;
    assert_int_equal(d->cls->patch(d->dev, VMM_OP_PATCH_DRIVE, &u, &err), 0);
    rate_limiter_get_params(block_rate_limiter(d->dev), &got);
    assert_true(got.has_ops && got.ops.size == 10);
    u.has_rate_limiter = false;
    u.path_on_host = nopath;
    assert_int_equal(d->cls->patch(d->dev, VMM_OP_PATCH_DRIVE, &u, &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/disk"));
    vdev_list_free(&l);
}

/* PUT /vsock's socket becomes the vsock device, between block and entropy,
 * with the configured CID in its config space. */
static void test_vsock_from_put(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct vsock_cfg vc;
    struct sq_err err;
    char uds[96];

    snprintf(uds, sizeof(uds), "%s/v.sock", f->dir);
    memset(&vc, 0, sizeof(vc));
    vc.guest_cid = 52;
    vc.uds_path = uds;
    sq_err_clear(&err);
    add_entropy(f);
    assert_int_equal(res_set_vsock(&f->r, &vc, &err), 0);
    add_drive(f, "root", true);
    mmio_alloc_init(&alloc);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), 0);
    assert_int_equal(l.n, 3);
    assert_ptr_equal(l.devs[1].cls, &vdev_class_vsock);
    assert_string_equal(l.devs[1].id, "vsock");
    assert_int_equal(l.devs[1].addr, 0xc0002000ULL);
    assert_int_equal(l.devs[1].gsi, 6);
    assert_int_equal(reg32(l.devs[1].t, 0x008), 19); /* DeviceID */
    assert_int_equal(reg32(l.devs[1].t, 0x100), 52); /* guest_cid */
    assert_int_equal(reg32(l.devs[1].t, 0x104), 0);
    assert_ptr_equal(l.devs[2].cls, &vdev_class_entropy);
    assert_int_equal(vdev_list_attach(&l, NULL, -1, NULL, &err), 0);
    vdev_list_detach(&l);
    vdev_list_free(&l);
}

static void count_changed(void *opaque)
{
    ++*(int *)opaque;
}

/* PUT /balloon's device comes first, gets the list's change hook, and its
 * PATCH and GET operations answer with upstream's texts before any driver
 * activated it. */
static void test_balloon_from_put(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct balloon_cfg bc = {.amount_mib = 4};
    struct balloon_update bu = {2};
    struct balloon_stats st;
    struct sq_err err;
    int changed = 0;

    add_drive(f, "root", true);
    sq_err_clear(&err);
    assert_int_equal(res_set_balloon(&f->r, &bc, &err), 0);
    l.changed = count_changed;
    l.changed_opaque = &changed;
    mmio_alloc_init(&alloc);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), 0);
    assert_int_equal(l.n, 2);
    assert_ptr_equal(l.devs[0].cls, &vdev_class_balloon);
    assert_string_equal(l.devs[0].id, "balloon");
    assert_int_equal(l.devs[0].addr, 0xc0001000ULL);
    assert_int_equal(reg32(l.devs[0].t, 0x008), 5);       /* DeviceID */
    assert_int_equal(reg32(l.devs[0].t, 0x100), 4 * 256); /* num_pages */
    assert_ptr_equal(l.devs[0].changed, count_changed);
    assert_ptr_equal(l.devs[0].changed_opaque, &changed);
    assert_int_equal(
        l.devs[0].cls->patch(l.devs[0].dev, VMM_OP_PATCH_BALLOON, &bu, &err),
        -ENODEV);
    assert_string_equal(err.msg, "Device not activated yet.");
    assert_true(l.devs[0].cls->query(l.devs[0].dev, VMM_OP_GET_BALLOON_STATS,
                                     &st, &err) < 0);
    assert_string_equal(err.msg,
                        "Received stats query when stats are disabled.");
    assert_int_equal(
        l.devs[0].cls->patch(l.devs[0].dev, VMM_OP_PATCH_NET, &bu, &err),
        -EOPNOTSUPP);
    assert_int_equal(changed, 0);
    vdev_list_free(&l);
}

/* 19 drives and entropy: the 20th device is built, then finds no GSI. The
 * list keeps all 20 for the caller to free. */
static void test_create_failure_keeps_built_devices(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct sq_err err;

    for (int i = 0; i < 19; i++) {
        char id[16];

        snprintf(id, sizeof(id), "d%02d", i);
        add_drive(f, id, false);
    }
    add_entropy(f);
    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), -ENOSPC);
    assert_string_equal(err.msg, "Could not attach device: MMIO transport "
                                 "error: Failed to allocate requested "
                                 "resource: The requested resource is not "
                                 "available.");
    assert_int_equal(l.n, 20);
    assert_string_equal(l.devs[19].id, "rng");
    vdev_list_free(&l);
}

/* A device that cannot be built stops the walk with its own error. */
static void test_create_error_from_device(void **state)
{
    struct fx *f = *state;
    struct vdev_list l = {0};
    struct mmio_alloc alloc;
    struct sq_err err;
    char path[128];

    add_drive(f, "a", false);
    add_drive(f, "b", false);
    /* Without the fd opened at PUT, "b" opens its path now: gone. */
    snprintf(path, sizeof(path), "%s/gone.img", f->dir);
    free(f->r.drives[1].cfg.path_on_host);
    f->r.drives[1].cfg.path_on_host = strdup(path);
    close(f->r.drives[1].fd);
    f->r.drives[1].fd = -1;
    mmio_alloc_init(&alloc);
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, &alloc, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "gone.img"));
    assert_int_equal(l.n, 1);
    assert_string_equal(l.devs[0].id, "a");
    vdev_list_free(&l);
}

/* Build the list from n drives on one transport (alloc NULL: PCI). */
static int create_drives(struct fx *f, size_t n, struct mmio_alloc *alloc,
                         struct vdev_list *l, struct sq_err *err)
{
    for (size_t i = f->r.n_drives; i < n; i++) {
        char id[16];

        snprintf(id, sizeof(id), "d%02zu", i);
        add_drive(f, id, false);
    }
    memset(l, 0, sizeof(*l));
    sq_err_clear(err);
    return vdev_list_create(l, &f->r, alloc, err);
}

/* virtio-mmio: the legacy GSIs 5..23 hold 19 devices; the 20th is refused
 * (upstream's allocate_mmio_resources), the devices built so far kept. */
static void test_mmio_device_limit(void **state)
{
    struct fx *f = *state;
    struct vdev_list l;
    struct mmio_alloc alloc;
    struct sq_err err;

    mmio_alloc_init(&alloc);
    assert_int_equal(create_drives(f, 19, &alloc, &l, &err), 0);
    assert_int_equal(l.n, 19);
    assert_int_equal(l.devs[18].gsi, 23);
    vdev_list_free(&l);
    mmio_alloc_init(&alloc);
    assert_int_equal(create_drives(f, 20, &alloc, &l, &err), -ENOSPC);
    assert_string_equal(err.msg,
                        "Could not attach device: MMIO transport error: "
                        "Failed to allocate requested resource: The "
                        "requested resource is not available.");
    assert_int_equal(l.n, 20);
    vdev_list_free(&l);
}

/* PCI: bus 0 has 32 device numbers, 0 the host bridge's, so 31 devices
 * fit (far past virtio-mmio's 19) and go on the bus, each in the next slot
 * with its own BAR; the 32nd is refused with upstream's chain
 * (PciSegment::next_device_sbdf). No KVM needed: the PCI front is built
 * before the machine. */
static void test_pci_device_limit(void **state)
{
    struct fx *f = *state;
    struct vdev_list l;
    struct vmm_pci *pci = NULL;
    struct sq_err err;
    const struct machine_bus_range *ranges;
    size_t n_ranges;

    f->r.pci_enabled = true;
    assert_int_equal(create_drives(f, 20, NULL, &l, &err), 0);
    vdev_list_free(&l);
    assert_int_equal(create_drives(f, 31, NULL, &l, &err), 0);
    assert_int_equal(l.n, 31);
    assert_int_equal(vmm_pci_new(&l, &pci, &err), 0);
    ranges = vmm_pci_ranges(pci, &n_ranges);
    assert_int_equal(n_ranges, 2 + 31);
    assert_int_equal(ranges[2 + 30].base, VMM_PCI_BAR_BASE + 30 * 0x80000ull);
    vmm_pci_free(pci);
    vdev_list_free(&l);

    assert_int_equal(create_drives(f, 32, NULL, &l, &err), -ENOSPC);
    assert_string_equal(err.msg,
                        "Could not attach device: Error attach PCI device: "
                        "PCI root error: Could not find an available "
                        "device slot on the PCI bus.");
    assert_int_equal(l.n, 32);
    /* A list that got past the count anyway is refused the same way. */
    assert_int_equal(vmm_pci_new(&l, &pci, &err), -ENOSPC);
    assert_string_equal(err.msg,
                        "Could not attach device: Error attach PCI device: "
                        "PCI root error: Could not find an available "
                        "device slot on the PCI bus.");
    vdev_list_free(&l);
}

/* A snapshot's placement (pci_snap.h): saved slots, BARs and GSIs are
 * honoured, also when they are not the ones a boot would give (a bus
 * after hot-plug), found by kind and id; placements that cannot be used
 * are refused. */
static void test_pci_saved_placement(void **state)
{
    struct fx *f = *state;
    struct vdev_list l;
    struct vmm_pci *pci = NULL, *again = NULL;
    struct vmm_pci_place at[3];
    struct pci_snap *s = NULL;
    struct sq_err err;
    const struct machine_bus_range *ranges;
    size_t n;

    f->r.pci_enabled = true;
    assert_int_equal(create_drives(f, 3, NULL, &l, &err), 0);
    assert_int_equal(vmm_pci_new(&l, &pci, &err), 0);
    pci_snap_save(pci, &l, &s);
    vmm_pci_free(pci);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->devs[2].dev, 3);
    assert_int_equal(s->devs[2].transport.first_gsi, 28); /* 2 vectors each */
    /* Devices elsewhere than a boot puts them, and listed out of order. */
    s->devs[0].dev = 9;
    s->devs[0].transport.bar_addr = vmm_pci_bar_addr(9);
    s->devs[0].transport.first_gsi = 100;
    {
        struct pci_dev_snap t = s->devs[0];

        s->devs[0] = s->devs[2];
        s->devs[2] = t;
    }
    assert_int_equal(pci_snap_places(s, &l, at, &err), 0);
    assert_int_equal(at[0].slot, 9);
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), 0);
    assert_int_equal(vmm_pci_slot_of(again, l.devs[0].t), 9);
    assert_int_equal(vmm_pci_slot_of(again, l.devs[2].t), 3);
    assert_int_equal(vmm_pci_dev(again, 9)->msix.vec[1].gsi, 101);
    ranges = vmm_pci_ranges(again, &n);
    assert_int_equal(n, 5);
    assert_int_equal(ranges[2].base, vmm_pci_bar_addr(9));
    /* The saved transports go back into it. */
    assert_int_equal(pci_snap_restore(again, &l, s, &err), 0);
    vmm_pci_free(again);

    /* Refused: a slot twice, GSIs shared, a BAR below the window or not
     * aligned, slot 0; a device without a saved entry; another count. */
    at[1].slot = 9;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EBUSY);
    at[1].slot = 2;
    at[1].first_gsi = 101;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EINVAL);
    at[1].first_gsi = 26;
    at[1].bar = 0xc0000000;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EINVAL);
    at[1].bar = VMM_PCI_BAR_BASE + 0x1000;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EINVAL);
    at[1].bar = VMM_PCI_BAR_BASE + 0x80000;
    at[1].slot = 0;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EINVAL);
    at[1].first_gsi = 4095;
    at[1].slot = 2;
    assert_int_equal(vmm_pci_new_at(&l, at, &again, &err), -EINVAL);
    free(s->devs[1].id);
    s->devs[1].id = xstrdup("other");
    assert_int_equal(pci_snap_places(s, &l, at, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-block d01: no saved PCI state");
    s->n = 2;
    assert_int_equal(pci_snap_places(s, &l, at, &err), -EINVAL);
    s->n = 3;
    pci_snap_free(s);
    vdev_list_free(&l);
}

/* A snapshot's virtio devices are found by kind and id, in any order (a
 * PCI bus after hot-plug lists a plugged device last); a built device the
 * snapshot does not have is refused. */
static void test_snap_restore_by_kind_and_id(void **state)
{
    struct fx *f = *state;
    struct vdev_list l;
    struct vdev_snap *s = NULL, t;
    size_t n = 0;
    struct sq_err err;

    f->r.pci_enabled = true;
    assert_int_equal(create_drives(f, 3, NULL, &l, &err), 0);
    assert_int_equal(vdev_snap_save(&l, &s, &n, &err), 0);
    assert_int_equal(n, 3);
    t = s[0];
    s[0] = s[2];
    s[2] = t;
    assert_int_equal(vdev_snap_restore(&l, s, n, &err), 0);
    free(s[1].id);
    s[1].id = xstrdup("other");
    assert_int_equal(vdev_snap_restore(&l, s, n, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-block d01: not in the snapshot");
    vdev_snap_free(s, n);
    vdev_list_free(&l);
}

/* The window start a device's config space shows (pmem: offset 0). */
static uint64_t pmem_window(const struct vdev_list *l, const char *id)
{
    struct vmm_vdev *d = vdev_find(l, &vdev_class_pmem, id);

    assert_non_null(d);
    return reg64(d->t, 0x100);
}

/* The saved pmem state of `id` in s, rewritten with another window. */
static void move_saved_window(struct vdev_snap *s, size_t n, const char *id,
                              uint64_t gpa, uint64_t size)
{
    struct pmem_state ps;
    struct sq_err err;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].id, id) != 0)
            continue;
        assert_int_equal(vdev_pmem_state_decode((uint8_t *)s[i].device.data,
                                                s[i].device.len, &ps, &err),
                         0);
        ps.gpa = gpa;
        ps.size = size;
        buf_reset(&s[i].device);
        vdev_pmem_state_encode(&ps, &s[i].device);
        return;
    }
    fail();
}

/* Build l from f->r with the snapshot s at hand, as a restore does. */
static int create_saved(struct fx *f, struct vdev_list *l,
                        const struct vdev_snap *s, size_t n, struct sq_err *err)
{
    int rc;

    memset(l, 0, sizeof(*l));
    l->saved = s;
    l->n_saved = n;
    sq_err_clear(err);
    rc = vdev_list_create(l, &f->r, NULL, err);
    l->saved = NULL;
    l->n_saved = 0;
    return rc;
}

/* Issue 10 with issue 13: pmem windows after unplug and plug are not where
 * attach order puts them. A restore builds each pmem at its saved window
 * (a fresh allocation would move p2, p3 and p4), new slot numbers from the
 * lowest; a saved window over another, outside the window, misaligned or
 * of another size is refused while the list is built, with its text. */
static void test_pmem_restore_after_replug(void **state)
{
    struct fx *f = *state;
    const uint64_t w = 512ULL << 30, mib = 1 << 20;
    char big[128];
    struct vdev_list l, l2;
    struct vdev_snap *s = NULL;
    size_t n = 0;
    struct sq_err err;
    FILE *fp;

    snprintf(big, sizeof(big), "%s/big.img", f->dir);
    fp = fopen(big, "w");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 3 * mib - 1, SEEK_SET), 0); /* 4 MiB window */
    fputc(0, fp);
    fclose(fp);
    f->r.pci_enabled = true;
    add_pmem(f, "p0", false);
    add_pmem(f, "p1", false);
    add_pmem(f, "p2", true);
    memset(&l, 0, sizeof(l));
    sq_err_clear(&err);
    assert_int_equal(vdev_list_create(&l, &f->r, NULL, &err), 0);
    assert_int_equal(pmem_window(&l, "p1"), w + 2 * mib);
    assert_int_equal(pmem_window(&l, "p2"), w + 4 * mib);

    /* Unplug p1; plug p3 (too big for p1's hole) and p4 (fits it). */
    vdev_list_remove(&l, vdev_find(&l, &vdev_class_pmem, "p1"));
    assert_int_equal(res_remove_pmem(&f->r, "p1"), 0);
    add_pmem_on(f, "p3", big, false);
    assert_non_null(vdev_list_add(&l, &vdev_class_pmem, &f->r, 2, &err));
    add_pmem(f, "p4", false);
    assert_non_null(vdev_list_add(&l, &vdev_class_pmem, &f->r, 3, &err));
    assert_int_equal(pmem_window(&l, "p3"), w + 6 * mib);
    assert_int_equal(pmem_window(&l, "p4"), w + 2 * mib);
    assert_int_equal(vdev_snap_save(&l, &s, &n, &err), 0);
    vdev_list_free(&l);

    /* Attach order alone does not put them back. */
    assert_int_equal(create_saved(f, &l2, NULL, 0, &err), 0);
    assert_int_equal(pmem_window(&l2, "p2"), w + 2 * mib);
    assert_int_equal(vdev_snap_restore(&l2, s, n, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-pmem p2: pmem state: saved window "
                                 "at 0x8000400000, built at 0x8000200000");
    vdev_list_free(&l2);

    /* With the snapshot: every window where it was, and the state goes
     * back; slot numbers from the lowest. */
    assert_int_equal(create_saved(f, &l2, s, n, &err), 0);
    assert_int_equal(pmem_window(&l2, "p0"), w);
    assert_int_equal(pmem_window(&l2, "p2"), w + 4 * mib);
    assert_int_equal(pmem_window(&l2, "p3"), w + 6 * mib);
    assert_int_equal(pmem_window(&l2, "p4"), w + 2 * mib);
    assert_int_equal(vdev_snap_restore(&l2, s, n, &err), 0);
    assert_true(mem_window_slot_taken(&l2.win, MEM_WINDOW_FIRST_SLOT + 3));
    assert_false(mem_window_slot_taken(&l2.win, MEM_WINDOW_FIRST_SLOT + 4));
    /* A pmem plugged after the restore goes past the restored windows. */
    add_pmem(f, "p5", false);
    assert_non_null(vdev_list_add(&l2, &vdev_class_pmem, &f->r, 4, &err));
    assert_int_equal(pmem_window(&l2, "p5"), w + 10 * mib);
    vdev_list_free(&l2);
    assert_int_equal(res_remove_pmem(&f->r, "p5"), 0);

    /* Refused, with nothing mapped yet: over p2's window, below 512 GiB,
     * not 2 MiB aligned, another size (upstream's text). */
    move_saved_window(s, n, "p4", w + 4 * mib, 2 * mib);
    assert_int_equal(create_saved(f, &l2, s, n, &err), -EBUSY);
    assert_string_equal(err.msg, "virtio-pmem p4: pmem state: saved window at "
                                 "0x8000400000 (2097152 bytes) overlaps guest "
                                 "memory or another device's window");
    assert_int_equal(l2.n, 3); /* the ones before it, for the caller */
    vdev_list_free(&l2);
    move_saved_window(s, n, "p4", 256ULL << 30, 2 * mib);
    assert_int_equal(create_saved(f, &l2, s, n, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-pmem p4: pmem state: saved window at "
                                 "0x4000000000 (2097152 bytes) is outside the "
                                 "device memory window");
    vdev_list_free(&l2);
    move_saved_window(s, n, "p4", w + 3 * mib, 2 * mib);
    assert_int_equal(create_saved(f, &l2, s, n, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-pmem p4: pmem state: saved window at "
                                 "0x8000300000 is not 2 MiB aligned");
    vdev_list_free(&l2);
    move_saved_window(s, n, "p4", w + 2 * mib, 4 * mib);
    assert_int_equal(create_saved(f, &l2, s, n, &err), -EINVAL);
    assert_string_equal(err.msg, "virtio-pmem p4: Restored pmem size 4194304 "
                                 "does not match backing file mapping size "
                                 "2097152");
    vdev_list_free(&l2);
    vdev_snap_free(s, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_attach_order_table),
        T(test_pci_saved_placement),
        T(test_snap_restore_by_kind_and_id),
        T(test_pmem_restore_after_replug),
        T(test_unsupported_in_attach_order),
        T(test_placement_in_attach_order),
        T(test_memory_windows),
        T(test_pmem_create_error),
        T(test_patch_through_class),
        T(test_vsock_from_put),
        T(test_balloon_from_put),
        T(test_create_failure_keeps_built_devices),
        T(test_create_error_from_device),
        T(test_mmio_device_limit),
        T(test_pci_device_limit),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_virtio_mem.c: libFuzzer harness for the virtio-mem device's request
 * queue (devices/virtio/mem): hostile chains and requests against a
 * 256 MiB window (128 blocks of 2 MiB, two slots of 128 MiB) whose slot
 * hook fails on demand.
 *
 * Guest RAM is 64 KiB at GPA 0, followed by a PROT_NONE guard page, so any
 * access past guest RAM crashes. Input format:
 *   byte 0   bit 0: the slot hook fails, bit 1: notify twice, bit 2: PATCH
 *            the requested size again between the notifications
 *   byte 1   avail idx the driver publishes
 *   byte 2   log2 of the queue size (clamped to 0..9; 9 fails)
 *   byte 3   requested size in 2 MiB units (PATCH before the queue runs)
 *   rest     copied to guest RAM from GPA 0: descriptors at 0x0, avail
 *            0x1000, used 0x2000; requests and responses anywhere.
 * Addresses in requests are relative to 0x8000000000, where the window
 * sits. A fresh device runs each input and its invariants are checked.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio/mem.h"
#include "fuzz_virtio.h"
#include "obs/log.h"
#include "vmm/guest_mem.h"

#define FUZZ_RAM 0x10000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hook(void *opaque, uint32_t index, gpa_t gpa, void *hva, uint64_t sz,
                bool plug)
{
    (void)index;
    (void)gpa;
    (void)hva;
    (void)sz;
    (void)plug;
    return (*(const uint8_t *)opaque & 1) ? -5 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram;
    static struct guest_mem gm;
    struct virtio_mem_params p = {.total_size_mib = 256,
                                  .block_size_mib = 2,
                                  .slot_size_mib = 128,
                                  .update_slot = hook};
    struct virtio_mem_status st;
    struct virtio_mem *vm = NULL;
    struct virtio_mmio *t;
    uint8_t flags;
    uint32_t shift, plugged = 0;

    if (!ram) {
        ram = fuzz_guest_ram(FUZZ_RAM, &gm);
        log_set_level(LOG_OFF);
    }
    if (size < 4)
        return 0;
    flags = data[0];
    p.slot_opaque = &flags;
    if (virtio_mem_new(&p, &vm, NULL) != 0 ||
        virtio_mem_set_guest_addr(vm, 0x8000000000ULL) != 0 ||
        virtio_mem_attach(vm, &gm, -1, 0xc0001000, NULL) != 0)
        __builtin_trap();
    t = virtio_mem_transport(vm);

    memset(ram, 0, FUZZ_RAM);
    memcpy(ram, data + 4, size - 4 < FUZZ_RAM ? size - 4 : FUZZ_RAM);
    ram[0x1002] = data[1];
    ram[0x1003] = 0;
    shift = data[2] & 0x0f;
    if (shift > 9)
        shift = 9;
    reg(t, 0x70, 1);
    reg(t, 0x70, 3);
    reg(t, 0x24, 0);
    reg(t, 0x20, 1u << SQ_VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE);
    reg(t, 0x24, 1);
    reg(t, 0x20, 1);
    reg(t, 0x70, 11);
    reg(t, 0x30, 0);
    reg(t, 0x38, 1u << shift);
    reg(t, 0x80, 0);
    reg(t, 0x90, 0x1000);
    reg(t, 0xa0, 0x2000);
    reg(t, 0x44, 1);
    reg(t, 0x70, 15);
    (void)virtio_mem_update_requested_size(vm, 2u * data[3], NULL);
    virtio_mmio_notify(t, 0);
    if (flags & 0x04)
        (void)virtio_mem_update_requested_size(vm, 2u * (data[3] / 2), NULL);
    if (flags & 0x02)
        virtio_mmio_notify(t, 0);
    /* The bitmap and plugged_size agree. */
    for (uint64_t i = 0; i < 128; i++)
        plugged += virtio_mem_block_plugged(vm, i);
    virtio_mem_status(vm, &st);
    if (st.plugged_size_mib != plugged * 2)
        __builtin_trap();
    reg(t, 0x70, 0);
    virtio_mem_free(vm);
    return 0;
}

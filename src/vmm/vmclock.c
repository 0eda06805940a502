/*
 * vmclock.c: the VMClock page's contents (vmclock.h).
 */
#include "vmm/vmclock.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "util/le.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the in-place updates store host integers as the ABI's "
               "little-endian fields");

void vmclock_abi_init(struct vmclock_abi *a)
{
    memset(a, 0, sizeof(*a));
    a->magic = SQ_VMCLOCK_MAGIC;
    a->size = VMCLOCK_PAGE;
    a->version = 1;
    a->clock_status = SQ_VMCLOCK_STATUS_UNKNOWN;
    a->counter_id = SQ_VMCLOCK_COUNTER_INVALID;
    a->flags = SQ_VMCLOCK_FLAG_VM_GEN_COUNTER | SQ_VMCLOCK_FLAG_NOTIFICATION;
}

void vmclock_abi_encode(const struct vmclock_abi *a,
                        uint8_t out[VMCLOCK_ABI_SIZE])
{
    le_put32(out + 0, a->magic);
    le_put32(out + 4, a->size);
    le_put16(out + 8, a->version);
    out[10] = a->counter_id;
    out[11] = a->time_type;
    le_put32(out + VMCLOCK_OFF_SEQ_COUNT, a->seq_count);
    le_put64(out + VMCLOCK_OFF_DISRUPTION, a->disruption_marker);
    le_put64(out + 24, a->flags);
    memcpy(out + 32, a->pad, 2);
    out[34] = a->clock_status;
    out[35] = a->leap_second_smearing_hint;
    le_put16(out + 36, a->tai_offset_sec);
    out[38] = a->leap_indicator;
    out[39] = a->counter_period_shift;
    le_put64(out + 40, a->counter_value);
    le_put64(out + 48, a->counter_period_frac_sec);
    le_put64(out + 56, a->counter_period_esterror_rate_frac_sec);
    le_put64(out + 64, a->counter_period_maxerror_rate_frac_sec);
    le_put64(out + 72, a->time_sec);
    le_put64(out + 80, a->time_frac_sec);
    le_put64(out + 88, a->time_esterror_nanosec);
    le_put64(out + 96, a->time_maxerror_nanosec);
    le_put64(out + VMCLOCK_OFF_VM_GENERATION, a->vm_generation_counter);
}

void vmclock_abi_decode(const uint8_t in[VMCLOCK_ABI_SIZE],
                        struct vmclock_abi *a)
{
    memset(a, 0, sizeof(*a));
    a->magic = le_get32(in + 0);
    a->size = le_get32(in + 4);
    a->version = le_get16(in + 8);
    a->counter_id = in[10];
    a->time_type = in[11];
    a->seq_count = le_get32(in + VMCLOCK_OFF_SEQ_COUNT);
    a->disruption_marker = le_get64(in + VMCLOCK_OFF_DISRUPTION);
    a->flags = le_get64(in + 24);
    memcpy(a->pad, in + 32, 2);
    a->clock_status = in[34];
    a->leap_second_smearing_hint = in[35];
    a->tai_offset_sec = le_get16(in + 36);
    a->leap_indicator = in[38];
    a->counter_period_shift = in[39];
    a->counter_value = le_get64(in + 40);
    a->counter_period_frac_sec = le_get64(in + 48);
    a->counter_period_esterror_rate_frac_sec = le_get64(in + 56);
    a->counter_period_maxerror_rate_frac_sec = le_get64(in + 64);
    a->time_sec = le_get64(in + 72);
    a->time_frac_sec = le_get64(in + 80);
    a->time_esterror_nanosec = le_get64(in + 88);
    a->time_maxerror_nanosec = le_get64(in + 96);
    a->vm_generation_counter = le_get64(in + VMCLOCK_OFF_VM_GENERATION);
}

/* The page's host address, or NULL when it is not RAM or misaligned. */
static uint8_t *page_at(struct guest_mem *gm, uint64_t gpa)
{
    void *hva;

    if (gpa % 8 != 0 || guest_mem_translate(gm, gpa, VMCLOCK_ABI_SIZE, &hva))
        return NULL;
    return hva;
}

int vmclock_write(const struct vmclock_abi *a, struct guest_mem *gm,
                  uint64_t gpa)
{
    uint8_t *p = page_at(gm, gpa);

    if (!p)
        return -EFAULT;
    vmclock_abi_encode(a, p);
    guest_mem_mark_dirty(gm, gpa, VMCLOCK_ABI_SIZE);
    return 0;
}

/* One aligned field stored whole (the guest may be reading it). */
static void store32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

static void store64(uint8_t *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
}

int vmclock_post_restore(struct vmclock_abi *a, struct guest_mem *gm,
                         uint64_t gpa)
{
    uint8_t *p = page_at(gm, gpa);

    if (!p)
        return -EFAULT;
    a->seq_count |= 1;
    store32(p + VMCLOCK_OFF_SEQ_COUNT, a->seq_count);
    /* The guest sees the odd count before the fields change (it pairs
     * this with an acquire fence). */
    atomic_thread_fence(memory_order_release);
    a->disruption_marker++;
    store64(p + VMCLOCK_OFF_DISRUPTION, a->disruption_marker);
    a->vm_generation_counter++;
    store64(p + VMCLOCK_OFF_VM_GENERATION, a->vm_generation_counter);
    /* ... and the new fields before the even count. */
    atomic_thread_fence(memory_order_release);
    a->seq_count++;
    store32(p + VMCLOCK_OFF_SEQ_COUNT, a->seq_count);
    guest_mem_mark_dirty(gm, gpa, VMCLOCK_ABI_SIZE);
    return 0;
}

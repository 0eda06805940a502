/*
 * test_pci_msix.c: MSI-X (devices/pci/msix.h) against a fake VMM that
 * records routes and irqfds: the capability body, GSI allocation, the
 * vector state machine (enable, function mask, per-vector mask, pending
 * bits delivered on unmask), re-routing when a live message changes, the
 * VMM's failures, and hostile table and PBA accesses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/pci/msix.h"
#include "pci_bytes.h"

struct fake_vm {
    uint64_t addr[MSIX_LAST_GSI + 1];
    uint32_t data[MSIX_LAST_GSI + 1];
    int irqfd[MSIX_LAST_GSI + 1]; /* efd registered, or -1 */
    int n_routes, n_irqfd_calls;
    int fail_route, fail_irqfd;
};

static int fake_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data)
{
    struct fake_vm *vm = ctx;

    if (vm->fail_route)
        return -EINVAL;
    vm->n_routes++;
    vm->addr[gsi] = addr;
    vm->data[gsi] = data;
    return 0;
}

static int fake_irqfd(void *ctx, int efd, uint32_t gsi, bool deassign)
{
    struct fake_vm *vm = ctx;

    vm->n_irqfd_calls++;
    if (vm->fail_irqfd && !deassign)
        return -EBUSY;
    if (deassign) {
        assert_int_equal(vm->irqfd[gsi], efd);
        vm->irqfd[gsi] = -1;
    } else {
        assert_int_equal(vm->irqfd[gsi], -1);
        vm->irqfd[gsi] = efd;
    }
    return 0;
}

static const struct msix_irq_ops fake_ops = {fake_route, fake_irqfd};

struct fixture {
    struct fake_vm vm;
    struct msix m;
};

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    for (size_t i = 0; i <= MSIX_LAST_GSI; i++)
        f.vm.irqfd[i] = -1;
    assert_int_equal(msix_init(&f.m, 3, 24), 0);
    msix_connect(&f.m, &fake_ops, &f.vm);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    msix_fini(&f->m);
    for (size_t i = 0; i <= MSIX_LAST_GSI; i++)
        assert_int_equal(f->vm.irqfd[i], -1); /* nothing left registered */
    return 0;
}

/* How many times vector v's eventfd fired since the last call. */
static uint64_t fired(struct msix *m, uint16_t v)
{
    uint64_t n = 0;

    if (read(m->vec[v].efd, &n, sizeof(n)) != (ssize_t)sizeof(n))
        return 0;
    return n;
}

static void tbl_wr(struct msix *m, uint64_t off, uint32_t len, uint64_t v)
{
    uint8_t b[8];

    pci_bytes_put(b, (uint32_t)v);
    pci_bytes_put(b + 4, (uint32_t)(v >> 32));
    msix_table_write(m, off, b, len);
}

static uint64_t tbl_rd(const struct msix *m, uint64_t off, uint32_t len)
{
    uint8_t b[8] = {0};

    msix_table_read(m, off, b, len);
    return pci_bytes_get(b, 4) | (uint64_t)pci_bytes_get(b + 4, 4) << 32;
}

/* Program vector v with a message and unmask it. */
static void program(struct msix *m, uint16_t v, uint32_t data)
{
    tbl_wr(m, v * 16u, 8, 0xfee00000ull);
    tbl_wr(m, v * 16u + 8, 4, data);
    tbl_wr(m, v * 16u + 12, 4, 0);
}

static void test_gsi_alloc(void **state)
{
    uint32_t next = MSIX_FIRST_GSI, first = 0;

    (void)state;
    assert_int_equal(msix_gsi_alloc(&next, 3, &first), 0);
    assert_int_equal(first, 24);
    assert_int_equal(msix_gsi_alloc(&next, 9, &first), 0);
    assert_int_equal(first, 27);
    assert_int_equal(next, 36);
    assert_int_equal(msix_gsi_alloc(&next, 0, &first), -ENOSPC);
    next = MSIX_LAST_GSI;
    assert_int_equal(msix_gsi_alloc(&next, 2, &first), -ENOSPC);
    assert_int_equal(next, MSIX_LAST_GSI);
    assert_int_equal(msix_gsi_alloc(&next, 1, &first), 0);
    assert_int_equal(first, MSIX_LAST_GSI);
    assert_int_equal(msix_gsi_alloc(&next, 1, &first), -ENOSPC);
    next = 5; /* a legacy GSI is never handed out */
    assert_int_equal(msix_gsi_alloc(&next, 1, &first), -ENOSPC);
}

static void test_init_and_cap(void **state)
{
    struct fixture *f = *state;
    struct msix big;
    uint8_t body[MSIX_CAP_BODY_SIZE], wmask[MSIX_CAP_BODY_SIZE];

    assert_int_equal(msix_table_size(&f->m), 48);
    assert_int_equal(msix_pba_size(&f->m), 8);
    msix_cap_body(&f->m, 0, 0x2000, 0x3000, body, wmask);
    assert_int_equal(pci_bytes_get(body, 2), 2); /* N - 1, disabled */
    assert_int_equal(pci_bytes_get(body + 2, 4), 0x2000);
    assert_int_equal(pci_bytes_get(body + 6, 4), 0x3000);
    assert_int_equal(pci_bytes_get(wmask, 2), 0xc000);
    assert_int_equal(pci_bytes_get(wmask + 2, 4), 0);
    /* Vectors start masked with a zero message. */
    assert_int_equal(tbl_rd(&f->m, 0, 8), 0);
    assert_int_equal(tbl_rd(&f->m, 8, 8), 1ull << 32);
    assert_int_equal(msix_init(&big, 0, 24), -EINVAL);
    msix_fini(&big);
    assert_int_equal(msix_init(&big, MSIX_MAX_VECTORS + 1, 24), -EINVAL);
    msix_fini(&big);
    assert_int_equal(msix_init(&big, MSIX_MAX_VECTORS, 24), 0);
    assert_int_equal(msix_pba_size(&big), 8);
    msix_fini(&big);
    msix_fini(&big); /* twice is fine */
}

static void test_disabled_drops(void **state)
{
    struct fixture *f = *state;

    program(&f->m, 0, 0x41);
    assert_int_equal(f->vm.n_routes, 0); /* not enabled: nothing routed */
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_false(msix_is_pending(&f->m, 0));
    assert_int_equal(fired(&f->m, 0), 0);
    assert_int_equal(msix_signal(&f->m, 3), -EINVAL);
    assert_int_equal(msix_signal(&f->m, MSIX_NO_VECTOR), -EINVAL);
}

static void test_enable_routes_and_fires(void **state)
{
    struct fixture *f = *state;

    program(&f->m, 1, 0x42);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    assert_int_equal(f->vm.n_routes, 1); /* vector 1 only; 0 and 2 masked */
    assert_int_equal(f->vm.addr[25], 0xfee00000ull);
    assert_int_equal(f->vm.data[25], 0x42);
    assert_int_equal(f->vm.irqfd[25], f->m.vec[1].efd);
    assert_int_equal(f->vm.irqfd[24], -1);
    assert_int_equal(msix_signal(&f->m, 1), 0);
    assert_int_equal(fired(&f->m, 1), 1);
    /* A masked vector keeps what it was raised for, and delivers it once
     * on unmask. */
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_true(msix_is_pending(&f->m, 0));
    assert_int_equal(fired(&f->m, 0), 0);
    {
        uint8_t b[8];

        msix_pba_read(&f->m, 0, b, 4);
        assert_int_equal(pci_bytes_get(b, 4), 1);
    }
    program(&f->m, 0, 0x40);
    assert_false(msix_is_pending(&f->m, 0));
    assert_int_equal(fired(&f->m, 0), 1);
    assert_int_equal(f->vm.data[24], 0x40);
}

static void test_function_mask(void **state)
{
    struct fixture *f = *state;

    program(&f->m, 0, 0x40);
    program(&f->m, 2, 0x44);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE | MSIX_CTL_FMASK);
    assert_int_equal(f->vm.n_routes, 0);
    assert_int_equal(msix_signal(&f->m, 2), 0);
    assert_true(msix_is_pending(&f->m, 2));
    assert_false(msix_is_pending(&f->m, 0));
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    assert_int_equal(f->vm.n_routes, 2);
    assert_false(msix_is_pending(&f->m, 2));
    assert_int_equal(fired(&f->m, 2), 1);
    assert_int_equal(fired(&f->m, 0), 0);
    /* Masking the function again takes the irqfds off; disabling too. */
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE | MSIX_CTL_FMASK);
    assert_int_equal(f->vm.irqfd[24], -1);
    assert_int_equal(f->vm.irqfd[26], -1);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    msix_set_msg_ctl(&f->m, 0);
    assert_int_equal(f->vm.irqfd[24], -1);
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_false(msix_is_pending(&f->m, 0));
}

static void test_reroute_on_message_change(void **state)
{
    struct fixture *f = *state;
    int routes;

    program(&f->m, 0, 0x40);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    routes = f->vm.n_routes;
    tbl_wr(&f->m, 8, 4, 0x40); /* same value: nothing to do */
    assert_int_equal(f->vm.n_routes, routes);
    tbl_wr(&f->m, 8, 4, 0x51);
    assert_int_equal(f->vm.n_routes, routes + 1);
    assert_int_equal(f->vm.data[24], 0x51);
    tbl_wr(&f->m, 0, 4, 0xfee01000);
    assert_int_equal(f->vm.addr[24], 0xfee01000ull);
    /* Reserved Vector Control bits are not kept. */
    tbl_wr(&f->m, 12, 4, 0xfffffffe);
    assert_int_equal(tbl_rd(&f->m, 12, 4), 0);
    assert_int_equal(f->vm.irqfd[24], f->m.vec[0].efd);
    tbl_wr(&f->m, 12, 4, 0xffffffff);
    assert_int_equal(tbl_rd(&f->m, 12, 4), 1);
    assert_int_equal(f->vm.irqfd[24], -1);
}

static void test_vmm_failures(void **state)
{
    struct fixture *f = *state;

    f->vm.fail_route = 1;
    program(&f->m, 0, 0x40);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    assert_false(f->m.vec[0].is_live);
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_true(msix_is_pending(&f->m, 0)); /* kept, not lost */
    f->vm.fail_route = 0;
    f->vm.fail_irqfd = 1;
    tbl_wr(&f->m, 8, 4, 0x41);
    assert_false(f->m.vec[0].is_live);
    f->vm.fail_irqfd = 0;
    tbl_wr(&f->m, 8, 4, 0x42);
    assert_true(f->m.vec[0].is_live);
    assert_int_equal(fired(&f->m, 0), 1);
    /* Not connected to a VM at all: raised vectors stay pending. */
    msix_set_msg_ctl(&f->m, 0);
    msix_connect(&f->m, NULL, NULL);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    assert_int_equal(msix_signal(&f->m, 0), 0);
    assert_true(msix_is_pending(&f->m, 0));
    msix_connect(&f->m, &fake_ops, &f->vm);
}

static void test_hostile_table_accesses(void **state)
{
    struct fixture *f = *state;
    struct msix before = f->m;
    uint8_t b[8];

    /* Odd lengths, misaligned, past the table (vector 3 of 3), huge
     * offsets: nothing changes, reads are all ones. */
    tbl_wr(&f->m, 0, 2, 0xffff);
    tbl_wr(&f->m, 0, 1, 0xff);
    tbl_wr(&f->m, 2, 4, 0xffffffff);
    tbl_wr(&f->m, 4, 8, ~0ull);
    tbl_wr(&f->m, 48, 4, 0);
    tbl_wr(&f->m, 44, 8, 0);
    tbl_wr(&f->m, UINT64_MAX - 3, 4, 0);
    tbl_wr(&f->m, UINT64_MAX - 7, 8, 0);
    assert_memory_equal(&f->m, &before, sizeof(before));
    assert_int_equal(tbl_rd(&f->m, 48, 4), 0xffffffffu);
    assert_int_equal(tbl_rd(&f->m, 2, 4), 0xffffffffu);
    assert_int_equal(tbl_rd(&f->m, 40, 8), 0x100000000ull);
    assert_int_equal(tbl_rd(&f->m, 44, 8), ~0ull);
    assert_int_equal(tbl_rd(&f->m, UINT64_MAX - 7, 8), ~0ull);
    memset(b, 0, sizeof(b));
    msix_pba_read(&f->m, 8, b, 4);
    assert_int_equal(pci_bytes_get(b, 4), 0xffffffffu);
    msix_pba_read(&f->m, 4, b, 4);
    assert_int_equal(pci_bytes_get(b, 4), 0);
    msix_pba_read(&f->m, 1, b, 2);
    assert_int_equal(b[0], 0xff);
    /* A message pointing anywhere is routed as written: KVM decides what
     * an MSI to a non-APIC address does, squib does not care. */
    tbl_wr(&f->m, 0, 8, 0xdeadbeefcafe0000ull);
    tbl_wr(&f->m, 12, 4, 0);
    msix_set_msg_ctl(&f->m, MSIX_CTL_ENABLE);
    assert_int_equal(f->vm.addr[24], 0xdeadbeefcafe0000ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gsi_alloc),
        cmocka_unit_test_setup_teardown(test_init_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled_drops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enable_routes_and_fires, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reroute_on_message_change, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vmm_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_table_accesses, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

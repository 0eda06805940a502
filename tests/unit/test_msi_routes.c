/*
 * test_msi_routes.c: the VM's MSI routing table (vmm/msi_routes.h) on a
 * real KVM VM with an in-kernel irqchip: routes set, replaced and kept in
 * GSI order, legacy GSIs refused, the irqchip's default pins kept in
 * every table pushed, irqfds registered for routed GSIs through
 * msi_routes_ops, and an MSI-X vector (devices/pci/msix.h) driven end to
 * end as far as KVM (delivery into a guest is the test guest's part).
 * Every test skips, saying why, when /dev/kvm cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/pci/msix.h"
#include "vmm/kvm.h"
#include "vmm/msi_routes.h"

struct fixture {
    struct kvm_sys k;
    int vm_fd;
    struct msi_routes r;
};

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    f.k.fd = -1;
    f.vm_fd = -1;
    if (kvm_sys_open(&f.k) < 0) {
        printf("SKIP: /dev/kvm is not usable here (%s)\n", strerror(errno));
        *state = NULL;
        return 0;
    }
    f.vm_fd = kvm_create_vm(&f.k);
    assert_true(f.vm_fd >= 0);
    assert_int_equal(kvm_create_irqchip(f.vm_fd), 0);
    msi_routes_init(&f.r, f.vm_fd);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (!f)
        return 0;
    msi_routes_fini(&f->r);
    (void)close(f->vm_fd);
    kvm_sys_close(&f->k);
    return 0;
}

static void test_table(void **state)
{
    struct fixture *f = *state;

    if (!f)
        skip();
    assert_int_equal(msi_routes_set(&f->r, 30, 0xfee00000, 0x41), 0);
    assert_int_equal(msi_routes_set(&f->r, 24, 0xfee00000, 0x40), 0);
    assert_int_equal(msi_routes_set(&f->r, 4095, 0xfee01000, 0x42), 0);
    assert_int_equal(msi_routes_set(&f->r, 30, 0xfee02000, 0x43), 0);
    assert_int_equal(f->r.n_msi, 3);
    assert_int_equal(f->r.msi[0].gsi, 24);
    assert_int_equal(f->r.msi[1].gsi, 30);
    assert_int_equal(f->r.msi[1].addr, 0xfee02000);
    assert_int_equal(f->r.msi[1].data, 0x43);
    assert_int_equal(f->r.msi[2].gsi, 4095);
    assert_int_equal(msi_routes_set(&f->r, 23, 0xfee00000, 0), -EINVAL);
    assert_int_equal(msi_routes_set(&f->r, 4096, 0xfee00000, 0), -EINVAL);
    assert_int_equal(f->r.n_msi, 3);
}

static void test_legacy_pins_kept(void **state)
{
    struct fixture *f = *state;
    struct kvm_irq_routing_entry e[MSI_ROUTES_N_LEGACY + 1];
    size_t n, at = 0;

    if (!f)
        skip();
    assert_int_equal(msi_routes_set(&f->r, 24, 0xfee00000, 0x40), 0);
    n = msi_routes_table(&f->r, e);
    assert_int_equal(n, MSI_ROUTES_N_LEGACY + 1);
    /* KVM's own default: GSI 0..15 on both PICs and the IOAPIC, 16..23 on
     * the IOAPIC; the serial port (4), the i8042 (1) and virtio-mmio
     * devices (5..) keep their lines after the first push. */
    for (uint32_t gsi = 0; gsi < 24; gsi++) {
        if (gsi < 16) {
            assert_int_equal(e[at].gsi, gsi);
            assert_int_equal(e[at].type, KVM_IRQ_ROUTING_IRQCHIP);
            assert_int_equal(e[at].u.irqchip.irqchip,
                             gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
                                     : KVM_IRQCHIP_PIC_SLAVE);
            assert_int_equal(e[at].u.irqchip.pin, gsi % 8);
            at++;
        }
        assert_int_equal(e[at].gsi, gsi);
        assert_int_equal(e[at].u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
        assert_int_equal(e[at].u.irqchip.pin, gsi);
        at++;
    }
    assert_int_equal(e[at].gsi, 24);
    assert_int_equal(e[at].type, KVM_IRQ_ROUTING_MSI);
    assert_int_equal(e[at].u.msi.address_lo, 0xfee00000);
    assert_int_equal(e[at].u.msi.data, 0x40);
}

static void test_msix_through_kvm(void **state)
{
    struct fixture *f = *state;
    struct msix m;
    uint8_t entry[16] = {0x00, 0x00, 0xe0, 0xfe, 0, 0, 0, 0, 0x45};

    if (!f)
        skip();
    assert_int_equal(msix_init(&m, 2, 24), 0);
    msix_connect(&m, &msi_routes_ops, &f->r);
    msix_table_write(&m, 0, entry, 8);
    msix_table_write(&m, 8, entry + 8, 8); /* data 0x45, unmasked */
    msix_set_msg_ctl(&m, MSIX_CTL_ENABLE);
    assert_true(m.vec[0].is_live);
    assert_false(m.vec[1].is_live);
    assert_int_equal(f->r.n_msi, 1);
    assert_int_equal(f->r.msi[0].data, 0x45);
    assert_int_equal(msix_signal(&m, 0), 0);
    msix_set_msg_ctl(&m, MSIX_CTL_ENABLE | MSIX_CTL_FMASK);
    assert_false(m.vec[0].is_live);
    msix_fini(&m);
}

/* Staged routes reach KVM in one push (a restore's). Without a VM (fd -1)
 * staging still works, as it never calls KVM, and a table KVM did not
 * take is pushed again by the next set, even of the same route. */
static void test_stage_then_push(void **state)
{
    struct fixture *f = *state;
    struct msi_routes r;

    msi_routes_init(&r, -1);
    assert_int_equal(msi_routes_stage(&r, 24, 0xfee00000, 0x40), 0);
    assert_int_equal(msi_routes_stage(&r, 25, 0xfee00000, 0x41), 0);
    assert_int_equal(msi_routes_stage(&r, 23, 0xfee00000, 0), -EINVAL);
    assert_int_equal(r.n_msi, 2);
    assert_false(r.is_synced);
    assert_int_equal(msi_routes_push(&r), -EBADF);
    assert_int_equal(msi_routes_set(&r, 24, 0xfee00000, 0x40), -EBADF);
    msi_routes_fini(&r);
    if (!f)
        skip();
    assert_int_equal(msi_routes_stage(&f->r, 24, 0xfee00000, 0x40), 0);
    assert_int_equal(msi_routes_stage(&f->r, 25, 0xfee00000, 0x41), 0);
    assert_int_equal(msi_routes_push(&f->r), 0);
    assert_true(f->r.is_synced);
    /* The same route again costs nothing; another one is pushed. */
    assert_int_equal(msi_routes_set(&f->r, 25, 0xfee00000, 0x41), 0);
    assert_true(f->r.is_synced);
    assert_int_equal(msi_routes_set(&f->r, 25, 0xfee00000, 0x42), 0);
    assert_true(f->r.is_synced);
    assert_int_equal(f->r.msi[1].data, 0x42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_pins_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msix_through_kvm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_then_push, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

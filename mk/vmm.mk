# mk/vmm.mk: rules for the VMM controller's tests.

# test_vmm_boot boots the project's test guest through InstanceStart; build
# the guest first (it skips, saying why, when the guest or /dev/kvm is
# missing).
$(BUILD)/tests/unit/test_vmm_boot: | build/guest/guest-linux.elf

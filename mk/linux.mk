# mk/linux.mk: targets for the real-Linux test guest and the boot benchmark.
# None of them is a prerequisite of `check`: the tests obtain the kernel and
# the root images themselves (tests/integration/linux_guest.py) and skip with
# the reason printed when they cannot.
#
#   make guest-kernel    obtain the guest kernel into the cache (prebuilt from
#                        ../shared/guest, or a 10-15 minute source build)
#   make guest-kernel-build  build the kernel from source with the project's
#                        config even when a prebuilt one exists (it boots
#                        faster; tests prefer it once it is in the cache)
#   make guest-rootfs    build the busybox root images into the cache
#   make bench-boot      boot the same guest under QEMU microvm and squib

.PHONY: guest-kernel guest-kernel-build guest-rootfs bench-boot

guest-kernel:
	$(Q)scripts/guest-kernel.sh

guest-kernel-build:
	$(Q)scripts/guest-kernel.sh --source build

guest-rootfs:
	$(Q)scripts/mkrootfs.sh all

bench-boot: $(BUILD)/squib
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/boot/run.py $(BENCH_ARGS)

# bmem.mk: the memory benchmarks that boot the test guest, squib beside
# QEMU's microvm machine where QEMU can host the device. Figures only,
# never pass/fail on a time.
#   make bench-balloon     # host memory given back by the balloon (bench/balloon)
#   make bench-balloon BENCH_BALLOON_ARGS='--runs 5'
#   make bench-memhp       # 1 GiB of virtio-mem plugged and unplugged (bench/memhp)
BENCH_BALLOON_ARGS ?=

.PHONY: bench-balloon
bench-balloon: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/balloon/run.py $(BENCH_BALLOON_ARGS)

# 1 GiB of virtio-mem plugged and unplugged (bench/memhp): PATCH to the
# GET showing it and to the guest's line, squib beside QEMU q35's
# virtio-mem-pci. BENCH_MEMHP_ARGS passes options.
BENCH_MEMHP_ARGS ?=

.PHONY: bench-memhp
bench-memhp: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/memhp/run.py $(BENCH_MEMHP_ARGS)

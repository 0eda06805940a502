# bmem.mk: the memory benchmarks that boot the test guest, squib beside
# QEMU's microvm machine where QEMU can host the device. Figures only,
# never pass/fail on a time.
#   make bench-balloon     # host memory given back by the balloon (bench/balloon)
#   make bench-balloon BENCH_BALLOON_ARGS='--runs 5'
BENCH_BALLOON_ARGS ?=

.PHONY: bench-balloon
bench-balloon: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/balloon/run.py $(BENCH_BALLOON_ARGS)

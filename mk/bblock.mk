# bblock.mk: the block benchmark (bench/block/run.py): virtio-blk throughput
# from inside the test guest, squib beside QEMU's microvm machine on the same
# backing file. Figures only, never pass/fail on a time.
#   make bench-block                       # every mode, qd 1 and 16, Sync and Async
#   make bench-block BENCH_BLOCK_ARGS='--runs 3 --modes randread'
BENCH_BLOCK_ARGS ?=

.PHONY: bench-block
bench-block: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/block/run.py $(BENCH_BLOCK_ARGS)

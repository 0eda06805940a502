# bblock.mk: the block benchmark (bench/block/run.py): virtio-blk throughput
# from inside the test guest, squib beside QEMU's microvm machine on the same
# backing file. Figures only, never pass/fail on a time.
#   make bench-block                       # every mode, qd 1 and 16, Sync and Async
#   make bench-block BENCH_BLOCK_ARGS='--runs 3 --modes randread'
BENCH_BLOCK_ARGS ?=

.PHONY: bench-block
bench-block: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/block/run.py $(BENCH_BLOCK_ARGS)

# The same over virtio-pci (MSI-X) beside virtio-mmio: 4 KiB random reads,
# squib --enable-pci beside QEMU q35's virtio-blk-pci, and each transport's
# IOPS and mean latency side by side. BENCH_BLOCK_PCI_ARGS passes options.
BENCH_BLOCK_PCI_ARGS ?= --modes randread --qd 1,16 --runs 5

.PHONY: bench-block-pci
bench-block-pci: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/block/run.py --transport mmio,pci $(BENCH_BLOCK_PCI_ARGS)

# bpmem.mk: the pmem benchmark (bench/pmem/run.py): real Linux reading the
# same bytes from a virtio-pmem device and a virtio-blk device under squib,
# in one boot. Figures only, never pass/fail on a time.
#   make bench-pmem
#   make bench-pmem BENCH_PMEM_ARGS='--mib 64 --runs 3'
BENCH_PMEM_ARGS ?=

.PHONY: bench-pmem
bench-pmem: $(BUILD)/squib
	$(Q)SQUIB_BUILD=$(BUILD) /usr/bin/python3 bench/pmem/run.py $(BENCH_PMEM_ARGS)

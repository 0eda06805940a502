# bsnapshot.mk: the snapshot benchmark (bench/snapshot/run.py): squib's
# PUT /snapshot/create and /snapshot/load (File and Uffd backends) beside
# QEMU microvm's migration to a file and -incoming, 128 MiB and 1 GiB
# guests, and ten clones of one snapshot at once. Figures only, never
# pass/fail on a time.
#   make bench-snapshot
#   make bench-snapshot BENCH_SNAPSHOT_ARGS='--mem 128 --runs 5 --clones 0'
BENCH_SNAPSHOT_ARGS ?=

.PHONY: bench-snapshot
bench-snapshot: $(BUILD)/squib $(BUILD)/squib-uffd-handler guests
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) /usr/bin/python3 bench/snapshot/run.py $(BENCH_SNAPSHOT_ARGS)

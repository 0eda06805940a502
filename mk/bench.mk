# Benchmarks: figures only, never pass/fail on a time.
BENCH_API := $(BUILD)/bench/bench_api

BENCH_FLOOR := $(BUILD)/bench/startup_floor

$(BENCH_API): bench/api/bench_api.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o $@ $<

# Linked as squib is (static PIE): the start-up floor.
$(BENCH_FLOOR): bench/api/startup_floor.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra $(SQUIB_LDFLAGS) \
	    -o $@ $< -lpthread

.PHONY: bench bench-api bench-startup
bench: bench-api
bench-api: $(BENCH_API) $(BUILD)/squib
	$(Q)$(BENCH_API) $(BUILD)/squib $(BENCH_ROUNDS)

# Start-up CPU only: squib with and without seccomp beside the floor,
# interleaved (BENCH_STARTUP_ROUNDS, default 101; BENCH_STARTUP_EXTRA adds
# LABEL=BINARY[,ARG...] specs, e.g. an older build).
BENCH_STARTUP_ROUNDS ?= 101
bench-startup: $(BENCH_API) $(BENCH_FLOOR) $(BUILD)/squib
	$(Q)$(BENCH_API) --startup $(BENCH_STARTUP_ROUNDS) \
	    squib=$(BUILD)/squib squib-no-seccomp=$(BUILD)/squib,--no-seccomp \
	    floor=$(BENCH_FLOOR) $(BENCH_STARTUP_EXTRA)

# The MMDS in-process: the test guest's raw-frame client against squib's
# stack and HTTP handler, beside the handler alone (bench/mmds).
BENCH_MMDS := $(BUILD)/bench/bench_mmds

$(BUILD)/bench/bench_mmds: $(BUILD)/bench/mmds/bench_mmds.o \
                           $(BUILD)/tests/guest/netproto.o $(BUILD)/libsquib.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-mmds
bench: bench-mmds
bench-mmds: $(BENCH_MMDS)
	$(Q)$(BENCH_MMDS) $(BENCH_MMDS_REQUESTS) $(BENCH_MMDS_ROUNDS)

# MMDS requests per second from inside the test guest, V1 and V2, beside
# ARP round trips in the same boot (needs KVM and root). Not part of
# `bench`: it boots guests. BENCH_MMDS_GUEST_ARGS passes options.
.PHONY: bench-mmds-guest
bench-mmds-guest: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/mmds/guest.py $(BENCH_MMDS_GUEST_ARGS)

# virtio-net with real Linux, squib beside QEMU microvm's virtio-net-device
# on the same TAP setup (bench/net/linux.py; minutes per boot on nested
# hosts, so not part of `bench`). BENCH_NET_LINUX_ARGS passes options.
.PHONY: bench-net-linux
bench-net-linux: $(BUILD)/squib
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) $(PYTHON) bench/net/linux.py $(BENCH_NET_LINUX_ARGS)

# virtio-net through a real TAP in a private network namespace, beside
# plain writev()/readv() on the same TAP (bench/net/bench_net.c; needs
# root, prints "skipped" without it). BENCH_NET_MIB each way, default
# 256; BENCH_NET_ROUNDS, default 3.
BENCH_NET := $(BUILD)/bench/bench_net
BENCH_NET_MIB ?= 256
BENCH_NET_ROUNDS ?= 3

$(BENCH_NET): $(BUILD)/bench/net/bench_net.o $(BUILD)/libsquib.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-net
bench: bench-net
bench-net: $(BENCH_NET)
	$(Q)$(BENCH_NET) $(BENCH_NET_MIB) $(BENCH_NET_ROUNDS)

# virtio-vsock in-process: the test guest's vsock client through squib's
# device rings against real Unix sockets, beside a Unix socket alone
# (bench/vsock/bench_vsock.c). BENCH_VSOCK_MIB each way per round, default
# 256; BENCH_VSOCK_ROUNDS, default 3.
BENCH_VSOCK := $(BUILD)/bench/bench_vsock
BENCH_VSOCK_MIB ?= 256
BENCH_VSOCK_ROUNDS ?= 3

$(BENCH_VSOCK): $(BUILD)/bench/vsock/bench_vsock.o \
                $(BUILD)/tests/guest/vsockproto.o $(BUILD)/libsquib.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-vsock
bench: bench-vsock
bench-vsock: $(BENCH_VSOCK)
	$(Q)$(BENCH_VSOCK) $(BENCH_VSOCK_MIB) $(BENCH_VSOCK_ROUNDS)

# PUT /snapshot/load's two memory backends without KVM: the File backend's
# mapping and the Uffd backend's handshake with squib-uffd-handler, each
# with every page touched, beside anonymous memory
# (bench/snapshot/bench_snapshot_mem.c). BENCH_MEM_MIB, default 128;
# BENCH_MEM_ROUNDS, default 5.
BENCH_SNAPSHOT_MEM := $(BUILD)/bench/bench_snapshot_mem
BENCH_MEM_MIB ?= 128
BENCH_MEM_ROUNDS ?= 5

$(BENCH_SNAPSHOT_MEM): $(BUILD)/bench/snapshot/bench_snapshot_mem.o \
                       $(BUILD)/libsquib.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-snapshot-mem
bench: bench-snapshot-mem
bench-snapshot-mem: $(BENCH_SNAPSHOT_MEM) $(BUILD)/squib-uffd-handler
	$(Q)$(BENCH_SNAPSHOT_MEM) $(BUILD)/squib-uffd-handler $(BENCH_MEM_MIB) \
	    $(BENCH_MEM_ROUNDS)

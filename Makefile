# squib: one non-recursive Makefile.
#
#   make                 build/squib
#   make check           include-layer check, unit tests (cmocka), integration
#                        tests (pytest)
#   make SAN=1 check     the same under ASan+UBSan, in build/san/
#   make nested-integration  the integration tests in a VM with a working KVM
#                        (scripts/nested-kvm.sh), for hosts without /dev/kvm
#   make nested-guests   CI's part of that: the files that boot guests, only
#                        where /dev/kvm is missing
#   make SAN=thread check  the same under ThreadSanitizer, in build/tsan/
#   make SAN=thread unit   only the unit tests under TSan (the CI step)
#   make fuzz            libFuzzer harnesses (clang), bounded runs over the corpus
#   make layers          include-layer check (scripts/check-layers.py and its
#                        tests); known violations in scripts/layers-known.txt;
#                        and libc calls banned from src/ (check-banned.py)
#   make tidy            clang-tidy with .clang-tidy over src/ (scripts/tidy.py);
#                        known reports in scripts/tidy-known.txt
#   make format          clang-format -i with .clang-format (scripts/reformat.sh)
#   make format-check    fail if any file differs from .clang-format
#   make compdb          compile_commands.json for clangd and other tools
#   make WERROR=0        keep warnings as warnings (local hacking only)
#   make V=1             show the commands
#
# Sources are found by wildcard, so a new module is a new file, not a Makefile
# edit. Area-specific rules (test guests, fuzzers, benches) live in mk/*.mk,
# which this file includes at the end.

BUILD   ?= build
CC      ?= gcc
PYTHON  ?= /usr/bin/python3
WERROR  ?= 1
SAN     ?= 0

SANWARN :=
ifeq ($(SAN),1)
BUILD   := $(BUILD)/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
OPTFLAGS := -O1
else ifeq ($(SAN),thread)
BUILD   := $(BUILD)/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPTFLAGS := -O1
# The virtqueue fences order our ring accesses against the guest, which TSan
# cannot see anyway; gcc warns that it does not model them.
SANWARN := -Wno-tsan
else ifeq ($(SAN),0)
SANFLAGS :=
OPTFLAGS := -O2 -D_FORTIFY_SOURCE=2
else
$(error SAN=$(SAN): use SAN=1 (ASan+UBSan) or SAN=thread (TSan))
endif

WARNFLAGS := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual \
             -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wvla -Wimplicit-fallthrough $(SANWARN)
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif

CPPFLAGS := -D_GNU_SOURCE -Isrc -MMD -MP
CFLAGS   := -std=c11 -g $(OPTFLAGS) $(WARNFLAGS) -fstack-protector-strong \
            -fPIE $(SANFLAGS)
LDFLAGS  := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(SANFLAGS)
# nettle: AES-256-GCM for the MMDS V2 tokens (mmds/token.c).
LDLIBS   := -lpthread -luring -lseccomp -lnettle
# The squib binary is linked statically (static PIE), as Firecracker is:
# no shared libraries to find at run time (a jail needs none), and only the
# pages of libc squib touches are resident (about 0.7 MiB less RSS). The
# sanitizer runtimes need dynamic linking, so SAN builds stay dynamic.
ifeq ($(SAN),0)
SQUIB_LDFLAGS := -static-pie
else
SQUIB_LDFLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

SRCS     := $(shell find src -name '*.c' -not -path 'src/jailer/*' | sort)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
FAKE_SRCS := $(sort $(wildcard tests/unit/fakes/*.c))
FAKE_OBJS := $(FAKE_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all check unit integration clean format format-check tidy guests \
        layers compdb nested-integration nested-guests
# Keep intermediate objects (test .o files are built by a chained rule).
.SECONDARY:
all: $(BUILD)/squib

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libsquib.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Generated sources (build/gen/, per build directory: mk/seccomp.mk).
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The built-in seccomp filters, compiled to BPF at build time, are linked
# beside libsquib.a (mk/seccomp.mk).
$(BUILD)/squib: $(BUILD)/src/main.o $(BUILD)/gen/seccomp_default_bpf.o \
                $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: one cmocka binary per tests/unit/test_<module>.c, linked against
# the fakes first (so a fake replaces the real object) and then libsquib.a.
# Objects a test names as extra prerequisites (mk/*.mk) come before the fakes.
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(FAKE_OBJS) $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(filter-out $< $(FAKE_OBJS) %.a,$^) \
	    $(FAKE_OBJS) $(BUILD)/libsquib.a $(LDLIBS) -lcmocka

# Sanitizer reports fail the run (each runtime reads only its own variable).
SAN_ENV := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do \
	    echo "== $$t"; $(SAN_ENV) $$t; \
	done

# Integration tests drive the real binary over its API socket (and boot the
# test guests where /dev/kvm works). SQUIB_BUILD tells them which build to use.
# The 20 slowest are listed at the end, to keep an eye on CI's length.
integration: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) $(SAN_ENV) \
	    $(PYTHON) -m pytest -q -ra --durations=20 tests/integration $(PYTEST_ARGS)

# The integration tests inside a throwaway VM whose kernel has a working
# KVM on emulated hardware (scripts/nested-kvm.sh), for hosts without
# /dev/kvm: slow, but every test that boots a guest runs instead of skipping.
nested-integration: $(BUILD)/squib guests
	$(Q)scripts/nested-kvm.sh -- $(MAKE) --no-print-directory integration \
	    PYTEST_ARGS='$(PYTEST_ARGS)'

# What CI runs for the guest tests on a host without a usable /dev/kvm: the
# test files that boot guests (SQUIB_GUEST_TESTS_ONLY), inside nested-kvm.sh,
# without the real-Linux boots (test_linux*: an hour each there) and minus
# NESTED_IGNORE (files whose tests are not yet proven there; docs/testing.md
# says why). With /dev/kvm `make check` ran them all.
NESTED_IGNORE ?= test_bench_snapshot.py test_pci_guest.py \
                 test_snapshot_acpi.py test_snapshot_net.py test_snapshot_pci.py \
                 test_snapshot_uffd.py test_virtio_guest.py test_vsock_guest.py
nested-guests: $(BUILD)/squib guests
	$(Q)if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then \
	    echo "nested-guests: /dev/kvm works here, make check ran the guest tests"; \
	else \
	    SQUIB_GUEST_TESTS_ONLY=1 scripts/nested-kvm.sh -- \
	        $(MAKE) --no-print-directory integration \
	        PYTEST_ARGS='--timeout=900 -k "not test_linux" $(foreach f,$(NESTED_IGNORE),--ignore=tests/integration/$(f)) $(PYTEST_ARGS)'; \
	fi

# The layer check, then unit tests, then integration; sequential even under -j.
check:
	$(Q)$(MAKE) --no-print-directory layers
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration

# Test guests and other prerequisites of the integration tests add themselves
# here from mk/*.mk.
guests:

# DESIGN.md's folder layers, checked on the #include lines of src/, and the
# libc calls src/ must not make (the scripts' own tests first; about a
# second).
layers:
	$(Q)$(PYTHON) -m pytest -q -p no:cacheprovider tests/tools
	$(Q)$(PYTHON) scripts/check-layers.py
	$(Q)$(PYTHON) scripts/check-banned.py

# Formatting (.clang-format, clang-format 14). scripts/reformat.sh holds the
# file list: src/, tests/, tools/, bench/ *.c *.h, minus the generated
# code-point tables. `make format` rewrites files in place; `format-check`
# only reports. To reformat the whole tree once: scripts/reformat.sh, check
# that `make format-check` passes, commit, and add that commit's hash to
# .git-blame-ignore-revs.
format:
	$(Q)scripts/reformat.sh

format-check:
	$(Q)scripts/reformat.sh --check

# clang-tidy (.clang-tidy) over every source of src/, TIDY_JOBS at a time.
# Reports listed in scripts/tidy-known.txt are allowed; the run fails on a
# new one and on a listed one that has gone.
TIDY_JOBS ?= $(shell nproc)
TIDY_FLAGS = $(filter-out -MMD -MP,$(CPPFLAGS)) -std=c11

tidy:
	$(Q)$(PYTHON) scripts/tidy.py -j$(TIDY_JOBS) \
	    $$(find src -name '*.c' | LC_ALL=C sort) -- $(TIDY_FLAGS)

# compile_commands.json at the top of the checkout, from the same flags the
# rules below use (nothing is built): src/, unit tests, fakes and tools with
# CC; fuzz harnesses with FUZZ_CC; the test guests with GUEST_CC.
compdb:
	$(Q)$(PYTHON) scripts/compdb.py -o compile_commands.json --build $(BUILD) \
	    --cmd "$(CC) $(filter-out -MMD -MP,$(CPPFLAGS)) $(CFLAGS)" \
	        $(SRCS) $(wildcard src/jailer/*.c) $(UNIT_SRCS) $(FAKE_SRCS) \
	        $(wildcard tools/*.c tools/*/*.c tests/support/*.c) \
	    --cmd "$(FUZZ_CC) $(filter-out -MMD -MP,$(CPPFLAGS)) $(FUZZ_CFLAGS) \
	           -fsanitize=fuzzer-no-link,$(FUZZ_SAN)" $(FUZZ_SRCS) \
	    --cmd "$(GUEST_CC) $(GUEST_CFLAGS)" $(wildcard tests/guest/*.c)

clean:
	rm -rf build

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

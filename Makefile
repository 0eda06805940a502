# squib: one non-recursive Makefile.
#
#   make                 build/squib
#   make check           unit tests (cmocka) + integration tests (pytest)
#   make SAN=1 check     the same under ASan+UBSan, in build/san/
#   make fuzz            libFuzzer harnesses (clang), bounded runs over the corpus
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

ifeq ($(SAN),1)
BUILD   := $(BUILD)/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
OPTFLAGS := -O1
else
SANFLAGS :=
OPTFLAGS := -O2 -D_FORTIFY_SOURCE=2
endif

WARNFLAGS := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual \
             -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wvla -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif

CPPFLAGS := -D_GNU_SOURCE -Isrc -MMD -MP
CFLAGS   := -std=c11 -g $(OPTFLAGS) $(WARNFLAGS) -fstack-protector-strong \
            -fPIE $(SANFLAGS)
LDFLAGS  := -pie -Wl,-z,relro,-z,now,-z,noexecstack $(SANFLAGS)
LDLIBS   := -lpthread -luring -lseccomp
# The squib binary is linked statically (static PIE), as Firecracker is:
# no shared libraries to find at run time (a jail needs none), and only the
# pages of libc squib touches are resident (about 0.7 MiB less RSS). The
# sanitizer runtimes need dynamic linking, so SAN builds stay dynamic.
ifeq ($(SAN),1)
SQUIB_LDFLAGS :=
else
SQUIB_LDFLAGS := -static-pie
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

.PHONY: all check unit integration clean format tidy guests
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

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do \
	    echo "== $$t"; UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $$t; \
	done

# Integration tests drive the real binary over its API socket (and boot the
# test guests where /dev/kvm works). SQUIB_BUILD tells them which build to use.
integration: $(BUILD)/squib guests
	$(Q)SQUIB_BUILD=$(abspath $(BUILD)) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(PYTHON) -m pytest -q -ra tests/integration $(PYTEST_ARGS)

# Unit tests first, then integration; sequential even under -j.
check:
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration

# Test guests and other prerequisites of the integration tests add themselves
# here from mk/*.mk.
guests:

format:
	$(Q)clang-format -i $$(find src tests -name '*.[ch]')

tidy:
	$(Q)clang-tidy $(LIB_SRCS) -- $(CPPFLAGS) -std=c11

clean:
	rm -rf build

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

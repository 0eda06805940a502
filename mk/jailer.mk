# mk/jailer.mk: build/jailer, upstream's jailer in C (src/jailer/,
# docs/jailer.md).
#
#   make jailer          build/jailer (static PIE, as build/squib)
#
# The jailer's objects (all of src/jailer/ but main.c) form libjailer.a; the
# binary links them with libsquib.a, from which it takes only util/ (and
# config/ids.o, the --id character rule shared with squib's own --id). Its
# unit tests (tests/unit/test_jailer_*.c) link libjailer.a before
# libsquib.a; the generic unit-test rule would not. Built by `all` and, for
# the integration tests, by `guests`.

JAILER_SRCS     := $(sort $(wildcard src/jailer/*.c))
JAILER_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o, \
                     $(filter-out src/jailer/main.c,$(JAILER_SRCS)))

.PHONY: jailer
jailer: $(BUILD)/jailer

$(BUILD)/libjailer.a: $(JAILER_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/jailer: $(BUILD)/src/jailer/main.o $(BUILD)/libjailer.a \
                 $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/jailer

$(BUILD)/tests/unit/test_jailer_%: $(BUILD)/tests/unit/test_jailer_%.o \
                                   $(FAKE_OBJS) $(BUILD)/libjailer.a \
                                   $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(FAKE_OBJS) $(BUILD)/libjailer.a \
	    $(BUILD)/libsquib.a $(LDLIBS) -lcmocka

# Start-up through the jailer beside squib started bare (bench/jailer/run.py;
# needs root, prints "skipped" without). BENCH_JAILER_ROUNDS, default 51.
BENCH_JAILER_ROUNDS ?= 51

.PHONY: bench-jailer
bench: bench-jailer
bench-jailer: $(BUILD)/jailer $(BUILD)/squib
	$(Q)$(PYTHON) bench/jailer/run.py --build $(BUILD) \
	    --rounds $(BENCH_JAILER_ROUNDS)

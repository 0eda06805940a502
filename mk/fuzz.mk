# mk/fuzz.mk: libFuzzer harnesses, shared by every area.
#
#   make fuzz              build every tests/fuzz/fuzz_<x>.c and run each for
#                          FUZZ_SECONDS (default 20) over a copy of its seed
#                          corpus tests/fuzz/corpus/<x>/
#   make fuzz-build        only build them (build/fuzz/fuzz_<x>)
#   make fuzz-smoke        `fuzz` with FUZZ_SMOKE_SECONDS (default 10) per
#                          harness; the step `check` can call
#   FUZZ_ARGS=...          extra libFuzzer flags (e.g. -jobs=4, -max_len=8192)
#
# A harness is a file defining LLVMFuzzerTestOneInput; it is linked against
# build/fuzz/libsquib.a, i.e. all of src/ except main.c compiled with clang
# and the fuzzer's coverage instrumentation, so the linker takes only the
# objects it needs. New inputs found during a run go to the copy in
# build/fuzz/corpus/<x>/, never into the committed corpus; crashes, leaks and
# UB land in build/fuzz/artifacts/ and fail the target.

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 20
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_ARGS          ?=
FUZZ_BUILD         := build/fuzz
FUZZ_SAN           := address,undefined
FUZZ_CFLAGS        := -std=c11 -g -O1 -fno-omit-frame-pointer \
                      -fno-sanitize-recover=all -Wall -Wextra
FUZZ_SRCS          := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES         := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS          := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIB_OBJS      := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)

.PHONY: fuzz fuzz-build fuzz-smoke

$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c $< -o $@

$(FUZZ_BUILD)/libsquib.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libsquib.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(LDLIBS)

# The jailer's harnesses (fuzz_jailer_*) also link the jailer's objects,
# which are not in libsquib.a (mk/jailer.mk builds the jailer apart).
FUZZ_JAILER_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/%.o, \
                      $(filter-out src/jailer/main.c, \
                        $(wildcard src/jailer/*.c)))

FUZZ_JAILER_BINS := $(filter $(FUZZ_BUILD)/fuzz_jailer_%,$(FUZZ_BINS))

$(FUZZ_JAILER_BINS): $(FUZZ_BUILD)/fuzz_jailer_%: \
        $(FUZZ_BUILD)/tests/fuzz/fuzz_jailer_%.o $(FUZZ_JAILER_OBJS) \
        $(FUZZ_BUILD)/libsquib.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	$(Q)set -e; for n in $(FUZZ_NAMES); do \
	    rm -rf $(FUZZ_BUILD)/corpus/$$n; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/artifacts; \
	    if [ -d tests/fuzz/corpus/$$n ]; then \
	        cp -R tests/fuzz/corpus/$$n/. $(FUZZ_BUILD)/corpus/$$n/; \
	    fi; \
	    echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; \
	    $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -rss_limit_mb=2048 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- $(FUZZ_ARGS) \
	        $(FUZZ_BUILD)/corpus/$$n; \
	done

# A command-line FUZZ_SECONDS still wins over this.
fuzz-smoke: FUZZ_SECONDS = $(FUZZ_SMOKE_SECONDS)
fuzz-smoke: fuzz

# Keep the harness objects (make would delete them as intermediates).
.SECONDARY: $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/tests/fuzz/%.o)

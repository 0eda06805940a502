# Benchmarks: figures only, never pass/fail on a time.
BENCH_API := $(BUILD)/bench/bench_api

$(BENCH_API): bench/api/bench_api.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o $@ $<

.PHONY: bench bench-api
bench: bench-api
bench-api: $(BENCH_API) $(BUILD)/squib
	$(Q)$(BENCH_API) $(BUILD)/squib $(BENCH_ROUNDS)

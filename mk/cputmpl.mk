# mk/cputmpl.mk: build/cpu-template-helper, upstream's tool for custom CPU
# templates (src/cputmpl/, docs/tools.md).
#
#   make cpu-template-helper   build/cpu-template-helper (static PIE, as
#                              build/squib)
#
# tools/cpu-template-helper/main.c only calls cputmpl_main(); the logic is in
# libsquib.a (src/cputmpl/, and the vmm's VM build for the dumps), so the
# unit tests and fuzzers link it like any other module. Built by `all` and,
# for the integration tests, by `guests`.

.PHONY: cpu-template-helper
cpu-template-helper: $(BUILD)/cpu-template-helper

$(BUILD)/cpu-template-helper: $(BUILD)/tools/cpu-template-helper/main.o \
                              $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/cpu-template-helper

RELEASE_BINS += cpu-template-helper

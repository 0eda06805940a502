# mk/seccomp.mk: the seccomp helper tool.
#
#   make seccomp-defaults   build/seccomp-defaults: prints squib's built-in
#                           seccomp lists as a --seccomp-filter JSON file
#
# The integration tests run squib with that file (a custom filter equal to
# the built-in one), so the tool is a prerequisite of `guests`, which
# `integration` depends on.

.PHONY: seccomp-defaults
seccomp-defaults: $(BUILD)/seccomp-defaults

$(BUILD)/seccomp-defaults: $(BUILD)/tools/seccomp_defaults.o $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

guests: $(BUILD)/seccomp-defaults

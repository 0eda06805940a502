# mk/seccomp.mk: the built-in seccomp filters, compiled at build time, and
# the seccomp helper tool.
#
#   make seccomp-defaults   build/seccomp-defaults: prints squib's built-in
#                           seccomp lists as a --seccomp-filter JSON file
#                           (with --compiled: as upstream's compiled format)
#
# The built-in filters are compiled to BPF when squib is built, not at its
# startup (docs/seccomp.md, "How the built-in filters are built"):
# build/seccomp-bpf-gen (tools/seccomp_bpf_gen.c with libsquib.a and
# libseccomp) compiles vmm/seccomp_rules.c's lists with the same code squib
# used at startup and writes build/gen/seccomp_default_bpf.c, which is
# linked into build/squib beside libsquib.a. Every build directory runs its
# own generator (build/san/ has the sanitizer rules). build/squib-test gets
# build/gen/seccomp_test_bpf.c, from the generator linked with the test hooks
# (mk/test_build.mk). tests/unit/test_seccomp_bpf compares the generated
# programs with what libseccomp compiles at test time, byte for byte.
#
# The integration tests run squib with the seccomp-defaults file (a custom
# filter equal to the built-in one), so the tool is a prerequisite of
# `guests`, which `integration` depends on.

.PHONY: seccomp-defaults
seccomp-defaults: $(BUILD)/seccomp-defaults

$(BUILD)/seccomp-defaults: $(BUILD)/tools/seccomp_defaults.o $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

guests: $(BUILD)/seccomp-defaults

$(BUILD)/seccomp-bpf-gen: $(BUILD)/tools/seccomp_bpf_gen.o $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Written to a temporary name first: a failed run leaves no half file.
$(BUILD)/gen/seccomp_default_bpf.c: $(BUILD)/seccomp-bpf-gen
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/unit/test_seccomp_bpf: $(BUILD)/gen/seccomp_default_bpf.o

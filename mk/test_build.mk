# mk/test_build.mk: build/squib-test, the binary the integration tests run
# when they need a test hook (src/hooks.h, docs/threads.md "The test build").
#
#   make squib-test      build/squib-test (under SAN=1: build/san/squib-test)
#
# It is linked exactly as build/squib, from the same objects, with
# tests/support/hooks.o placed before libsquib.a: its hook functions take
# the place of src/hooks.o, which the linker then never pulls from the
# archive. The product binary thus carries no test code. Built by `all`
# and, as a prerequisite of `guests`, by `make check` (SAN=1: build/san/).
#
# Its built-in seccomp filters are compiled at build time as the product's
# (mk/seccomp.mk), by the generator linked with the same test hooks, so its
# vmm program has the hooks' sleep calls: build/gen/seccomp_test_bpf.c.
# tests/unit/test_seccomp_bpf_test checks that program as
# tests/unit/test_seccomp_bpf checks the product's (the same test, linked
# with the test hooks and their programs).

.PHONY: squib-test
squib-test: $(BUILD)/squib-test

$(BUILD)/squib-test: $(BUILD)/src/main.o $(BUILD)/tests/support/hooks.o \
                     $(BUILD)/gen/seccomp_test_bpf.o $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/squib-test

$(BUILD)/seccomp-bpf-gen-test: $(BUILD)/tools/seccomp_bpf_gen.o \
                               $(BUILD)/tests/support/hooks.o \
                               $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/gen/seccomp_test_bpf.c: $(BUILD)/seccomp-bpf-gen-test
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< > $@.tmp && mv $@.tmp $@

# The unit test of the generated programs, a second time for the test
# build's; `unit` runs it after the others.
UNIT_BINS += $(BUILD)/tests/unit/test_seccomp_bpf_test
unit: $(BUILD)/tests/unit/test_seccomp_bpf_test

$(BUILD)/tests/unit/test_seccomp_bpf_test: \
        $(BUILD)/tests/unit/test_seccomp_bpf.o $(BUILD)/tests/support/hooks.o \
        $(BUILD)/gen/seccomp_test_bpf.o $(FAKE_OBJS) $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter-out $(FAKE_OBJS) %.a,$^) \
	    $(FAKE_OBJS) $(BUILD)/libsquib.a $(LDLIBS) -lcmocka

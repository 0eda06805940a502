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

.PHONY: squib-test
squib-test: $(BUILD)/squib-test

$(BUILD)/squib-test: $(BUILD)/src/main.o $(BUILD)/tests/support/hooks.o \
                     $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/squib-test

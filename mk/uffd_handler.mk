# mk/uffd_handler.mk: build/squib-uffd-handler, the page-fault handler for
# the Uffd snapshot memory backend (docs/tools.md, docs/snapshot.md).
#
#   make uffd-handler    build/squib-uffd-handler (static PIE, as squib)
#
# tools/uffd_handler/main.c holds only arguments and messages; the server
# is src/snapshot/uffd_handler.c in libsquib.a, of which the linker takes
# only the objects it needs. Built by `all` and, for the integration tests,
# by `guests`. tests/unit/test_uffd runs the binary, so it is built first.

RELEASE_BINS += squib-uffd-handler

.PHONY: uffd-handler
uffd-handler: $(BUILD)/squib-uffd-handler

$(BUILD)/squib-uffd-handler: $(BUILD)/tools/uffd_handler/main.o \
                             $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/squib-uffd-handler

$(BUILD)/tests/unit/test_uffd: | $(BUILD)/squib-uffd-handler

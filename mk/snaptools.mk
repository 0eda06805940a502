# mk/snaptools.mk: upstream's snapshot companion tools (docs/tools.md).
#
#   make snaptools   build/rebase-snap and build/snapshot-editor
#
# Both are thin mains in tools/<name>/ over snapshot/rebase.c (the Diff
# memory file onto its base) and snapshot/describe.c (a state file,
# readable), linked statically from libsquib.a as build/squib is. Built by
# `all` and, for tests/integration/test_snapshot_tools.py, by `guests`.

.PHONY: snaptools
snaptools: $(BUILD)/rebase-snap $(BUILD)/snapshot-editor

$(BUILD)/rebase-snap: $(BUILD)/tools/rebase-snap/main.o $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/snapshot-editor: $(BUILD)/tools/snapshot-editor/main.o \
                          $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/rebase-snap $(BUILD)/snapshot-editor
RELEASE_BINS += rebase-snap snapshot-editor

# The tests' state files, written by squib's own writer
# (tests/support/snap_state_gen.c; test_snapshot_tools.py runs it).
$(BUILD)/snap-state-gen: $(BUILD)/tests/support/snap_state_gen.o \
                         $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

guests: $(BUILD)/snap-state-gen

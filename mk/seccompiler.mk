# mk/seccompiler.mk: build/seccompiler-bin, upstream's seccomp filter
# compiler (tools/seccompiler-bin/main.c over util/seccomp.c; docs/tools.md).
#
#   make seccompiler    build/seccompiler-bin
#
# Static, as build/squib. Built by `all` and, for
# tests/integration/test_seccompiler.py, by `guests`.

.PHONY: seccompiler
seccompiler: $(BUILD)/seccompiler-bin

$(BUILD)/seccompiler-bin: $(BUILD)/tools/seccompiler-bin/main.o \
                          $(BUILD)/libsquib.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) $(SQUIB_LDFLAGS) -o $@ $^ $(LDLIBS)

all guests: $(BUILD)/seccompiler-bin
RELEASE_BINS += seccompiler-bin

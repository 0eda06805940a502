# mk/install.mk: install, uninstall, the release tarball and their check
# (docs/install.md).
#
#   make install         every binary of RELEASE_BINS into
#                        $(DESTDIR)$(PREFIX)/bin, man/*.1 into share/man/man1,
#                        README.md and docs/*.md into share/doc/squib
#                        (PREFIX defaults to /usr/local, DESTDIR to empty)
#   make install FIRECRACKER_LINK=1
#                        also bin/firecracker -> squib (and its man page), for
#                        tools that run `firecracker` from PATH; refuses to
#                        replace a firecracker that is not such a link
#   make uninstall       removes what install puts there (firecracker only if
#                        it is the link to squib)
#   make release         $(BUILD)/release/squib-<version>-<arch>.tgz, laid out
#                        like Firecracker's release (scripts/release.sh)
#   make man-check       the man pages against the binaries' --help
#                        (scripts/check-man.py)
#   make install-check   install into a DESTDIR under $(BUILD), run every
#                        installed binary's --help and --version, check the
#                        installed man pages, build the release tarball, unpack
#                        it and verify its SHA256SUMS
#
# Each binary's mk file adds itself with `RELEASE_BINS += <name>`; the rules
# here read the list after every mk file was included (secondary expansion),
# so install depends on exactly the built binaries: after `make`, `sudo make
# install` compiles nothing.

RELEASE_BINS += squib jailer

PREFIX           ?= /usr/local
DESTDIR          ?=
FIRECRACKER_LINK ?= 0
INSTALL_BINDIR    = $(DESTDIR)$(PREFIX)/bin
INSTALL_MANDIR    = $(DESTDIR)$(PREFIX)/share/man/man1
INSTALL_DOCDIR    = $(DESTDIR)$(PREFIX)/share/doc/squib
MAN_PAGES        := $(sort $(wildcard man/*.1))
INSTALL_DOCS     := README.md $(sort $(wildcard docs/*.md))
RELEASE_OUT       = $(BUILD)/release
RELEASE_BIN_PATHS = $(addprefix $(BUILD)/,$(RELEASE_BINS))
# The man page that makes `man firecracker` show squib's.
FC_MAN_SO        := .so man1/squib.1

.PHONY: install uninstall release man-check install-check release-bins
.SECONDEXPANSION:

# $(call install_files,MODE,DIR,FILES): each file copied to a temporary
# name in DIR, then renamed over its final name, so an interrupted install
# leaves no half-written file (and a running binary keeps its old inode).
define install_files
	@echo "install -m $(1) $(3) $(2)/"
	$(Q)for f in $(3); do \
	    t=$(2)/.$${f##*/}.tmp; \
	    install -m $(1) "$$f" "$$t" && mv -f "$$t" $(2)/$${f##*/} || \
	        { rm -f "$$t"; exit 1; }; \
	done
endef

install: $$(RELEASE_BIN_PATHS)
	install -d $(INSTALL_BINDIR) $(INSTALL_MANDIR) $(INSTALL_DOCDIR)
	$(call install_files,0755,$(INSTALL_BINDIR),$(RELEASE_BIN_PATHS))
	$(call install_files,0644,$(INSTALL_MANDIR),$(MAN_PAGES))
	$(call install_files,0644,$(INSTALL_DOCDIR),$(INSTALL_DOCS))
ifeq ($(FIRECRACKER_LINK),1)
	$(Q)l=$(INSTALL_BINDIR)/firecracker; \
	if [ -e "$$l" -o -L "$$l" ] && [ "$$(readlink "$$l")" != squib ]; then \
	    echo "install: $$l exists and is not a link to squib;" \
	         "remove it first or install without FIRECRACKER_LINK=1" >&2; \
	    exit 1; \
	fi; \
	ln -sfn squib "$$l"
	$(Q)m=$(INSTALL_MANDIR)/firecracker.1; \
	echo '$(FC_MAN_SO)' > "$$m.tmp" && chmod 0644 "$$m.tmp" && \
	mv -f "$$m.tmp" "$$m"
endif
	@echo "installed $(RELEASE_BINS) into $(INSTALL_BINDIR)"

uninstall:
	rm -f $(addprefix $(INSTALL_BINDIR)/,$(RELEASE_BINS)) \
	    $(addprefix $(INSTALL_MANDIR)/,$(notdir $(MAN_PAGES))) \
	    $(addprefix $(INSTALL_DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	$(Q)l=$(INSTALL_BINDIR)/firecracker; \
	if [ -L "$$l" ] && [ "$$(readlink "$$l")" = squib ]; then rm -f "$$l"; fi; \
	m=$(INSTALL_MANDIR)/firecracker.1; \
	if [ -f "$$m" ] && [ "$$(cat "$$m")" = '$(FC_MAN_SO)' ]; then rm -f "$$m"; fi
	$(Q)if [ -d $(INSTALL_DOCDIR) ]; then \
	    rmdir --ignore-fail-on-non-empty $(INSTALL_DOCDIR); fi

release: $$(RELEASE_BIN_PATHS) $(BUILD)/seccomp-defaults
	$(Q)scripts/release.sh --build $(BUILD) --out $(RELEASE_OUT) \
	    $(RELEASE_BINS)

man-check: $$(RELEASE_BIN_PATHS)
	$(Q)$(PYTHON) scripts/check-man.py --bin-dir $(BUILD) --man-dir man \
	    $(RELEASE_BINS)

# The release list, one line (for tests and scripts).
release-bins:
	@echo $(RELEASE_BINS)

INSTALL_CHECK_DIR = $(BUILD)/install-check

install-check: $$(RELEASE_BIN_PATHS) $(BUILD)/seccomp-defaults
	$(Q)rm -rf $(INSTALL_CHECK_DIR)
	$(Q)$(MAKE) --no-print-directory install FIRECRACKER_LINK=1 \
	    DESTDIR=$(abspath $(INSTALL_CHECK_DIR))/root PREFIX=/usr
	$(Q)$(MAKE) --no-print-directory release
	$(Q)scripts/install-check.sh $(INSTALL_CHECK_DIR) /usr $(RELEASE_OUT) \
	    $(RELEASE_BINS)

# guest.mk: the project's freestanding test guests (tests/guest/), built
# into build/guest/ in three flavours of the same program:
#   guest-linux.elf  ELF vmlinux, Linux 64-bit boot protocol
#   guest-pvh.elf    the same ELF plus a PVH (XEN_ELFNOTE_PHYS32_ENTRY) note
#   guest.bzImage    bzImage (protocol 2.15, XLF_KERNEL_64)
# They do not depend on the build flavour (SAN=1 etc.), so they always go to
# build/guest/.

GUEST_DIR  := build/guest
GUEST_SRC  := tests/guest
GUEST_CC   ?= gcc
GUEST_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie \
    -mno-red-zone -mcmodel=small -mgeneral-regs-only -fno-stack-protector \
    -fno-asynchronous-unwind-tables -fcf-protection=none -fno-builtin \
    -Wall -Wextra -Werror -I$(GUEST_SRC)
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(GUEST_SRC)/guest.ld \
    -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack \
    $(shell $(GUEST_CC) -Wl,--no-warn-rwx-segments -x c -o /dev/null /dev/null 2>&1 | grep -q 'unrecognized' || echo -Wl,--no-warn-rwx-segments)

GUEST_OBJS := $(addprefix $(GUEST_DIR)/,entry.o lib.o tables.o guest.o virtio.o \
    net.o netproto.o vsock.o vsockproto.o balloon.o balloon_hint.o memdev.o pci.o vpci.o acpidev.o)
GUEST_OUTS := $(GUEST_DIR)/guest-linux.elf $(GUEST_DIR)/guest-pvh.elf \
              $(GUEST_DIR)/guest.bzImage

guests: $(GUEST_OUTS)

$(GUEST_DIR)/%.o: $(GUEST_SRC)/%.c $(GUEST_SRC)/guest.h $(GUEST_SRC)/virtio.h \
                  $(GUEST_SRC)/virtio_int.h $(GUEST_SRC)/netproto.h \
                  $(GUEST_SRC)/vsockproto.h $(GUEST_SRC)/vring.h $(GUEST_SRC)/pci.h \
                  $(GUEST_SRC)/balloon_drv.h
	@mkdir -p $(GUEST_DIR)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_DIR)/%.o: $(GUEST_SRC)/%.S $(GUEST_SRC)/guest.h
	@mkdir -p $(GUEST_DIR)
	@$(if $(Q),echo "  GUESTAS $<")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -D__ASSEMBLER__ -c $< -o $@

$(GUEST_DIR)/guest-linux.elf: $(GUEST_OBJS) $(GUEST_SRC)/guest.ld
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)

$(GUEST_DIR)/guest-pvh.elf: $(GUEST_OBJS) $(GUEST_DIR)/pvhnote.o $(GUEST_SRC)/guest.ld
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS) \
	    $(GUEST_DIR)/pvhnote.o

$(GUEST_DIR)/guest.bin: $(GUEST_DIR)/guest-linux.elf
	$(Q)objcopy -O binary $< $@

# The setup object .incbin's the payload; init_size comes from its _end.
$(GUEST_DIR)/guest.bzImage: $(GUEST_SRC)/setup.S $(GUEST_DIR)/guest.bin
	@$(if $(Q),echo "  GUESTBZ $@")
	$(Q)end=$$(nm $(GUEST_DIR)/guest-linux.elf | awk '$$3 == "_end" { print $$1 }'); \
	$(GUEST_CC) -c -D__ASSEMBLER__ -DPAYLOAD='"$(GUEST_DIR)/guest.bin"' \
	    -Wa,--defsym,INIT_END=0x$$end $< -o $(GUEST_DIR)/setup.o && \
	objcopy -O binary -j .text $(GUEST_DIR)/setup.o $@

# kvm-boot: a small KVM runner built on squib's loader, to check the boot
# path end to end with real KVM (see tests/guest/kvm-boot.c). It links
# libsquib.a, so it lives in the build flavour's directory.
KVM_BOOT := $(BUILD)/tests/guest/kvm-boot
$(KVM_BOOT): $(GUEST_SRC)/kvm-boot.c $(BUILD)/libsquib.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsquib.a $(LDLIBS)

guests: $(KVM_BOOT)

# Boot every flavour under QEMU (TCG) and through kvm-boot (squib's loader
# on real KVM) and check what the guests report. Skips what cannot run here.
.PHONY: guest-check
guest-check: guests
	$(Q)$(PYTHON) tests/guest/check_guests.py $(GUEST_DIR) $(KVM_BOOT)

# tests/guest/netproto.c is freestanding C that also builds for the host:
# tests/unit/test_netproto runs the guest's network client against the
# MMDS stack in-process (the generic rule compiles it into $(BUILD)).
$(BUILD)/tests/unit/test_netproto: $(BUILD)/tests/guest/netproto.o
# ... and tests/unit/test_mmds_nic runs it through a NIC's rings.
$(BUILD)/tests/unit/test_mmds_nic: $(BUILD)/tests/guest/netproto.o
# tests/guest/vsockproto.c, the guest's vsock client, likewise:
# tests/unit/test_vsockproto runs it through the vsock device's rings.
$(BUILD)/tests/unit/test_vsockproto: $(BUILD)/tests/guest/vsockproto.o

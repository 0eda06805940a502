# mk/machine.mk: rules for the x86_64 machine (vmm/kvm, guest_mem, vcpu, bus,
# machine, legacy devices) and its tests.

# Until the boot and firmware branches are merged, their headers come from
# stand-ins under tests/unit/fakes/ (the real ones in src/ win as soon as they
# exist, and the stand-ins are then no longer on the include path).
ifeq ($(wildcard src/vmm/boot.h),)
CPPFLAGS += -Itests/unit/fakes/include_boot
endif
ifeq ($(wildcard src/vmm/cpuid.h),)
CPPFLAGS += -Itests/unit/fakes/include_fw
endif

# Device and vCPU tests count metric updates through --wrap (the metrics
# module has no read-back API; a wrapped call still reaches the real one).
SQ_MACHINE_WRAP_TESTS := test_serial test_i8042 test_vcpu
$(SQ_MACHINE_WRAP_TESTS:%=$(BUILD)/tests/unit/%): LDFLAGS += \
    -Wl,--wrap=metrics_inc -Wl,--wrap=metrics_add

# ThreadSanitizer run of the unit tests (the vCPU/vmm handshake is the point):
#   make tsan
# A separate build tree; the variables given here override the Makefile's.
.PHONY: tsan
tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan \
	    OPTFLAGS=-O1 SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" unit

# The boot-path test (test_machine_boot) boots the test guests that
# mk/guest.mk builds, when that file is in the tree (GUEST_OUTS is empty
# otherwise, and the test skips). GNU make >= 4.3 includes mk/*.mk sorted,
# so guest.mk has been read by now.
$(BUILD)/tests/unit/test_machine_boot: | $(GUEST_OUTS)

# Objects built against the stand-in headers must be rebuilt when the real
# ones arrive (their .d files name the stand-ins, which do not change): make
# them depend on the real headers too, once those exist.
SQ_MACHINE_REAL_HDRS := $(wildcard src/vmm/boot.h src/vmm/cpuid.h src/vmm/acpi.h)
$(BUILD)/src/vmm/machine.o $(BUILD)/tests/unit/fakes/fake_boot_fw.o \
$(BUILD)/tests/unit/test_machine.o $(BUILD)/tests/unit/test_machine_boot.o: \
    $(SQ_MACHINE_REAL_HDRS)

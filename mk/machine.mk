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

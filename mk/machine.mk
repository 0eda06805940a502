# mk/machine.mk: rules for the x86_64 machine (vmm/kvm, guest_mem, vcpu, bus,
# machine, legacy devices) and its tests.

# Device and vCPU tests count metric updates through --wrap (the metrics
# module has no read-back API; a wrapped call still reaches the real one).
SQ_MACHINE_WRAP_TESTS := test_serial test_i8042 test_vcpu
$(SQ_MACHINE_WRAP_TESTS:%=$(BUILD)/tests/unit/%): LDFLAGS += \
    -Wl,--wrap=metrics_inc -Wl,--wrap=metrics_add

# ThreadSanitizer run of the unit tests (the vCPU/vmm handshake is the point):
#   make tsan    the same as make SAN=thread unit (build/tsan/)
.PHONY: tsan
tsan:
	$(Q)$(MAKE) --no-print-directory SAN=thread unit

# The boot-path test (test_machine_boot) boots the test guests that
# mk/guest.mk builds, when that file is in the tree (GUEST_OUTS is empty
# otherwise, and the test skips). GNU make >= 4.3 includes mk/*.mk sorted,
# so guest.mk has been read by now.
$(BUILD)/tests/unit/test_machine_boot: | $(GUEST_OUTS)

/*
 * errors.h: upstream texts that more than one vmm/ file writes, each
 * defined once here (the texts of a single file stay beside their rule).
 */
#ifndef SQUIB_VMM_ERRORS_H
#define SQUIB_VMM_ERRORS_H

/* StartMicrovmError::ConfigureSystem's prefix (acpi, boot, cpuid, machine). */
#define VMM_ERR_SYS_CONFIG "System configuration error: "

/* vm-allocator's ResourceNotAvailable (GSIs and MMIO windows). */
#define VMM_ERR_NO_RESOURCE                                                    \
    "Failed to allocate requested resource: The requested resource is not "    \
    "available."

/* VmmError::FindDeviceError(DeviceNotFound). */
#define VMM_ERR_DEVICE_NOT_FOUND                                               \
    "Failed perform action on device: Device not found"

/* VmmError::VcpuMessage: the vCPU threads did not take a request. */
#define VMM_ERR_VCPU_MESSAGE "Failed to message the vCPUs."

/* The router's catch-all, for an operation a phase cannot run. */
#define VMM_ERR_INVALID_REQUEST "Invalid request method and/or path."

/* BalloonError::HintingNotEnabled behind its prefix. */
#define VMM_ERR_HINTING_NOT_ENABLED                                            \
    "Balloon update error: Balloon: Attempting to use hinting when not "       \
    "enabled"

#endif

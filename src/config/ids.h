/*
 * ids.h: the character rule shared by upstream's id checks.
 *
 * Firecracker validates ids with Rust's char::is_alphanumeric(): the
 * resource ids of the drive, pmem and network-interface routes
 * (checked_id(), see config.h) and the --id command-line flag
 * (validate_instance_id()). Both use this one table, generated from
 * Rust's standard library, so they agree with upstream and with each
 * other whatever the host's locale data says.
 */
#ifndef SQUIB_CONFIG_IDS_H
#define SQUIB_CONFIG_IDS_H

#include <stdbool.h>
#include <stdint.h>

/* Rust's char::is_alphanumeric() (Unicode Alphabetic or Numeric) for the
 * code point cp; false for anything that is not a Unicode scalar value. */
bool ids_is_alphanumeric(uint32_t cp);

#endif

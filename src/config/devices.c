/*
 * devices.c: request bodies of the devices: drives, pmem, network
 * interfaces, vsock, entropy, serial, balloon and memory hotplug (see
 * config.h). Field tables follow upstream's declaration order, which
 * decides the first missing field and the "expected one of" lists.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

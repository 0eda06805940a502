/*
 * vm.c: request bodies about the machine and its lifecycle:
 * actions, boot source, machine configuration, custom CPU templates,
 * logger, metrics, MMDS configuration and data, snapshots and PATCH /vm
 * (see config.h). Custom decoders reproduce upstream's hand-written
 * Deserialize impls, raising their errors where upstream does (inside or
 * after serde_json's deserialize_str), which decides the reported column.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"
#include "util/xalloc.h"

/*
 * logger.h: PUT /logger, upstream's LoggerConfig (strict), the logger
 * settings as the API and the config file give them.
 */
#ifndef SQUIB_CONFIG_LOGGER_H
#define SQUIB_CONFIG_LOGGER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

enum log_level_filter {
    LOG_FILTER_OFF,
    LOG_FILTER_TRACE,
    LOG_FILTER_DEBUG,
    LOG_FILTER_INFO,
    LOG_FILTER_WARN,
    LOG_FILTER_ERROR,
};

struct logger_cfg {
    char *log_path; /* owned; NULL = None */
    bool has_level;
    enum log_level_filter level; /* case-insensitive; "warning" = WARN */
    bool has_show_level;
    bool show_level;
    bool has_show_log_origin;
    bool show_log_origin;
    char *module; /* owned; NULL = None */
};

int logger_cfg_parse(const char *body, size_t len, struct logger_cfg *out,
                     struct sq_err *err);
void logger_cfg_fini(struct logger_cfg *l);

#endif

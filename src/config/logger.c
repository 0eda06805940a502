/*
 * logger.c: the logger configuration: the case-insensitive level
 * filter, field table and parser (see logger.h).
 */
#include "config/logger.h"

#include <stdlib.h>
#include <string.h>

#include "config/config_int.h"

/* LevelFilter: String::deserialize, then a case-insensitive match (Rust's
 * to_lowercase; no non-ASCII character lowers into these names). */
static int dec_level(struct json_dec *d, void *field_ptr,
                     const struct json_field *f)
{
    static const struct {
        const char *name;
        enum log_level_filter level;
    } names[] = {
        {"off", LOG_FILTER_OFF},     {"trace", LOG_FILTER_TRACE},
        {"debug", LOG_FILTER_DEBUG}, {"info", LOG_FILTER_INFO},
        {"warn", LOG_FILTER_WARN},   {"warning", LOG_FILTER_WARN},
        {"error", LOG_FILTER_ERROR},
    };
    char *s;
    size_t n, i, j;

    (void)f;
    if (json_dec_string(d, "a string", &s, &n) < 0)
        return -1;
    for (i = 0; i < ARRAY_LEN(names); i++) {
        if (strlen(names[i].name) != n)
            continue;
        for (j = 0; j < n; j++) {
            char c = s[j];

            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (c != names[i].name[j])
                break;
        }
        if (j == n) {
            *(enum log_level_filter *)field_ptr = names[i].level;
            free(s);
            return 0;
        }
    }
    free(s);
    return json_dec_custom(d, "Invalid LevelFilter");
}

static const struct json_field logger_fields[] = {
    {FLD(struct logger_cfg, "log_path", JSON_F_PATH, OPT, log_path)},
    {FLD(struct logger_cfg, "level", JSON_F_CUSTOM, OPT, level),
     HAS(struct logger_cfg, has_level), .custom = dec_level},
    {FLD(struct logger_cfg, "show_level", JSON_F_BOOL, OPT, show_level),
     HAS(struct logger_cfg, has_show_level)},
    {FLD(struct logger_cfg, "show_log_origin", JSON_F_BOOL, OPT,
         show_log_origin),
     HAS(struct logger_cfg, has_show_log_origin)},
    {FLD(struct logger_cfg, "module", JSON_F_STRING, OPT, module)},
};
EDESC(schemas_logger_desc, "LoggerConfig", logger_fields, true);

void logger_cfg_fini(struct logger_cfg *l)
{
    if (!l)
        return;
    free(l->log_path);
    free(l->module);
    memset(l, 0, sizeof(*l));
}

int logger_cfg_parse(const char *body, size_t len, struct logger_cfg *out,
                     struct sq_err *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schemas_api_parse(body, len, &schemas_logger_desc, out, err);
    if (rc)
        logger_cfg_fini(out);
    return rc;
}

/*
 * config_int.h: internals shared by the config/ files: field
 * table shorthands, the descriptors the config file reuses, and helpers.
 * Not for other modules.
 */
#ifndef SQUIB_CONFIG_CONFIG_INT_H
#define SQUIB_CONFIG_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/json.h"

/* The prefix upstream's RequestError::SerdeJson puts before serde's message
 * (and it appends "."). */
#define SCHEMAS_SERDE_PREFIX                                                   \
    "An error occurred when deserializing the json body of a request: "

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Field table shorthands. T is the C struct type of the table. */
#define FLD(T, key, ty, fl, member)                                            \
    .name = (key), .type = (ty), .flags = (fl), .offset = offsetof(T, member)
#define HAS(T, member) .has_offset = JSON_OFF(T, member)
#define LEN(T, member) .len_offset = JSON_OFF(T, member)
#define VARIANTS(v)    .variants = (v), .n_variants = ARRAY_LEN(v)
#define OPT            JSON_FIELD_OPTION
#define DEF            JSON_FIELD_DEFAULT
#define DESC(var, rust, fields_, strict)                                       \
    static const struct json_struct_desc var = {                               \
        .rust_name = (rust),                                                   \
        .fields = (fields_),                                                   \
        .n_fields = ARRAY_LEN(fields_),                                        \
        .deny_unknown_fields = (strict),                                       \
    }
/* Like DESC, for a descriptor other files use (declared below). */
#define EDESC(var, rust, fields_, strict)                                      \
    const struct json_struct_desc var = {                                      \
        .rust_name = (rust),                                                   \
        .fields = (fields_),                                                   \
        .n_fields = ARRAY_LEN(fields_),                                        \
        .deny_unknown_fields = (strict),                                       \
    }

/* Descriptors shared with the config file (VmmConfig). */
extern const struct json_struct_desc schemas_token_bucket_desc;
extern const struct json_struct_desc schemas_rate_limiter_desc;
extern const struct json_struct_desc schemas_boot_source_desc;
extern const struct json_struct_desc schemas_drive_desc;
extern const struct json_struct_desc schemas_pmem_desc;
extern const struct json_struct_desc schemas_net_desc;
extern const struct json_struct_desc schemas_machine_desc;
extern const struct json_struct_desc schemas_cpu_template_desc;
extern const struct json_struct_desc schemas_logger_desc;
extern const struct json_struct_desc schemas_metrics_desc;
extern const struct json_struct_desc schemas_mmds_desc;
extern const struct json_struct_desc schemas_vsock_desc;
extern const struct json_struct_desc schemas_entropy_desc;
extern const struct json_struct_desc schemas_balloon_desc;
extern const struct json_struct_desc schemas_hotplug_desc;

/* The context of schemas_top_struct: decode one described struct. */
struct top_ctx {
    const struct json_struct_desc *desc;
    void *out;
};

/* json_top_fn that runs json_dec_struct(d, ctx->desc, ctx->out). */
int schemas_top_struct(struct json_dec *d, void *ctx);

/* serde_json::from_slice::<T> as an API body: on error, err->msg gets
 * upstream's RequestError::SerdeJson text (SCHEMAS_SERDE_PREFIX ... "."). */
int schemas_api_parse(const char *body, size_t len,
                      const struct json_struct_desc *desc, void *out,
                      struct sq_err *err);

/* Append a zeroed element to (*arr, *n); returns it (aborts on OOM). */
void *schemas_vec_push(void **arr, size_t *n, size_t elem_size);

/* Decode a Vec<T> of described structs into the array at field_ptr, whose
 * count is at f->len_offset in the same container; init() (may be NULL)
 * sets an element's defaults before it is decoded. */
int schemas_dec_vec_struct(struct json_dec *d, void *field_ptr,
                           const struct json_field *f, size_t elem_size,
                           const struct json_struct_desc *desc,
                           void (*init)(void *));

/* Rust's from_str_radix for unsigned types: optional '+', at least one
 * digit < radix, value <= max. Returns PIE_OK and *out, or the
 * ParseIntError kind. */
enum pie_kind { PIE_OK, PIE_EMPTY, PIE_INVALID_DIGIT, PIE_POS_OVERFLOW };
enum pie_kind schemas_parse_uint(const char *s, size_t n, unsigned radix,
                                 uint64_t max, uint64_t *out);

/* A rate limiter or `null`. */
void schemas_opt_rate_limiter_to_json(bool has,
                                      const struct rate_limiter_cfg *rl,
                                      struct buf *b);

/* Post-parse steps the config file shares with the API bodies. */
void schemas_drive_fixup(struct drive_cfg *d);         /* io_engine mapping */
void schemas_machine_put_fixup(struct machine_cfg *m); /* PUT -> update */
void schemas_hotplug_defaults(struct hotplug_memory_cfg *h);

#endif

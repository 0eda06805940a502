/*
 * json.h: JSON with serde_json's exact behaviour.
 *
 * Three parts:
 *
 *  (a) A streaming, schema-driven decoder (struct json_dec plus table-driven
 *      struct descriptors) that mirrors serde_json's Deserializer and serde
 *      derive call for call, so that every error has serde's text, is found
 *      in the same order, and carries the same "at line L column C" suffix.
 *      The configuration types (config/) are built on it. Files:
 *      json_dec.c (the Deserializer), json_derive.c (derived structs).
 *  (b) A DOM (struct json_value) for arbitrary documents (the MMDS data
 *      store): parsed like serde_json::Value (objects are BTreeMaps: keys
 *      sorted bytewise, a duplicate key keeps the last value), serialized
 *      compactly exactly like serde_json::to_string, RFC 7396 merge patch,
 *      serialized length, JSON Pointer lookup (json_dom.c).
 *  (c) Writer helpers for building compact JSON output into a struct buf
 *      (json_write.c).
 *
 * Nothing here keeps state at file scope; every function is reentrant.
 */
#ifndef SQUIB_UTIL_JSON_H
#define SQUIB_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* ====================================================================== */
/* (c) Writer helpers                                                      */

/* Append `s` (n bytes) as a JSON string literal with serde_json's escaping:
 * \" \\ \n \r \t \b \f, \u00XX (lower-case hex) for other bytes < 0x20,
 * everything else (including DEL and UTF-8) raw. */
void json_write_str(struct buf *b, const char *s, size_t n);
/* Same for a NUL-terminated string; NULL writes `null`. */
void json_write_cstr(struct buf *b, const char *s);
void json_write_u64(struct buf *b, uint64_t v);
void json_write_i64(struct buf *b, int64_t v);
/* serde_json float format (zmij: "1.0", "0.1", "1e+300", "1e-7"; also the
 * format of serde_json's "floating point `...`" messages). Non-finite
 * values are written as `null`, as serde_json does. The digits are the
 * shortest that round-trip, found with printf/strtod (see json_write.c). */
void json_write_f64(struct buf *b, double v);
void json_write_bool(struct buf *b, bool v);
/* Append `"key":` (escaped key followed by a colon). */
void json_write_key(struct buf *b, const char *key);

/*
 * serde_json::to_string_pretty's layout (PrettyFormatter: two-space indent,
 * "key": value, an empty object or array as {} / []), written as a stream:
 * open a container, then for each member json_pretty_key() (objects) or
 * json_pretty_elem() (arrays) followed by the value (a json_write_* call or
 * a nested open/close). At most JSON_PRETTY_MAX_DEPTH nested containers.
 */
#define JSON_PRETTY_MAX_DEPTH 16
struct json_pretty {
    struct buf *b; /* borrowed output */
    unsigned depth;
    bool has_value[JSON_PRETTY_MAX_DEPTH];
};
void json_pretty_init(struct json_pretty *p, struct buf *b);
void json_pretty_open(struct json_pretty *p, char open); /* '{' or '[' */
void json_pretty_close(struct json_pretty *p, char close);
void json_pretty_key(struct json_pretty *p, const char *key);
void json_pretty_elem(struct json_pretty *p);

/* Rust's `{:?}` Debug for a str (with the quotes), appended to b. Escapes
 * \t \r \n \\ \" \0 and non-printable characters as \u{..}; printable
 * Unicode is copied raw. Which characters are escaped comes from a table
 * generated from Rust's standard library (util/json_debug_table.h). s should
 * be valid UTF-8 (check with utf8_valid; upstream logs a non-UTF-8
 * body as "inconvertible to UTF-8"); a byte that does not start a valid
 * sequence is shown as \xNN. Never reads past n. */
void json_rust_str_debug(struct buf *b, const char *s, size_t n);

/* ====================================================================== */
/* (b) DOM                                                                 */

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

/* How a JSON_NUMBER is held (serde_json::Number's N). */
enum json_num_kind {
    JSON_NUM_U64, /* PosInt: non-negative integer that fits in u64 */
    JSON_NUM_I64, /* NegInt: negative integer that fits in i64 */
    JSON_NUM_F64, /* Float: anything else (finite) */
};

struct json_member {
    char *key; /* owned, UTF-8, may contain NUL */
    size_t key_len;
    struct json_value *value; /* owned */
};

struct json_value {
    enum json_type type;
    union {
        bool boolean;
        struct {
            enum json_num_kind kind;
            union {
                uint64_t u;
                int64_t i;
                double f;
            };
        } num;
        struct {
            char *ptr; /* owned, NUL-terminated, may contain NUL */
            size_t len;
        } str;
        struct {
            struct json_value **items; /* owned */
            size_t n;
            size_t cap;
        } arr;
        struct {
            struct json_member *members; /* owned; sorted bytewise by key,
                                            keys unique */
            size_t n;
            size_t cap;
        } obj;
    };
};

/*
 * Parse a whole document as serde_json::from_slice::<Value> does (including
 * the 128-level recursion limit and "trailing characters"). On success
 * returns 0 and a new tree in *out (free with json_value_free). On failure
 * returns -EINVAL and the bare serde_json message (e.g. "expected value at
 * line 1 column 1") in err->msg.
 */
int json_parse(const char *text, size_t len, struct json_value **out,
               struct sq_err *err);

/* Free a tree; NULL-safe. */
void json_value_free(struct json_value *v);

/* Constructors (abort on OOM like xmalloc). Strings are copied. */
struct json_value *json_new_null(void);
struct json_value *json_new_bool(bool b);
struct json_value *json_new_u64(uint64_t u);
struct json_value *json_new_i64(int64_t i);
struct json_value *json_new_f64(double f); /* non-finite -> null */
struct json_value *json_new_str(const char *s, size_t n);
struct json_value *json_new_array(void);
struct json_value *json_new_object(void);
/* Deep copy. */
struct json_value *json_value_clone(const struct json_value *v);

/* Append to an array; takes ownership of item. */
void json_array_push(struct json_value *arr, struct json_value *item);
/* Insert or replace key in an object (BTreeMap insert); takes ownership of
 * value (the replaced value is freed). */
void json_object_set(struct json_value *obj, const char *key, size_t key_len,
                     struct json_value *value);
/* Look a key up; NULL if absent or obj is not an object. */
struct json_value *json_object_get(const struct json_value *obj,
                                   const char *key, size_t key_len);
/* Remove a key (freeing its value); returns true if it was there. */
bool json_object_remove(struct json_value *obj, const char *key,
                        size_t key_len);

/* Structural equality (numbers compare like serde_json::Number's ==). */
bool json_value_equal(const struct json_value *a, const struct json_value *b);

/* Append the compact serialization (serde_json::to_string). */
void json_value_write(const struct json_value *v, struct buf *b);
/* Length in bytes of json_value_write's output, without building it. */
size_t json_value_serialized_len(const struct json_value *v);

/*
 * RFC 7396 JSON merge patch, as upstream's MMDS does (json_patch crate's
 * merge): if patch is an object, target becomes an object (a non-object
 * target is replaced by {}), each patch member with value null removes the
 * key, any other value is merged recursively; a non-object patch replaces
 * the target. `*target` may be replaced; patch is not modified (values are
 * copied).
 */
void json_merge_patch(struct json_value **target,
                      const struct json_value *patch);

/*
 * RFC 6901 JSON Pointer lookup as serde_json::Value::pointer: "" is the
 * whole document; otherwise the pointer must start with '/', tokens are
 * unescaped (~1 -> '/', ~0 -> '~'); array indices are decimal without
 * leading '+' or leading zeros ("0" itself allowed). NULL if not found.
 */
const struct json_value *json_pointer(const struct json_value *root,
                                      const char *ptr, size_t len);

/* ====================================================================== */
/* (a) Streaming decoder with serde_json semantics                         */

/* The state of one decode; mirrors serde_json::Deserializer<SliceRead>. */
struct json_dec {
    const uint8_t *p; /* input (borrowed) */
    size_t len;
    size_t pos;          /* index of the next byte */
    int remaining_depth; /* serde_json's recursion limit, starts at 128 */
    /* the error, once one is raised */
    bool failed;
    bool positioned;    /* false: a "custom" error with no position yet */
    size_t err_index;   /* input index the line/column is computed at */
    struct buf msg;     /* the error text without the position suffix */
    struct buf scratch; /* string decoding buffer */
};

void json_dec_init(struct json_dec *d, const char *text, size_t len);
void json_dec_fini(struct json_dec *d);
/* After a failure: the full serde_json Display text ("msg at line L column
 * C", or just "msg" for an unpositioned error) into out. */
void json_dec_error_text(const struct json_dec *d, struct buf *out);

/* serde_json ErrorCode texts used by the decoder. */
enum json_errcode {
    JSON_E_EOF_VALUE,                    /* EOF while parsing a value */
    JSON_E_EOF_LIST,                     /* EOF while parsing a list */
    JSON_E_EOF_OBJECT,                   /* EOF while parsing an object */
    JSON_E_EOF_STRING,                   /* EOF while parsing a string */
    JSON_E_EXPECTED_COLON,               /* expected `:` */
    JSON_E_EXPECTED_LIST_COMMA_OR_END,   /* expected `,` or `]` */
    JSON_E_EXPECTED_OBJECT_COMMA_OR_END, /* expected `,` or `}` */
    JSON_E_EXPECTED_IDENT,               /* expected ident */
    JSON_E_EXPECTED_VALUE,               /* expected value */
    JSON_E_INVALID_ESCAPE,               /* invalid escape */
    JSON_E_INVALID_NUMBER,               /* invalid number */
    JSON_E_NUMBER_OUT_OF_RANGE,          /* number out of range */
    JSON_E_INVALID_UNICODE,              /* invalid unicode code point */
    JSON_E_CONTROL_CHAR,       /* control character (\u0000-\u001F) found while
                                  parsing a string */
    JSON_E_KEY_MUST_BE_STRING, /* key must be a string */
    JSON_E_LONE_LEADING_SURROGATE, /* lone leading surrogate in hex escape */
    JSON_E_TRAILING_COMMA,         /* trailing comma */
    JSON_E_TRAILING_CHARS,         /* trailing characters */
    JSON_E_UNEXPECTED_END_OF_HEX,  /* unexpected end of hex escape */
    JSON_E_RECURSION_LIMIT,        /* recursion limit exceeded */
};

/* Raise errors (the first error wins; later calls are ignored).
 * error: positioned at the current index (serde's position());
 * peek_error: at index+1 capped to len (serde's peek_position());
 * custom: no position yet (de::Error::custom), fixed later by
 * json_dec_fix_position() exactly where serde_json would fix it.
 * All return -1 so callers can `return json_dec_custom(...)`. */
int json_dec_error(struct json_dec *d, enum json_errcode code);
int json_dec_peek_error(struct json_dec *d, enum json_errcode code);
int json_dec_custom(struct json_dec *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void json_dec_fix_position(struct json_dec *d);

/* Skip JSON whitespace; return the next byte or -1 at EOF (not consumed). */
int json_dec_peek_ws(struct json_dec *d);

/* The result of deserialize_number: serde_json's ParserNumber. */
struct json_number {
    enum json_num_kind kind;
    union {
        uint64_t u;
        int64_t i;
        double f;
    };
};

/* Primitive deserializers. Each returns 0 or -1 (error raised in d), with
 * serde_json's error and position behaviour for the given Rust type.
 * `expected` is the visitor's "expecting" text used in invalid type/value
 * messages ("u8", "usize", "a boolean", "a string", "path string", ...). */
int json_dec_bool(struct json_dec *d, bool *out);
int json_dec_uint(struct json_dec *d, uint64_t max, const char *expected,
                  uint64_t *out);
/* A String (or PathBuf with expected "path string"): the decoded bytes are
 * valid UTF-8; *out is a new NUL-terminated copy (free()), *out_len its
 * length. */
int json_dec_string(struct json_dec *d, const char *expected, char **out,
                    size_t *out_len);
/* deserialize_option: if the next value is `null`, consume it and set
 * *is_null (returns 0); otherwise leave it for the inner deserializer. */
int json_dec_option(struct json_dec *d, bool *is_null);
/* IgnoredAny (serde_json's ignore_value). */
int json_dec_ignore(struct json_dec *d);
/* A unit-variant enum (deserialize_enum): accepts "Name" and
 * {"Name": null}; `variants` in declaration order (for "expected one of");
 * *out = index. */
int json_dec_enum(struct json_dec *d, const char *const *variants,
                  size_t n_variants, int *out);

/* Sequences (deserialize_seq). elem() is called for each element with the
 * decoder positioned before it and returns 0 or -1. */
typedef int json_elem_fn(struct json_dec *d, void *ctx, size_t index);
int json_dec_seq(struct json_dec *d, const char *expected, json_elem_fn *elem,
                 void *ctx);

/* Maps with string keys (deserialize_map, e.g. BTreeMap<String, String>).
 * entry() is called with the decoded key (borrowed, NUL-terminated, valid
 * only during the call) and the decoder positioned before the value. */
typedef int json_entry_fn(struct json_dec *d, void *ctx, const char *key,
                          size_t key_len);
int json_dec_map(struct json_dec *d, const char *expected, json_entry_fn *entry,
                 void *ctx);

/* Any value (serde_json::Value / serde's buffered Content) into a new DOM. */
int json_dec_value(struct json_dec *d, struct json_value **out);

/* Deserializer::end: only whitespace may follow ("trailing characters"). */
int json_dec_end(struct json_dec *d);

/* ---- table-driven structs (serde derive) ---- */

/* The most fields a described struct may have. */
#define JSON_MAX_FIELDS 32

enum json_field_type {
    JSON_F_BOOL,   /* bool */
    JSON_F_U8,     /* uint8_t,  expected "u8" */
    JSON_F_U16,    /* uint16_t, expected "u16" */
    JSON_F_U32,    /* uint32_t, expected "u32" */
    JSON_F_U64,    /* uint64_t, expected "u64" */
    JSON_F_USIZE,  /* uint64_t, expected "usize" */
    JSON_F_STRING, /* char * (+ optional size_t length), "a string" */
    JSON_F_PATH,   /* char * (+ optional size_t length), "path string" */
    JSON_F_ENUM,   /* int-sized C enum; variants in `variants` */
    JSON_F_STRUCT, /* nested struct described by `sub` */
    JSON_F_CUSTOM, /* decoded by `custom` */
};

/* Field flags. */
#define JSON_FIELD_OPTION 0x1u /* Option<T>: null accepted; missing -> None */
#define JSON_FIELD_DEFAULT                                                     \
    0x2u /* #[serde(default)]: missing -> default                              \
            (the value the struct was initialised                              \
            with); null NOT accepted */
/* has_offset / len_offset hold offsetof(...) + 1, so that 0 means "none". */
#define JSON_OFF(type, member) (offsetof(type, member) + 1)

struct json_field;
typedef int json_custom_fn(struct json_dec *d, void *field_ptr,
                           const struct json_field *f);

struct json_field {
    const char *name; /* JSON key */
    enum json_field_type type;
    unsigned flags;
    size_t offset;               /* value offset in the C struct */
    size_t has_offset;           /* JSON_OFF of a bool set when the field is
                                    present and not null; 0 = none */
    size_t len_offset;           /* JSON_OFF of a size_t: the length of a
                                    string, the count of a custom sequence;
                                    0 = none */
    const char *const *variants; /* JSON_F_ENUM */
    size_t n_variants;
    const struct json_struct_desc *sub; /* JSON_F_STRUCT */
    json_custom_fn *custom;             /* JSON_F_CUSTOM */
};

struct json_struct_desc {
    const char *rust_name; /* for "expected struct X" / "invalid length" */
    const struct json_field *fields; /* declaration order */
    size_t n_fields;
    bool deny_unknown_fields;
};

/*
 * deserialize_struct for a derived struct: accepts an object (or, as serde
 * does, an array of the fields in order), fills `out` (which the caller has
 * initialised with the defaults), and checks unknown/duplicate/missing
 * fields in serde's order. On failure, the partially filled struct may own
 * memory: the caller frees it with its _fini.
 */
int json_dec_struct(struct json_dec *d, const struct json_struct_desc *desc,
                    void *out);

/*
 * Whole-document helper (serde_json::from_slice): run top(d, ctx), then
 * require only whitespace to follow ("trailing characters"). On failure
 * err->msg = prefix + serde message + suffix (prefix/suffix may be NULL) and
 * -EINVAL is returned.
 */
typedef int json_top_fn(struct json_dec *d, void *ctx);
int json_decode(const char *text, size_t len, json_top_fn *top, void *ctx,
                const char *prefix, const char *suffix, struct sq_err *err);

#endif

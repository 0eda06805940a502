/*
 * json_dec.c: the streaming decoder with serde_json's exact behaviour (see
 * json.h; derived structs are in json_derive.c, the DOM in json_dom.c).
 *
 * The decoder below is a transcription of the *behaviour* of serde_json's
 * Deserializer over a byte slice (serde_json 1.0.15x, SliceRead, default
 * features: no float_roundtrip, no arbitrary_precision) and of the code
 * serde derive generates for structs and unit-variant enums. The structure
 * follows serde's call tree on purpose, because the position serde_json
 * reports depends on it:
 *
 *  - "syntax" errors are positioned where they are raised: error() at the
 *    current index, peek_error() one byte further (capped at the end);
 *  - "custom" errors (unknown field, missing field, invalid type/value,
 *    messages from custom deserializers) have no position when raised and
 *    get one from the innermost deserialize_{number,str,bool,seq,map,struct,
 *    any} call they travel through (fix_position), at whatever index the
 *    input has reached by then;
 *  - deserialize_{seq,map,struct} always run end_seq()/end_map() after the
 *    visitor, even when it failed; that can consume a `]`, `}`, `,` and
 *    whitespace before the position is fixed, and we do the same.
 *
 * Only the first error is kept (later raises are no-ops), which is what
 * Rust's `?` propagation amounts to.
 */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_int.h"
#include "util/utf8.h"
#include "util/xalloc.h"

/* ====================================================================== */
/* Decoder core                                                            */

static const char *const errcode_text[] = {
    [JSON_E_EOF_VALUE] = "EOF while parsing a value",
    [JSON_E_EOF_LIST] = "EOF while parsing a list",
    [JSON_E_EOF_OBJECT] = "EOF while parsing an object",
    [JSON_E_EOF_STRING] = "EOF while parsing a string",
    [JSON_E_EXPECTED_COLON] = "expected `:`",
    [JSON_E_EXPECTED_LIST_COMMA_OR_END] = "expected `,` or `]`",
    [JSON_E_EXPECTED_OBJECT_COMMA_OR_END] = "expected `,` or `}`",
    [JSON_E_EXPECTED_IDENT] = "expected ident",
    [JSON_E_EXPECTED_VALUE] = "expected value",
    [JSON_E_INVALID_ESCAPE] = "invalid escape",
    [JSON_E_INVALID_NUMBER] = "invalid number",
    [JSON_E_NUMBER_OUT_OF_RANGE] = "number out of range",
    [JSON_E_INVALID_UNICODE] = "invalid unicode code point",
    [JSON_E_CONTROL_CHAR] =
        "control character (\\u0000-\\u001F) found while parsing a string",
    [JSON_E_KEY_MUST_BE_STRING] = "key must be a string",
    [JSON_E_LONE_LEADING_SURROGATE] = "lone leading surrogate in hex escape",
    [JSON_E_TRAILING_COMMA] = "trailing comma",
    [JSON_E_TRAILING_CHARS] = "trailing characters",
    [JSON_E_UNEXPECTED_END_OF_HEX] = "unexpected end of hex escape",
    [JSON_E_RECURSION_LIMIT] = "recursion limit exceeded",
};

/* serde_json's default recursion limit. */
#define JSON_RECURSION_LIMIT 128

void json_dec_init(struct json_dec *d, const char *text, size_t len)
{
    memset(d, 0, sizeof(*d));
    d->p = (const uint8_t *)text;
    d->len = text ? len : 0;
    d->remaining_depth = JSON_RECURSION_LIMIT;
    buf_init(&d->msg);
    buf_init(&d->scratch);
}

void json_dec_fini(struct json_dec *d)
{
    buf_fini(&d->msg);
    buf_fini(&d->scratch);
}

/* serde_json's SliceRead::position_of_index. */
static void position_of_index(const struct json_dec *d, size_t i, size_t *line,
                              size_t *col)
{
    size_t start_of_line = 0, lines = 1, k;

    for (k = 0; k < i; k++) {
        if (d->p[k] == '\n') {
            start_of_line = k + 1;
            lines++;
        }
    }
    *line = lines;
    *col = i - start_of_line;
}

void json_dec_error_text(const struct json_dec *d, struct buf *out)
{
    size_t line, col;

    buf_append(out, d->msg.data ? d->msg.data : "", d->msg.len);
    if (d->positioned) {
        position_of_index(d, d->err_index, &line, &col);
        buf_printf(out, " at line %zu column %zu", line, col);
    }
}

static bool begin_error(struct json_dec *d)
{
    if (d->failed)
        return false;
    d->failed = true;
    buf_reset(&d->msg);
    return true;
}

int json_dec_error(struct json_dec *d, enum json_errcode code)
{
    if (begin_error(d)) {
        buf_puts(&d->msg, errcode_text[code]);
        d->positioned = true;
        d->err_index = d->pos;
    }
    return -1;
}

int json_dec_peek_error(struct json_dec *d, enum json_errcode code)
{
    if (begin_error(d)) {
        buf_puts(&d->msg, errcode_text[code]);
        d->positioned = true;
        d->err_index = d->pos + 1 < d->len ? d->pos + 1 : d->len;
    }
    return -1;
}

int json_dec_custom(struct json_dec *d, const char *fmt, ...)
{
    va_list ap;

    if (begin_error(d)) {
        va_start(ap, fmt);
        buf_vprintf(&d->msg, fmt, ap);
        va_end(ap);
        d->positioned = false;
    }
    return -1;
}

/* Start a custom error whose text the caller appends to d->msg. Returns
 * false if an error was already raised (then append nothing). */
bool json_custom_begin(struct json_dec *d)
{
    if (!begin_error(d))
        return false;
    d->positioned = false;
    return true;
}

void json_dec_fix_position(struct json_dec *d)
{
    if (d->failed && !d->positioned) {
        d->positioned = true;
        d->err_index = d->pos;
    }
}

static int peek(const struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos] : -1;
}

static int peek_or_null(const struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos] : 0;
}

void json_eat(struct json_dec *d)
{
    d->pos++;
}

static int next_char(struct json_dec *d)
{
    return d->pos < d->len ? d->p[d->pos++] : -1;
}

int json_dec_peek_ws(struct json_dec *d)
{
    while (d->pos < d->len) {
        uint8_t c = d->p[d->pos];

        if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
            return c;
        d->pos++;
    }
    return -1;
}

/* check_recursion!: enter one nesting level (before eating the bracket). */
int json_enter(struct json_dec *d)
{
    d->remaining_depth--;
    if (d->remaining_depth == 0)
        return json_dec_peek_error(d, JSON_E_RECURSION_LIMIT);
    return 0;
}

void json_leave(struct json_dec *d)
{
    d->remaining_depth++;
}

int json_parse_ident(struct json_dec *d, const char *ident)
{
    for (; *ident; ident++) {
        int c = next_char(d);

        if (c < 0)
            return json_dec_error(d, JSON_E_EOF_VALUE);
        if (c != (unsigned char)*ident)
            return json_dec_error(d, JSON_E_EXPECTED_IDENT);
    }
    return 0;
}

/* ---- strings ---- */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int decode_hex_escape(struct json_dec *d, uint16_t *out)
{
    int a, b, c, e;

    if (d->len - d->pos < 4) {
        d->pos = d->len;
        return json_dec_error(d, JSON_E_EOF_STRING);
    }
    a = hexval(d->p[d->pos]);
    b = hexval(d->p[d->pos + 1]);
    c = hexval(d->p[d->pos + 2]);
    e = hexval(d->p[d->pos + 3]);
    d->pos += 4;
    if (a < 0 || b < 0 || c < 0 || e < 0)
        return json_dec_error(d, JSON_E_INVALID_ESCAPE);
    *out = (uint16_t)((a << 12) | (b << 8) | (c << 4) | e);
    return 0;
}

static void push_utf8(struct buf *b, uint32_t n)
{
    char t[4];

    if (n < 0x80) {
        t[0] = (char)n;
        buf_append(b, t, 1);
    } else if (n < 0x800) {
        t[0] = (char)(0xc0 | (n >> 6));
        t[1] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 2);
    } else if (n < 0x10000) {
        t[0] = (char)(0xe0 | (n >> 12));
        t[1] = (char)(0x80 | ((n >> 6) & 0x3f));
        t[2] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 3);
    } else {
        t[0] = (char)(0xf0 | (n >> 18));
        t[1] = (char)(0x80 | ((n >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((n >> 6) & 0x3f));
        t[3] = (char)(0x80 | (n & 0x3f));
        buf_append(b, t, 4);
    }
}

/* parse_escape with validate = true (strings decoded as str). */
static int parse_escape(struct json_dec *d, struct buf *out)
{
    int ch = next_char(d);
    uint16_t n, n2;

    if (ch < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    switch (ch) {
    case '"':
        buf_putc(out, '"');
        return 0;
    case '\\':
        buf_putc(out, '\\');
        return 0;
    case '/':
        buf_putc(out, '/');
        return 0;
    case 'b':
        buf_putc(out, '\b');
        return 0;
    case 'f':
        buf_putc(out, '\f');
        return 0;
    case 'n':
        buf_putc(out, '\n');
        return 0;
    case 'r':
        buf_putc(out, '\r');
        return 0;
    case 't':
        buf_putc(out, '\t');
        return 0;
    case 'u':
        break;
    default:
        return json_dec_error(d, JSON_E_INVALID_ESCAPE);
    }
    if (decode_hex_escape(d, &n) < 0)
        return -1;
    if (n >= 0xdc00 && n <= 0xdfff)
        return json_dec_error(d, JSON_E_LONE_LEADING_SURROGATE);
    if (n < 0xd800 || n > 0xdbff) {
        push_utf8(out, n);
        return 0;
    }
    /* a leading surrogate: a trailing one must follow as \uXXXX */
    if (peek(d) < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    if (peek(d) != '\\') {
        json_eat(d);
        return json_dec_error(d, JSON_E_UNEXPECTED_END_OF_HEX);
    }
    json_eat(d);
    if (peek(d) < 0)
        return json_dec_error(d, JSON_E_EOF_STRING);
    if (peek(d) != 'u') {
        json_eat(d);
        return json_dec_error(d, JSON_E_UNEXPECTED_END_OF_HEX);
    }
    json_eat(d);
    if (decode_hex_escape(d, &n2) < 0)
        return -1;
    if (n2 < 0xdc00 || n2 > 0xdfff)
        return json_dec_error(d, JSON_E_LONE_LEADING_SURROGATE);
    push_utf8(out, (((uint32_t)(n - 0xd800) << 10) | (uint32_t)(n2 - 0xdc00)) +
                       0x10000);
    return 0;
}

/*
 * SliceRead::parse_str: the opening quote has been eaten. The decoded
 * string is left in d->scratch (NUL-terminated).
 */
int json_parse_str(struct json_dec *d)
{
    size_t start = d->pos;

    buf_reset(&d->scratch);
    buf_reserve(&d->scratch, 0);
    for (;;) {
        while (d->pos < d->len) {
            uint8_t c = d->p[d->pos];

            if (c == '"' || c == '\\' || c < 0x20)
                break;
            d->pos++;
        }
        if (d->pos == d->len)
            return json_dec_error(d, JSON_E_EOF_STRING);
        switch (d->p[d->pos]) {
        case '"':
            buf_append(&d->scratch, d->p + start, d->pos - start);
            d->pos++;
            if (!utf8_valid(d->scratch.data, d->scratch.len))
                return json_dec_error(d, JSON_E_INVALID_UNICODE);
            return 0;
        case '\\':
            buf_append(&d->scratch, d->p + start, d->pos - start);
            d->pos++;
            if (parse_escape(d, &d->scratch) < 0)
                return -1;
            start = d->pos;
            break;
        default:
            d->pos++;
            return json_dec_error(d, JSON_E_CONTROL_CHAR);
        }
    }
}

/* SliceRead::ignore_str: no UTF-8 or surrogate checks, and the control
 * character error is positioned before the byte, not after it. */
static int ignore_str(struct json_dec *d)
{
    for (;;) {
        int ch;
        uint16_t n;

        while (d->pos < d->len) {
            uint8_t c = d->p[d->pos];

            if (c == '"' || c == '\\' || c < 0x20)
                break;
            d->pos++;
        }
        if (d->pos == d->len)
            return json_dec_error(d, JSON_E_EOF_STRING);
        switch (d->p[d->pos]) {
        case '"':
            d->pos++;
            return 0;
        case '\\':
            d->pos++;
            ch = next_char(d);
            if (ch < 0)
                return json_dec_error(d, JSON_E_EOF_STRING);
            switch (ch) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            case 'u':
                if (decode_hex_escape(d, &n) < 0)
                    return -1;
                break;
            default:
                return json_dec_error(d, JSON_E_INVALID_ESCAPE);
            }
            break;
        default:
            return json_dec_error(d, JSON_E_CONTROL_CHAR);
        }
    }
}

/* ---- numbers ---- */

static const double pow10_table[309] = {
    1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,   1e9,   1e10,
    1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,
    1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,  1e30,  1e31,  1e32,
    1e33,  1e34,  1e35,  1e36,  1e37,  1e38,  1e39,  1e40,  1e41,  1e42,  1e43,
    1e44,  1e45,  1e46,  1e47,  1e48,  1e49,  1e50,  1e51,  1e52,  1e53,  1e54,
    1e55,  1e56,  1e57,  1e58,  1e59,  1e60,  1e61,  1e62,  1e63,  1e64,  1e65,
    1e66,  1e67,  1e68,  1e69,  1e70,  1e71,  1e72,  1e73,  1e74,  1e75,  1e76,
    1e77,  1e78,  1e79,  1e80,  1e81,  1e82,  1e83,  1e84,  1e85,  1e86,  1e87,
    1e88,  1e89,  1e90,  1e91,  1e92,  1e93,  1e94,  1e95,  1e96,  1e97,  1e98,
    1e99,  1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109,
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, 1e120,
    1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131,
    1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139, 1e140, 1e141, 1e142,
    1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149, 1e150, 1e151, 1e152, 1e153,
    1e154, 1e155, 1e156, 1e157, 1e158, 1e159, 1e160, 1e161, 1e162, 1e163, 1e164,
    1e165, 1e166, 1e167, 1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175,
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186,
    1e187, 1e188, 1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197,
    1e198, 1e199, 1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208,
    1e209, 1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219,
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229, 1e230,
    1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, 1e240, 1e241,
    1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, 1e250, 1e251, 1e252,
    1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263,
    1e264, 1e265, 1e266, 1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274,
    1e275, 1e276, 1e277, 1e278, 1e279, 1e280, 1e281, 1e282, 1e283, 1e284, 1e285,
    1e286, 1e287, 1e288, 1e289, 1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296,
    1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307,
    1e308};

#define U64_OVERFLOW(a, b)                                                     \
    ((a) >= UINT64_MAX / 10 && ((a) > UINT64_MAX / 10 || (b) > UINT64_MAX % 10))
#define I32_OVERFLOW(a, b)                                                     \
    ((a) >= INT32_MAX / 10 && ((a) > INT32_MAX / 10 || (b) > INT32_MAX % 10))

/* f64_from_parts without float_roundtrip: the same multiplications and
 * divisions serde_json performs, so the same (not always correctly rounded)
 * result. */
static int f64_from_parts(struct json_dec *d, bool positive, uint64_t sig,
                          int32_t exponent, double *out)
{
    double f = (double)sig;

    for (;;) {
        uint32_t idx = exponent < 0 ? (uint32_t)0 - (uint32_t)exponent
                                    : (uint32_t)exponent;

        if (idx < 309) {
            if (exponent >= 0) {
                f *= pow10_table[idx];
                if (isinf(f))
                    return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
            } else {
                f /= pow10_table[idx];
            }
            break;
        }
        if (f == 0.0)
            break;
        if (exponent >= 0)
            return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
        f /= 1e308;
        exponent += 308;
    }
    *out = positive ? f : -f;
    return 0;
}

static int parse_exponent(struct json_dec *d, bool positive, uint64_t sig,
                          int32_t starting_exp, double *out)
{
    bool positive_exp = true;
    int32_t exp, final_exp;
    int c;

    json_eat(d); /* 'e' or 'E' */
    c = peek_or_null(d);
    if (c == '+') {
        json_eat(d);
    } else if (c == '-') {
        json_eat(d);
        positive_exp = false;
    }
    c = next_char(d);
    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_VALUE);
    if (c < '0' || c > '9')
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    exp = c - '0';
    for (;;) {
        int digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            break;
        json_eat(d);
        digit = c - '0';
        if (I32_OVERFLOW(exp, digit)) {
            /* parse_exponent_overflow */
            if (sig != 0 && positive_exp)
                return json_dec_error(d, JSON_E_NUMBER_OUT_OF_RANGE);
            while ((c = peek_or_null(d)) >= '0' && c <= '9')
                json_eat(d);
            *out = positive ? 0.0 : -0.0;
            return 0;
        }
        exp = exp * 10 + digit;
    }
    if (positive_exp)
        final_exp = (starting_exp > 0 && exp > INT32_MAX - starting_exp)
                        ? INT32_MAX
                        : starting_exp + exp;
    else
        final_exp = (starting_exp < 0 && starting_exp < INT32_MIN + exp)
                        ? INT32_MIN
                        : starting_exp - exp;
    return f64_from_parts(d, positive, sig, final_exp, out);
}

static int parse_decimal(struct json_dec *d, bool positive, uint64_t sig,
                         int32_t exp_before, double *out)
{
    int32_t exp_after = 0;
    int c;

    json_eat(d); /* '.' */
    for (;;) {
        int digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            break;
        digit = c - '0';
        if (U64_OVERFLOW(sig, (uint64_t)digit)) {
            /* parse_decimal_overflow: ignore the remaining digits */
            while ((c = peek_or_null(d)) >= '0' && c <= '9')
                json_eat(d);
            c = peek_or_null(d);
            if (c == 'e' || c == 'E')
                return parse_exponent(d, positive, sig, exp_before + exp_after,
                                      out);
            return f64_from_parts(d, positive, sig, exp_before + exp_after,
                                  out);
        }
        json_eat(d);
        sig = sig * 10 + (uint64_t)digit;
        exp_after--;
    }
    if (exp_after == 0) {
        if (peek(d) >= 0)
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    }
    c = peek_or_null(d);
    if (c == 'e' || c == 'E')
        return parse_exponent(d, positive, sig, exp_before + exp_after, out);
    return f64_from_parts(d, positive, sig, exp_before + exp_after, out);
}

static int parse_number_tail(struct json_dec *d, bool positive, uint64_t sig,
                             struct json_number *n)
{
    int c = peek_or_null(d);

    if (c == '.') {
        n->kind = JSON_NUM_F64;
        return parse_decimal(d, positive, sig, 0, &n->f);
    }
    if (c == 'e' || c == 'E') {
        n->kind = JSON_NUM_F64;
        return parse_exponent(d, positive, sig, 0, &n->f);
    }
    if (positive) {
        n->kind = JSON_NUM_U64;
        n->u = sig;
    } else {
        /* (sig as i64).wrapping_neg(): a float for -0 and below i64::MIN */
        int64_t neg = (int64_t)(0 - sig);

        if (neg >= 0) {
            n->kind = JSON_NUM_F64;
            n->f = -(double)sig;
        } else {
            n->kind = JSON_NUM_I64;
            n->i = neg;
        }
    }
    return 0;
}

/* parse_integer (= parse_any_number without arbitrary_precision); the
 * leading '-' has already been eaten when !positive. */
int json_parse_integer(struct json_dec *d, bool positive, struct json_number *n)
{
    int c = next_char(d);
    uint64_t sig;

    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_VALUE);
    if (c == '0') {
        c = peek_or_null(d);
        if (c >= '0' && c <= '9')
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        return parse_number_tail(d, positive, 0, n);
    }
    if (c < '1' || c > '9')
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    sig = (uint64_t)(c - '0');
    for (;;) {
        uint64_t digit;

        c = peek_or_null(d);
        if (c < '0' || c > '9')
            return parse_number_tail(d, positive, sig, n);
        digit = (uint64_t)(c - '0');
        if (U64_OVERFLOW(sig, digit)) {
            /* parse_long_integer: count the remaining digits as exponent */
            int32_t exponent = 0;

            for (;;) {
                c = peek_or_null(d);
                if (c >= '0' && c <= '9') {
                    json_eat(d);
                    exponent++;
                } else {
                    break;
                }
            }
            n->kind = JSON_NUM_F64;
            if (c == '.')
                return parse_decimal(d, positive, sig, exponent, &n->f);
            if (c == 'e' || c == 'E')
                return parse_exponent(d, positive, sig, exponent, &n->f);
            return f64_from_parts(d, positive, sig, exponent, &n->f);
        }
        json_eat(d);
        sig = sig * 10 + digit;
    }
}

/* ignore_integer / ignore_decimal / ignore_exponent */
static int ignore_number(struct json_dec *d)
{
    int c = d->pos < d->len ? d->p[d->pos++] : 0;
    bool digit = false;

    if (c == '0') {
        c = peek_or_null(d);
        if (c >= '0' && c <= '9')
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
    } else if (c >= '1' && c <= '9') {
        while ((c = peek_or_null(d)) >= '0' && c <= '9')
            json_eat(d);
    } else {
        return json_dec_error(d, JSON_E_INVALID_NUMBER);
    }
    c = peek_or_null(d);
    if (c == '.') {
        json_eat(d);
        while ((c = peek_or_null(d)) >= '0' && c <= '9') {
            json_eat(d);
            digit = true;
        }
        if (!digit)
            return json_dec_peek_error(d, JSON_E_INVALID_NUMBER);
        c = peek_or_null(d);
    }
    if (c == 'e' || c == 'E') {
        json_eat(d);
        c = peek_or_null(d);
        if (c == '+' || c == '-')
            json_eat(d);
        c = d->pos < d->len ? d->p[d->pos++] : 0;
        if (c < '0' || c > '9')
            return json_dec_error(d, JSON_E_INVALID_NUMBER);
        while ((c = peek_or_null(d)) >= '0' && c <= '9')
            json_eat(d);
    }
    return 0;
}

/* ---- "invalid type" errors (serde's Unexpected + Expected) ---- */

static void append_float(struct buf *b, double f)
{
    char tmp[64];

    buf_append(b, tmp, json_format_f64(f, tmp));
}

/* Raise "invalid type: <number>, expected <exp>" (custom, unpositioned). */
static int number_invalid_type(struct json_dec *d, const struct json_number *n,
                               const char *exp)
{
    if (!json_custom_begin(d))
        return -1;
    buf_puts(&d->msg, "invalid type: ");
    switch (n->kind) {
    case JSON_NUM_U64:
        buf_printf(&d->msg, "integer `%llu`", (unsigned long long)n->u);
        break;
    case JSON_NUM_I64:
        buf_printf(&d->msg, "integer `%lld`", (long long)n->i);
        break;
    case JSON_NUM_F64:
        buf_puts(&d->msg, "floating point `");
        append_float(&d->msg, n->f);
        buf_putc(&d->msg, '`');
        break;
    }
    buf_printf(&d->msg, ", expected %s", exp);
    return -1;
}

static int simple_invalid_type(struct json_dec *d, const char *unexp,
                               const char *exp)
{
    return json_dec_custom(d, "invalid type: %s, expected %s", unexp, exp);
}

/* Deserializer::peek_invalid_type: consume the offending scalar (so the
 * position ends up after it) and raise invalid type, or a syntax error. */
int json_peek_invalid_type(struct json_dec *d, const char *exp)
{
    struct json_number n;
    int c = peek_or_null(d);

    switch (c) {
    case 'n':
        json_eat(d);
        if (json_parse_ident(d, "ull") < 0)
            return -1;
        simple_invalid_type(d, "null", exp);
        break;
    case 't':
        json_eat(d);
        if (json_parse_ident(d, "rue") < 0)
            return -1;
        simple_invalid_type(d, "boolean `true`", exp);
        break;
    case 'f':
        json_eat(d);
        if (json_parse_ident(d, "alse") < 0)
            return -1;
        simple_invalid_type(d, "boolean `false`", exp);
        break;
    case '-':
        json_eat(d);
        if (json_parse_integer(d, false, &n) < 0)
            return -1;
        number_invalid_type(d, &n, exp);
        break;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if (json_parse_integer(d, true, &n) < 0)
            return -1;
        number_invalid_type(d, &n, exp);
        break;
    case '"':
        json_eat(d);
        if (json_parse_str(d) < 0)
            return -1;
        if (json_custom_begin(d)) {
            buf_puts(&d->msg, "invalid type: string ");
            json_rust_str_debug(&d->msg, d->scratch.data, d->scratch.len);
            buf_printf(&d->msg, ", expected %s", exp);
        }
        break;
    case '[':
        simple_invalid_type(d, "sequence", exp);
        break;
    case '{':
        simple_invalid_type(d, "map", exp);
        break;
    default:
        json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
        break;
    }
    json_dec_fix_position(d);
    return -1;
}

/* ---- primitive deserializers ---- */

int json_dec_bool(struct json_dec *d, bool *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == 't') {
        json_eat(d);
        rc = json_parse_ident(d, "rue");
        *out = true;
    } else if (c == 'f') {
        json_eat(d);
        rc = json_parse_ident(d, "alse");
        *out = false;
    } else {
        rc = json_peek_invalid_type(d, "a boolean");
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_uint(struct json_dec *d, uint64_t max, const char *expected,
                  uint64_t *out)
{
    struct json_number n;
    int c = json_dec_peek_ws(d);
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == '-') {
        json_eat(d);
        if (json_parse_integer(d, false, &n) < 0)
            return -1;
    } else if (c >= '0' && c <= '9') {
        if (json_parse_integer(d, true, &n) < 0)
            return -1;
    } else {
        return json_peek_invalid_type(d, expected);
    }
    /* the visitor: visit_u64 / visit_i64 / (default) visit_f64 */
    switch (n.kind) {
    case JSON_NUM_U64:
        if (n.u <= max)
            *out = n.u;
        else
            rc =
                json_dec_custom(d, "invalid value: integer `%llu`, expected %s",
                                (unsigned long long)n.u, expected);
        break;
    case JSON_NUM_I64:
        rc = json_dec_custom(d, "invalid value: integer `%lld`, expected %s",
                             (long long)n.i, expected);
        break;
    case JSON_NUM_F64:
        rc = number_invalid_type(d, &n, expected);
        break;
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_string(struct json_dec *d, const char *expected, char **out,
                    size_t *out_len)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '"')
        return json_peek_invalid_type(d, expected);
    json_eat(d);
    if (json_parse_str(d) < 0)
        return -1;
    *out = xmalloc(d->scratch.len + 1);
    memcpy(*out, d->scratch.data, d->scratch.len + 1);
    if (out_len)
        *out_len = d->scratch.len;
    return 0;
}

int json_dec_option(struct json_dec *d, bool *is_null)
{
    *is_null = false;
    if (json_dec_peek_ws(d) == 'n') {
        json_eat(d);
        if (json_parse_ident(d, "ull") < 0)
            return -1;
        *is_null = true;
    }
    return 0;
}

/* deserialize_unit (the `()` inside {"Variant": null}). */
static int dec_unit(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c == 'n') {
        json_eat(d);
        rc = json_parse_ident(d, "ull");
    } else {
        rc = json_peek_invalid_type(d, "unit");
    }
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

/* " `a`", " `a` or `b`", " one of `a`, `b`, `c`" (serde's OneOf). */
void json_append_one_of(struct buf *b, const char *const *names, size_t n)
{
    size_t i;

    switch (n) {
    case 1:
        buf_printf(b, "`%s`", names[0]);
        break;
    case 2:
        buf_printf(b, "`%s` or `%s`", names[0], names[1]);
        break;
    default:
        buf_puts(b, "one of ");
        for (i = 0; i < n; i++)
            buf_printf(b, "%s`%s`", i ? ", " : "", names[i]);
        break;
    }
}

/* Match the variant name in d->scratch or raise unknown variant. */
static int match_variant(struct json_dec *d, const char *const *variants,
                         size_t n_variants, int *out)
{
    size_t i;

    for (i = 0; i < n_variants; i++) {
        if (strlen(variants[i]) == d->scratch.len &&
            memcmp(variants[i], d->scratch.data, d->scratch.len) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    if (json_custom_begin(d)) {
        buf_puts(&d->msg, "unknown variant `");
        buf_append(&d->msg, d->scratch.data, d->scratch.len);
        buf_puts(&d->msg, "`, ");
        if (n_variants == 0) {
            buf_puts(&d->msg, "there are no variants");
        } else {
            buf_puts(&d->msg, "expected ");
            json_append_one_of(&d->msg, variants, n_variants);
        }
    }
    return -1;
}

int json_parse_object_colon(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == ':') {
        json_eat(d);
        return 0;
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    return json_dec_peek_error(d, JSON_E_EXPECTED_COLON);
}

int json_dec_enum(struct json_dec *d, const char *const *variants,
                  size_t n_variants, int *out)
{
    int c = json_dec_peek_ws(d);
    int rc;

    if (c == '"') {
        /* UnitVariantAccess: the identifier through deserialize_str */
        json_eat(d);
        if (json_parse_str(d) < 0)
            return -1;
        rc = match_variant(d, variants, n_variants, out);
        if (rc < 0)
            json_dec_fix_position(d);
        return rc;
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '{')
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    /* {"Variant": null} through VariantAccess */
    if (json_enter(d) < 0)
        return -1;
    json_eat(d);
    c = json_dec_peek_ws(d);
    if (c == '}')
        return json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    if (c != '"')
        return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
    json_eat(d);
    if (json_parse_str(d) < 0)
        return -1;
    if (match_variant(d, variants, n_variants, out) < 0) {
        json_dec_fix_position(d);
        return -1;
    }
    if (json_parse_object_colon(d) < 0)
        return -1;
    if (dec_unit(d) < 0)
        return -1;
    json_leave(d);
    c = json_dec_peek_ws(d);
    if (c == '}') {
        json_eat(d);
        return 0;
    }
    if (c < 0)
        return json_dec_error(d, JSON_E_EOF_OBJECT);
    return json_dec_error(d, JSON_E_EXPECTED_VALUE);
}

/* ---- IgnoredAny: serde_json's iterative ignore_value ---- */

int json_dec_ignore(struct json_dec *d)
{
    struct buf stack = BUF_INIT; /* enclosing frames, '[' or '{' */
    int enclosing = 0;           /* 0 = none */
    int rc = -1;

    for (;;) {
        int c = json_dec_peek_ws(d);
        int frame = 0;
        bool accept_comma;

        if (c < 0) {
            json_dec_peek_error(d, JSON_E_EOF_VALUE);
            goto out;
        }
        switch (c) {
        case 'n':
            json_eat(d);
            if (json_parse_ident(d, "ull") < 0)
                goto out;
            break;
        case 't':
            json_eat(d);
            if (json_parse_ident(d, "rue") < 0)
                goto out;
            break;
        case 'f':
            json_eat(d);
            if (json_parse_ident(d, "alse") < 0)
                goto out;
            break;
        case '-':
            json_eat(d);
            if (ignore_number(d) < 0)
                goto out;
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            if (ignore_number(d) < 0)
                goto out;
            break;
        case '"':
            json_eat(d);
            if (ignore_str(d) < 0)
                goto out;
            break;
        case '[':
        case '{':
            if (enclosing)
                buf_putc(&stack, (char)enclosing);
            enclosing = 0;
            json_eat(d);
            frame = c;
            break;
        default:
            json_dec_peek_error(d, JSON_E_EXPECTED_VALUE);
            goto out;
        }

        if (frame) {
            accept_comma = false;
        } else if (enclosing) {
            frame = enclosing;
            enclosing = 0;
            accept_comma = true;
        } else if (stack.len) {
            frame = (unsigned char)stack.data[--stack.len];
            accept_comma = true;
        } else {
            rc = 0;
            goto out;
        }

        for (;;) {
            c = json_dec_peek_ws(d);
            if (c == ',' && accept_comma) {
                json_eat(d);
                break;
            }
            if ((c == ']' && frame == '[') || (c == '}' && frame == '{')) {
                json_eat(d);
                if (!stack.len) {
                    rc = 0;
                    goto out;
                }
                frame = (unsigned char)stack.data[--stack.len];
                accept_comma = true;
                continue;
            }
            if (c < 0) {
                json_dec_peek_error(d, frame == '[' ? JSON_E_EOF_LIST
                                                    : JSON_E_EOF_OBJECT);
                goto out;
            }
            if (accept_comma) {
                json_dec_peek_error(
                    d, frame == '[' ? JSON_E_EXPECTED_LIST_COMMA_OR_END
                                    : JSON_E_EXPECTED_OBJECT_COMMA_OR_END);
                goto out;
            }
            break;
        }

        if (frame == '{') {
            c = json_dec_peek_ws(d);
            if (c == '"') {
                json_eat(d);
            } else if (c < 0) {
                json_dec_peek_error(d, JSON_E_EOF_OBJECT);
                goto out;
            } else {
                json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
                goto out;
            }
            if (ignore_str(d) < 0)
                goto out;
            c = json_dec_peek_ws(d);
            if (c == ':') {
                json_eat(d);
            } else if (c < 0) {
                json_dec_peek_error(d, JSON_E_EOF_OBJECT);
                goto out;
            } else {
                json_dec_peek_error(d, JSON_E_EXPECTED_COLON);
                goto out;
            }
        }
        enclosing = frame;
    }
out:
    buf_fini(&stack);
    return rc;
}

/* ---- sequences and maps ---- */

/* SeqAccess::has_next_element: 1 = an element follows, 0 = `]`, -1 = error */
int json_has_next_element(struct json_dec *d, bool *first)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_LIST);
    if (c == ']')
        return 0;
    if (*first) {
        *first = false;
        return 1;
    }
    if (c != ',')
        return json_dec_peek_error(d, JSON_E_EXPECTED_LIST_COMMA_OR_END);
    json_eat(d);
    c = json_dec_peek_ws(d);
    if (c == ']')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    return 1;
}

/* MapAccess::has_next_key */
int json_has_next_key(struct json_dec *d, bool *first)
{
    int c = json_dec_peek_ws(d);

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    if (c == '}')
        return 0;
    if (*first) {
        *first = false;
        if (c == '"')
            return 1;
        return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
    }
    if (c != ',')
        return json_dec_peek_error(d, JSON_E_EXPECTED_OBJECT_COMMA_OR_END);
    json_eat(d);
    c = json_dec_peek_ws(d);
    if (c == '"')
        return 1;
    if (c == '}')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    return json_dec_peek_error(d, JSON_E_KEY_MUST_BE_STRING);
}

/* MapKey::deserialize_any for a string key: eat the quote, decode into
 * d->scratch. */
int json_parse_key(struct json_dec *d)
{
    json_eat(d);
    return json_parse_str(d);
}

/* end_seq / end_map: run after the visitor even when it failed (their own
 * errors then are ignored, their input consumption is not). */
int json_end_seq(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == ']') {
        json_eat(d);
        return 0;
    }
    if (c == ',') {
        json_eat(d);
        if (json_dec_peek_ws(d) == ']')
            return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
        return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
    }
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_LIST);
    return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
}

int json_end_map(struct json_dec *d)
{
    int c = json_dec_peek_ws(d);

    if (c == '}') {
        json_eat(d);
        return 0;
    }
    if (c == ',')
        return json_dec_peek_error(d, JSON_E_TRAILING_COMMA);
    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_OBJECT);
    return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
}

int json_dec_seq(struct json_dec *d, const char *expected, json_elem_fn *elem,
                 void *ctx)
{
    int c = json_dec_peek_ws(d);
    bool first = true;
    size_t i = 0;
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '[')
        return json_peek_invalid_type(d, expected);
    if (json_enter(d) < 0)
        return -1;
    json_eat(d);
    for (;;) {
        int r = json_has_next_element(d, &first);

        if (r <= 0) {
            rc = r;
            break;
        }
        if (elem(d, ctx, i++) < 0) {
            rc = -1;
            break;
        }
    }
    json_leave(d);
    if (json_end_seq(d) < 0)
        rc = -1;
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

int json_dec_map(struct json_dec *d, const char *expected, json_entry_fn *entry,
                 void *ctx)
{
    int c = json_dec_peek_ws(d);
    bool first = true;
    int rc = 0;

    if (c < 0)
        return json_dec_peek_error(d, JSON_E_EOF_VALUE);
    if (c != '{')
        return json_peek_invalid_type(d, expected);
    if (json_enter(d) < 0)
        return -1;
    json_eat(d);
    for (;;) {
        int r = json_has_next_key(d, &first);
        char *key;
        size_t klen;

        if (r <= 0) {
            rc = r;
            break;
        }
        if (json_parse_key(d) < 0) {
            rc = -1;
            break;
        }
        klen = d->scratch.len;
        key = xmalloc(klen + 1);
        memcpy(key, d->scratch.data, klen + 1);
        if (json_parse_object_colon(d) < 0 || entry(d, ctx, key, klen) < 0) {
            free(key);
            rc = -1;
            break;
        }
        free(key);
    }
    json_leave(d);
    if (json_end_map(d) < 0)
        rc = -1;
    if (rc < 0)
        json_dec_fix_position(d);
    return rc;
}

/* ---- whole documents ---- */

int json_dec_end(struct json_dec *d)
{
    if (json_dec_peek_ws(d) >= 0)
        return json_dec_peek_error(d, JSON_E_TRAILING_CHARS);
    return 0;
}

int json_decode(const char *text, size_t len, json_top_fn *top, void *ctx,
                const char *prefix, const char *suffix, struct sq_err *err)
{
    struct json_dec d;
    struct buf msg = BUF_INIT;
    int rc = 0;

    json_dec_init(&d, text, len);
    if (top(&d, ctx) < 0 || json_dec_end(&d) < 0) {
        if (prefix)
            buf_puts(&msg, prefix);
        json_dec_error_text(&d, &msg);
        if (suffix)
            buf_puts(&msg, suffix);
        rc = sq_errf(err, -EINVAL, "%s", msg.data);
        buf_fini(&msg);
    }
    json_dec_fini(&d);
    return rc;
}

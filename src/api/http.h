/*
 * http.h: the HTTP/1.1 request parser and response serializer of the API
 * socket, reproducing Firecracker's micro_http byte for byte.
 *
 * The parser follows picohttpparser's model: it allocates nothing, and the
 * parsed request is a set of (pointer, length) views into the caller's
 * buffer. It is incremental: the caller keeps the bytes of the request being
 * parsed in one contiguous buffer, appends whatever arrives, and calls
 * http_parse() again with the whole buffer; the parser remembers where it
 * stopped and never rescans a completed line.
 *
 * The rules are micro_http's (see docs/http.md): methods GET/PUT/PATCH/DELETE,
 * versions HTTP/1.0 and HTTP/1.1 exactly, CRLF line ends only, no line longer
 * than micro_http's 1024-byte read buffer allows, a handful of known headers,
 * body by Content-Length only (chunked bodies are never decoded), and the
 * payload limit checked after the headers and before the body. Errors carry
 * upstream's exact text.
 *
 * The serializer writes micro_http's responses: `HTTP/1.1 {code} \r\n`, then
 * Server, Connection, Allow, Deprecation, custom headers, and Content-Type +
 * Content-Length only when the response has a body or is not a 204/100.
 */
#ifndef SQUIB_API_HTTP_H
#define SQUIB_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* micro_http's read buffer: every line must end within this many bytes. */
#define HTTP_LINE_BUF 1024
/*
 * Bound on the bytes of a request head (request line + headers) held at
 * once. micro_http streams its headers and has no such bound; squib keeps the
 * head for zero-copy views, so it needs one (docs/http.md, "Deviations").
 */
#define HTTP_MAX_HEAD_LEN (64 * 1024)
/* Firecracker's default --http-api-max-payload-size. */
#define HTTP_DEFAULT_MAX_PAYLOAD 51200

enum http_method {
    HTTP_GET,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
};

enum http_version {
    HTTP_1_0,
    HTTP_1_1,
};

/* Media types micro_http recognises (Accept header, response Content-Type). */
enum http_media {
    HTTP_MEDIA_PLAIN, /* "text/plain" */
    HTTP_MEDIA_JSON,  /* "application/json" */
};

/*
 * A parsed request. Every pointer is a view into the buffer given to
 * http_parse() and stays valid until that buffer is modified or freed.
 */
struct http_request {
    enum http_method method;
    enum http_version version;
    const char *uri; /* verbatim, non-empty, valid UTF-8 (not NUL-terminated) */
    size_t uri_len;
    /* The header lines, each ending in CRLF, without the blank line; walk
     * them with http_header_next(). Empty (head_len 0) if there are none. */
    const char *head;
    size_t head_len;
    uint32_t content_length; /* last Content-Length seen; 0 if none */
    bool expect_continue;    /* "Expect: 100-continue" was sent */
    bool chunked;            /* "Transfer-Encoding: chunked" (never decoded) */
    enum http_media accept;  /* default HTTP_MEDIA_PLAIN, as upstream */
    const char *body;        /* NULL when content_length == 0 */
    size_t body_len;         /* == content_length */
};

/* Where an incremental parse stopped (private to http.c; embed, don't touch).
 */
enum http_parse_state {
    HTTP_STATE_REQUEST_LINE,
    HTTP_STATE_HEADERS,
    HTTP_STATE_BODY,
};

struct http_parser {
    size_t max_payload; /* Content-Length limit, set by http_parser_init() */
    enum http_parse_state state;
    size_t pos;              /* offset of the first byte not yet parsed */
    size_t uri_off;          /* offset of the URI in the request line */
    size_t head_start;       /* offset of the first header line */
    size_t head_end;         /* offset of the blank line ending the head */
    struct http_request req; /* fields filled so far; views set at the end */
};

/*
 * A parse error: upstream's message, which may hold any byte (a header line
 * quoted in it can contain NUL), hence the explicit length. Large enough for
 * the longest message micro_http can produce (a 1024-byte line quoted with
 * every byte replaced by U+FFFD).
 */
#define HTTP_ERR_MAX 4096
struct http_error {
    size_t len;
    char msg[HTTP_ERR_MAX]; /* len bytes, then a NUL */
};

/* Results of http_parse(). */
enum http_parse_result {
    HTTP_PARSE_ERROR = -1,   /* `err` holds upstream's message */
    HTTP_PARSE_AGAIN = 0,    /* need more bytes */
    HTTP_PARSE_DONE = 1,     /* `*req` is complete */
    HTTP_PARSE_CONTINUE = 2, /* headers done, client expects 100-continue */
};

/* Prepare a parser for a new connection. `max_payload` is the largest
 * Content-Length accepted. */
void http_parser_init(struct http_parser *p, size_t max_payload);

/* Forget any partial request (after an error, or to reuse the parser). */
void http_parser_reset(struct http_parser *p);

/*
 * Parse the request that starts at buf[0]. `len` bytes are valid; between
 * calls the caller may only append bytes (the buffer may move, the prefix must
 * stay the same).
 *
 * Returns:
 *  - HTTP_PARSE_DONE: `*req` is filled (views into buf) and `*consumed` is the
 *    request's length; bytes after it belong to the next request. The parser
 *    is reset, ready for the next request at buf[*consumed] (which the caller
 *    moves to offset 0 before the next call).
 *  - HTTP_PARSE_CONTINUE: the headers are complete, the request carries
 *    "Expect: 100-continue" and a body within the limit. The caller queues the
 *    interim response (http_write_continue() with http_parser_version()) and
 *    calls again. Returned once per request, even if the body is already here.
 *  - HTTP_PARSE_AGAIN: more bytes are needed.
 *  - HTTP_PARSE_ERROR: `err` holds the message (for http_write_parse_error());
 *    the parser must be reset before it is used again.
 * `req` and `consumed` are only written on HTTP_PARSE_DONE.
 */
enum http_parse_result http_parse(struct http_parser *p, const char *buf,
                                  size_t len, struct http_request *req,
                                  size_t *consumed, struct http_error *err);

/* The version of the request being parsed (valid after its request line). */
enum http_version http_parser_version(const struct http_parser *p);

/* One header line, as http_header_next() returns it. */
struct http_header {
    const char *name; /* trimmed as micro_http trims (Unicode whitespace) */
    size_t name_len;
    const char *value; /* trimmed */
    size_t value_len;
    bool is_custom; /* not one of the headers micro_http interprets; such
                       headers are what upstream keeps as "custom entries" */
};

/*
 * Walk the header lines of a parsed request. `*iter` starts at 0. Returns
 * true and fills `*h` (views into the request's buffer) for the next line,
 * false at the end.
 */
bool http_header_next(const struct http_request *req, size_t *iter,
                      struct http_header *h);

/*
 * Find a custom header by exact (case-sensitive) name, as upstream's
 * custom-entries map does; on duplicates the last one wins. Returns true and
 * sets the value view, or false.
 */
bool http_request_custom_header(const struct http_request *req,
                                const char *name, const char **value,
                                size_t *value_len);

/* "GET", "PUT", "PATCH", "DELETE". */
const char *http_method_str(enum http_method m);

/* A response to serialize; api_server_respond() takes the same struct. */
struct http_response {
    int status;               /* 200, 204, 400, 413, 500, 504 ... */
    bool deprecation;         /* adds "Deprecation: true" */
    const char *content_type; /* NULL = "application/json" */
    const char
        *extra_headers; /* NULL or preformatted "Name: value\r\n" lines */
    const char *allow;  /* NULL or value for an "Allow:" header */
    const char *body;   /* NULL = no body */
    size_t body_len;
};

/*
 * Append the serialized response to `out`. Content-Type and Content-Length
 * are written when resp->body is set, or when the status is neither 204 nor
 * 100 (then Content-Length: 0), as micro_http does.
 */
void http_write_response(struct buf *out, const struct http_response *resp);

/* Append the interim "HTTP/1.x 100 " response (the request's version). */
void http_write_continue(struct buf *out, enum http_version v);

/*
 * Append micro_http's 400 for a parse error with message `msg`:
 * body `{ "error": "<msg>\nAll previous unanswered requests will be dropped."
 * }` with a raw newline.
 */
void http_write_parse_error(struct buf *out, const struct http_error *err);

/* The exact bytes sent to a connection refused because the server is full. */
extern const char http_server_full_response[];
extern const size_t http_server_full_response_len;

#endif

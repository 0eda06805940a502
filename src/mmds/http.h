/*
 * http.h: the guest-facing MMDS HTTP handler (digest 8.3), one request in,
 * one response out, as upstream's dumbo endpoint (parse_request_bytes) and
 * mmds/mod.rs (convert_to_response) produce it.
 *
 * The TCP layer frames a request (bytes up to the first blank line, digest
 * 8.2) and hands the whole of it here. Parsing follows micro_http's
 * Request::try_from for a complete buffer, not the API socket's streaming
 * parser: CRLF line ends, request line at least 14 bytes, GET/PUT/PATCH/
 * DELETE, HTTP/1.0 or HTTP/1.1, headers as micro_http reads them, a body
 * only when Content-Length says exactly how long it is (never on GET or
 * DELETE).
 *
 * Responses are micro_http's: `HTTP/1.x {code} \r\n`, `Server: Firecracker
 * API`, `Connection: keep-alive`, `Allow:` on a 405, the token's TTL header
 * on a token PUT, then Content-Type and Content-Length and the body. A
 * request that fails parsing gets an HTTP/1.1 response with the default
 * Content-Type application/json (the body is plain text all the same);
 * anything the MMDS handler answers echoes the request's version.
 *
 * Deliberate choice where upstream is random: upstream looks token headers
 * up in a HashMap, so with both spellings (or two case variants) present it
 * takes whichever the hash order gives. squib takes the spelling seen first,
 * with the value of the last line of exactly that spelling (HashMap insert
 * semantics).
 */
#ifndef SQUIB_MMDS_HTTP_H
#define SQUIB_MMDS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "mmds/store.h"
#include "mmds/token.h"
#include "util/buf.h"

/*
 * Answer the `len` bytes at `req` (one request; borrowed, any bytes) from
 * store `s`, with tokens checked and issued by `t` (the AAD comes from the
 * store's instance id) at monotonic time `now_ms`. Appends the response
 * bytes to `resp`; every input gets a response. Token PUTs change `t` (the
 * key's use count) and GETs its counters; the store is only read.
 */
void mmds_http_respond(struct mmds_store *s, struct mmds_tokens *t,
                       const uint8_t *req, size_t len, uint64_t now_ms,
                       struct buf *resp);

#endif

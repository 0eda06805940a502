/*
 * token.h: the MMDS V2 token authority (upstream's
 * mmds::token::TokenAuthority, digest 8.3).
 *
 * A token is the standard base64 (padded alphabet, 48 characters) of 36
 * bytes: a 12-byte random nonce, the 8-byte AES-256-GCM encryption of the
 * expiry time (monotonic milliseconds, little-endian) and the 16-byte GCM
 * tag. The additional authenticated data is "microvmid={instance id}" once
 * the instance id is known (empty before). The 256-bit key is drawn from
 * getrandom() when the authority is created, so tokens never outlive the
 * process. A token is valid while its expiry is strictly later than "now".
 *
 * Time is the caller's: every function takes `now_ms`, the monotonic clock
 * in milliseconds (util/time.h time_mono_ms()), so tests run a fake clock.
 *
 * The authority also counts what the guest-facing HTTP handler saw (the
 * `mmds` metrics rx_no_token and rx_invalid_token); the caller folds those
 * into its metrics.
 *
 * Not thread-safe: one owner (the vmm thread) uses it.
 */
#ifndef SQUIB_MMDS_TOKEN_H
#define SQUIB_MMDS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upstream's limits (token.rs). */
#define MMDS_TOKEN_TTL_MIN 1u
#define MMDS_TOKEN_TTL_MAX 21600u
/* The only path a token PUT may name. */
#define MMDS_TOKEN_PATH "/latest/api/token"
/* Encoded token length (base64 of 12 + 8 + 16 bytes), without a NUL. */
#define MMDS_TOKEN_LEN 48
/* Tokens longer than this are refused before any decoding. */
#define MMDS_TOKEN_LENGTH_LIMIT 70
#define MMDS_TOKEN_KEY_LEN      32
#define MMDS_TOKEN_IV_LEN       12

struct mmds_tokens;

/*
 * Create an authority with a fresh random key. Returns 0 and *out (owned by
 * the caller, mmds_tokens_free), or a negative errno when getrandom() fails.
 */
int mmds_tokens_new(struct mmds_tokens **out);
/* NULL-safe. The key is wiped. */
void mmds_tokens_free(struct mmds_tokens *t);

/*
 * Issue a token valid for `ttl_s` seconds from `now_ms`, sealed with `aad`
 * (aad_len bytes, borrowed). On success returns 0 and writes
 * MMDS_TOKEN_LEN characters and a NUL to `out`. Returns -EINVAL when ttl_s
 * is outside MMDS_TOKEN_TTL_MIN..MMDS_TOKEN_TTL_MAX (the caller writes
 * upstream's text), or a negative errno when no nonce could be drawn.
 * After 2^32 - 1 tokens under one key the key is replaced (all earlier
 * tokens become invalid), as upstream does.
 */
int mmds_token_generate(struct mmds_tokens *t, const char *aad, size_t aad_len,
                        uint32_t ttl_s, uint64_t now_ms,
                        char out[MMDS_TOKEN_LEN + 1]);

/*
 * True if the `len` bytes at `tok` (borrowed; any bytes) are a token this
 * authority sealed with `aad` whose expiry is later than `now_ms`.
 */
bool mmds_token_is_valid(const struct mmds_tokens *t, const char *aad,
                         size_t aad_len, const char *tok, size_t len,
                         uint64_t now_ms);

/*
 * The sealing step alone, for tests: encode a token for absolute `expiry_ms`
 * with the given nonce. Does not count towards the re-key limit.
 */
void mmds_token_seal(const struct mmds_tokens *t, const char *aad,
                     size_t aad_len, const uint8_t iv[MMDS_TOKEN_IV_LEN],
                     uint64_t expiry_ms, char out[MMDS_TOKEN_LEN + 1]);

/* Tests: an authority with a chosen key (copied) and token count. */
struct mmds_tokens *
mmds_tokens_new_with_key(const uint8_t key[MMDS_TOKEN_KEY_LEN],
                         uint32_t n_encrypted);
/* Tokens issued under the current key. */
uint32_t mmds_tokens_count(const struct mmds_tokens *t);

/* The counters the HTTP handler keeps (upstream's mmds metrics). */
struct mmds_token_stats {
    uint64_t rx_no_token;      /* GET without a token header */
    uint64_t rx_invalid_token; /* GET with a token that did not verify */
};
/* The counters (borrowed; the caller may read and reset them). */
struct mmds_token_stats *mmds_tokens_stats(struct mmds_tokens *t);

#endif

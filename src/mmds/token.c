/*
 * token.c: the MMDS token authority (see token.h), following upstream's
 * token.rs: seal the expiry with AES-256-GCM (nettle's gcm_aes256), encode
 * nonce || ciphertext || tag in standard base64.
 *
 * Decoding: upstream decodes with base64's STANDARD engine (padding
 * required, canonical) and then insists on exactly 36 bytes. 36 is a
 * multiple of 3, so the only inputs that get that far are exactly 48
 * characters of the base64 alphabet without '='; checking that is the
 * same as decoding and checking the length.
 */
#include "mmds/token.h"

#include <errno.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/le.h"
#include "util/xalloc.h"

#define PAYLOAD_LEN 8
#define TAG_LEN     16
#define RAW_LEN     (MMDS_TOKEN_IV_LEN + PAYLOAD_LEN + TAG_LEN)

struct mmds_tokens {
    struct gcm_aes256_ctx gcm; /* key schedule and hash subkey */
    uint32_t n_encrypted;      /* tokens sealed under the current key */
    struct mmds_token_stats stats;
};

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int fill_random(void *p, size_t n)
{
    uint8_t *b = p;

    while (n > 0) {
        ssize_t r = getrandom(b, n, 0);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void set_key(struct mmds_tokens *t, const uint8_t *key)
{
    gcm_aes256_set_key(&t->gcm, key);
}

static int rekey(struct mmds_tokens *t)
{
    uint8_t key[MMDS_TOKEN_KEY_LEN];
    int rc = fill_random(key, sizeof(key));

    if (rc == 0)
        set_key(t, key);
    explicit_bzero(key, sizeof(key));
    return rc;
}

int mmds_tokens_new(struct mmds_tokens **out)
{
    struct mmds_tokens *t = xcalloc(1, sizeof(*t));
    int rc = rekey(t);

    if (rc < 0) {
        mmds_tokens_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

struct mmds_tokens *
mmds_tokens_new_with_key(const uint8_t key[MMDS_TOKEN_KEY_LEN],
                         uint32_t n_encrypted)
{
    struct mmds_tokens *t = xcalloc(1, sizeof(*t));

    set_key(t, key);
    t->n_encrypted = n_encrypted;
    return t;
}

void mmds_tokens_free(struct mmds_tokens *t)
{
    if (!t)
        return;
    explicit_bzero(t, sizeof(*t));
    free(t);
}

uint32_t mmds_tokens_count(const struct mmds_tokens *t)
{
    return t->n_encrypted;
}

struct mmds_token_stats *mmds_tokens_stats(struct mmds_tokens *t)
{
    return &t->stats;
}

static void b64_encode(const uint8_t raw[RAW_LEN], char *out)
{
    for (size_t i = 0, o = 0; i < RAW_LEN; i += 3, o += 4) {
        uint32_t v =
            (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

        out[o] = b64[v >> 18];
        out[o + 1] = b64[(v >> 12) & 63];
        out[o + 2] = b64[(v >> 6) & 63];
        out[o + 3] = b64[v & 63];
    }
    out[MMDS_TOKEN_LEN] = '\0';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool b64_decode(const char *s, size_t n, uint8_t raw[RAW_LEN])
{
    if (n != MMDS_TOKEN_LEN)
        return false;
    for (size_t i = 0, o = 0; i < n; i += 4, o += 3) {
        uint32_t v = 0;

        for (size_t k = 0; k < 4; k++) {
            int d = b64_value((unsigned char)s[i + k]);

            if (d < 0)
                return false;
            v = v << 6 | (uint32_t)d;
        }
        raw[o] = (uint8_t)(v >> 16);
        raw[o + 1] = (uint8_t)(v >> 8);
        raw[o + 2] = (uint8_t)v;
    }
    return true;
}

void mmds_token_seal(const struct mmds_tokens *t, const char *aad,
                     size_t aad_len, const uint8_t iv[MMDS_TOKEN_IV_LEN],
                     uint64_t expiry_ms, char out[MMDS_TOKEN_LEN + 1])
{
    struct gcm_aes256_ctx ctx = t->gcm;
    uint8_t plain[PAYLOAD_LEN], raw[RAW_LEN];

    le_put64(plain, expiry_ms);
    memcpy(raw, iv, MMDS_TOKEN_IV_LEN);
    gcm_aes256_set_iv(&ctx, MMDS_TOKEN_IV_LEN, iv);
    gcm_aes256_update(&ctx, aad_len, (const uint8_t *)aad);
    gcm_aes256_encrypt(&ctx, PAYLOAD_LEN, raw + MMDS_TOKEN_IV_LEN, plain);
    gcm_aes256_digest(&ctx, TAG_LEN, raw + MMDS_TOKEN_IV_LEN + PAYLOAD_LEN);
    b64_encode(raw, out);
    explicit_bzero(&ctx, sizeof(ctx));
}

int mmds_token_generate(struct mmds_tokens *t, const char *aad, size_t aad_len,
                        uint32_t ttl_s, uint64_t now_ms,
                        char out[MMDS_TOKEN_LEN + 1])
{
    uint8_t iv[MMDS_TOKEN_IV_LEN];
    int rc;

    /* Upstream checks the key's use count before the TTL. */
    if (t->n_encrypted == UINT32_MAX) {
        rc = rekey(t);
        if (rc < 0)
            return rc;
        t->n_encrypted = 0;
    }
    if (ttl_s < MMDS_TOKEN_TTL_MIN || ttl_s > MMDS_TOKEN_TTL_MAX)
        return -EINVAL;
    rc = fill_random(iv, sizeof(iv));
    if (rc < 0)
        return rc;
    mmds_token_seal(t, aad, aad_len, iv, now_ms + (uint64_t)ttl_s * 1000, out);
    t->n_encrypted++;
    return 0;
}

bool mmds_token_is_valid(const struct mmds_tokens *t, const char *aad,
                         size_t aad_len, const char *tok, size_t len,
                         uint64_t now_ms)
{
    struct gcm_aes256_ctx ctx;
    uint8_t raw[RAW_LEN], plain[PAYLOAD_LEN], tag[TAG_LEN];
    bool ok;

    if (len > MMDS_TOKEN_LENGTH_LIMIT || !b64_decode(tok, len, raw))
        return false;
    ctx = t->gcm;
    gcm_aes256_set_iv(&ctx, MMDS_TOKEN_IV_LEN, raw);
    gcm_aes256_update(&ctx, aad_len, (const uint8_t *)aad);
    gcm_aes256_decrypt(&ctx, PAYLOAD_LEN, plain, raw + MMDS_TOKEN_IV_LEN);
    gcm_aes256_digest(&ctx, TAG_LEN, tag);
    ok = memeql_sec(tag, raw + MMDS_TOKEN_IV_LEN + PAYLOAD_LEN, TAG_LEN);
    explicit_bzero(&ctx, sizeof(ctx));
    return ok && get_le64(plain) > now_ms;
}

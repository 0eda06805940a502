/*
 * test_mmds_token.c: the MMDS token authority (digest 8.3): the sealed
 * token format against an independent AES-256-GCM implementation, TTL
 * limits, expiry on a fake clock, AAD binding, tampering, length and
 * alphabet checks, the per-key token count.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/token.h"

#define AAD "microvmid=vm-1"

static const uint8_t key_seq[MMDS_TOKEN_KEY_LEN] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t iv_seq[MMDS_TOKEN_IV_LEN] = {100, 101, 102, 103, 104, 105,
                                                  106, 107, 108, 109, 110, 111};

static bool valid(const struct mmds_tokens *t, const char *aad, const char *tok,
                  uint64_t now)
{
    return mmds_token_is_valid(t, aad, strlen(aad), tok, strlen(tok), now);
}

/* Known answers computed with OpenSSL's AES-256-GCM (key 00..1f, nonce
 * 64..6f, expiry 123456789 little-endian, AAD "microvmid=vm-1"). */
static void test_known_answer(void **state)
{
    struct mmds_tokens *t = mmds_tokens_new_with_key(key_seq, 0);
    static const uint8_t zero_key[MMDS_TOKEN_KEY_LEN];
    static const uint8_t zero_iv[MMDS_TOKEN_IV_LEN];
    struct mmds_tokens *z = mmds_tokens_new_with_key(zero_key, 0);
    char tok[MMDS_TOKEN_LEN + 1];

    (void)state;
    mmds_token_seal(t, AAD, strlen(AAD), iv_seq, 123456789, tok);
    assert_string_equal(tok,
                        "ZGVmZ2hpamtsbW5vXdaFYXnpVp7VMXWhd2JTQqxjStzTSgtN");
    assert_true(valid(t, AAD, tok, 123456788));
    assert_false(valid(t, AAD, tok, 123456789));
    /* All-zero key, nonce and payload, no AAD: nonce, then
     * cea7403d4d606b6e, then tag 66506720438ab63e341cb8e09a91d263. */
    mmds_token_seal(z, "", 0, zero_iv, 0, tok);
    assert_string_equal(tok,
                        "AAAAAAAAAAAAAAAAzqdAPU1ga25mUGcgQ4q2PjQcuOCakdJj");
    mmds_tokens_free(t);
    mmds_tokens_free(z);
}

static void test_generate_and_expire(void **state)
{
    struct mmds_tokens *t = NULL;
    char tok[MMDS_TOKEN_LEN + 1];
    const uint64_t now = 5000;

    (void)state;
    assert_int_equal(mmds_tokens_new(&t), 0);
    assert_int_equal(mmds_token_generate(t, AAD, strlen(AAD), 60, now, tok), 0);
    assert_int_equal(strlen(tok), MMDS_TOKEN_LEN);
    assert_int_equal(mmds_tokens_count(t), 1);
    assert_true(valid(t, AAD, tok, now));
    assert_true(valid(t, AAD, tok, now + 60 * 1000 - 1));
    /* Valid while expiry > now: gone at exactly now + ttl. */
    assert_false(valid(t, AAD, tok, now + 60 * 1000));
    assert_false(valid(t, AAD, tok, UINT64_MAX));
    /* Bound to the AAD. */
    assert_false(valid(t, "microvmid=vm-2", tok, now));
    assert_false(valid(t, "", tok, now));
    mmds_tokens_free(t);
}

static void test_ttl_limits(void **state)
{
    struct mmds_tokens *t = NULL;
    char tok[MMDS_TOKEN_LEN + 1];

    (void)state;
    assert_int_equal(mmds_tokens_new(&t), 0);
    assert_int_equal(mmds_token_generate(t, "", 0, 0, 0, tok), -EINVAL);
    assert_int_equal(mmds_token_generate(t, "", 0, 21601, 0, tok), -EINVAL);
    assert_int_equal(mmds_token_generate(t, "", 0, UINT32_MAX, 0, tok),
                     -EINVAL);
    assert_int_equal(mmds_tokens_count(t), 0);
    assert_int_equal(mmds_token_generate(t, "", 0, 1, 0, tok), 0);
    assert_true(valid(t, "", tok, 999));
    assert_false(valid(t, "", tok, 1000));
    assert_int_equal(mmds_token_generate(t, "", 0, 21600, 0, tok), 0);
    assert_true(valid(t, "", tok, 21600 * 1000ull - 1));
    assert_false(valid(t, "", tok, 21600 * 1000ull));
    assert_int_equal(mmds_tokens_count(t), 2);
    mmds_tokens_free(t);
}

/* Each token gets its own nonce; each authority its own key. */
static void test_random_nonce_and_key(void **state)
{
    struct mmds_tokens *a = NULL, *b = NULL;
    char t1[MMDS_TOKEN_LEN + 1], t2[MMDS_TOKEN_LEN + 1];

    (void)state;
    assert_int_equal(mmds_tokens_new(&a), 0);
    assert_int_equal(mmds_tokens_new(&b), 0);
    assert_int_equal(mmds_token_generate(a, "", 0, 10, 0, t1), 0);
    assert_int_equal(mmds_token_generate(a, "", 0, 10, 0, t2), 0);
    assert_string_not_equal(t1, t2);
    assert_true(valid(a, "", t1, 0));
    assert_true(valid(a, "", t2, 0));
    assert_false(valid(b, "", t1, 0));
    mmds_tokens_free(a);
    mmds_tokens_free(b);
}

static void test_tampered_and_malformed(void **state)
{
    struct mmds_tokens *t = mmds_tokens_new_with_key(key_seq, 0);
    char tok[MMDS_TOKEN_LEN + 1], bad[128];

    (void)state;
    mmds_token_seal(t, AAD, strlen(AAD), iv_seq, 123456789, tok);
    /* Any changed character changes the sealed bytes. */
    for (size_t i = 0; i < MMDS_TOKEN_LEN; i++) {
        memcpy(bad, tok, sizeof(tok));
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        assert_false(valid(t, AAD, bad, 0));
    }
    /* Wrong length: one short, one long, padded, past the length limit. */
    memcpy(bad, tok, sizeof(tok));
    bad[MMDS_TOKEN_LEN - 1] = '\0';
    assert_false(valid(t, AAD, bad, 0));
    memcpy(bad, tok, MMDS_TOKEN_LEN);
    memcpy(bad + MMDS_TOKEN_LEN, "AAAA", 5);
    assert_false(valid(t, AAD, bad, 0));
    memcpy(bad, tok, MMDS_TOKEN_LEN);
    memcpy(bad + MMDS_TOKEN_LEN - 2, "==", 3);
    assert_false(valid(t, AAD, bad, 0));
    memset(bad, 'A', 71);
    bad[71] = '\0';
    assert_false(valid(t, AAD, bad, 0));
    /* URL-safe alphabet and NUL bytes are not base64 STANDARD. */
    memcpy(bad, tok, sizeof(tok));
    bad[5] = '-';
    assert_false(valid(t, AAD, bad, 0));
    memcpy(bad, tok, sizeof(tok));
    bad[7] = '\0';
    assert_false(
        mmds_token_is_valid(t, AAD, strlen(AAD), bad, MMDS_TOKEN_LEN, 0));
    assert_false(mmds_token_is_valid(t, AAD, strlen(AAD), "", 0, 0));
    mmds_tokens_free(t);
}

/* After 2^32 - 1 tokens the key changes and older tokens die. */
static void test_rekey(void **state)
{
    struct mmds_tokens *t = mmds_tokens_new_with_key(key_seq, UINT32_MAX - 1);
    char old[MMDS_TOKEN_LEN + 1], tok[MMDS_TOKEN_LEN + 1];

    (void)state;
    assert_int_equal(mmds_token_generate(t, "", 0, 10, 0, old), 0);
    assert_int_equal(mmds_tokens_count(t), UINT32_MAX);
    assert_true(valid(t, "", old, 0));
    /* A refused TTL still re-keys first, as upstream orders the checks. */
    assert_int_equal(mmds_token_generate(t, "", 0, 0, 0, tok), -EINVAL);
    assert_int_equal(mmds_tokens_count(t), 0);
    assert_false(valid(t, "", old, 0));
    assert_int_equal(mmds_token_generate(t, "", 0, 10, 0, tok), 0);
    assert_true(valid(t, "", tok, 0));
    assert_int_equal(mmds_tokens_count(t), 1);
    mmds_tokens_free(t);
}

static void test_free_null(void **state)
{
    (void)state;
    mmds_tokens_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_generate_and_expire),
        cmocka_unit_test(test_ttl_limits),
        cmocka_unit_test(test_random_nonce_and_key),
        cmocka_unit_test(test_tampered_and_malformed),
        cmocka_unit_test(test_rekey),
        cmocka_unit_test(test_free_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

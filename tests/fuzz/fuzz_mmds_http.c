/*
 * fuzz_mmds_http.c: libFuzzer harness for the guest-facing MMDS HTTP
 * handler (mmds/http.c, mmds/token.c). Built and run by `make fuzz`
 * (mk/fuzz.mk).
 *
 * The first input byte picks the configuration: bit 0 MMDS V2, bit 1
 * imds_compat, bit 2 an instance id (token AAD), bits 3..7 the clock in
 * seconds. The rest is one request, copied into a buffer of exactly its
 * size (any over-read hits ASan's redzone). A valid token issued at time 0
 * replaces the first "@@" in it, so the fuzzer reaches the paths behind the
 * token check. Every response must be a whole micro_http response: status
 * line, headers, a blank line and exactly Content-Length bytes of body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/http.h"

static const char data[] =
    "{\"a\":{\"b\":\"c\",\"d\":[1,\"e\",{\"f\":null}]},\"g\":\"h\",\"i\":true,"
    "\"j\":{},\"k~/\":\"l\"}";

static const uint8_t key[MMDS_TOKEN_KEY_LEN] = {1, 2, 3};

static void check(const struct buf *out)
{
    const char *end, *cl;
    size_t body;

    if (out->len < 9 || memcmp(out->data, "HTTP/1.", 7) != 0)
        abort();
    end = strstr(out->data, "\r\n\r\n");
    cl = strstr(out->data, "\r\nContent-Length: ");
    if (!end || !cl || cl > end)
        abort();
    body = out->len - (size_t)(end + 4 - out->data);
    if (strtoull(cl + 18, NULL, 10) != body)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    struct mmds_store *s;
    struct mmds_tokens *t;
    struct json_value *v = NULL;
    struct sq_err err;
    struct buf req = BUF_INIT, out = BUF_INIT;
    char tok[MMDS_TOKEN_LEN + 1];
    const uint8_t *mark = NULL;
    uint8_t cfg, *copy;
    uint64_t now;

    if (len < 1)
        return 0;
    cfg = in[0];
    in++;
    len--;
    now = (uint64_t)(cfg >> 3) * 1000;

    s = mmds_store_new(51200);
    if (json_parse(data, sizeof(data) - 1, &v, &err) < 0 ||
        mmds_store_put(s, v, &err) < 0)
        abort();
    mmds_store_set_version(s, (cfg & 1) ? MMDS_VERSION_V2 : MMDS_VERSION_V1);
    mmds_store_set_imds_compat(s, (cfg & 2) != 0);
    if (cfg & 4)
        mmds_store_set_aad(s, "fuzz-vm");
    t = mmds_tokens_new_with_key(key, 0);
    if (mmds_token_generate(t, (cfg & 4) ? "microvmid=fuzz-vm" : "",
                            (cfg & 4) ? 17 : 0, 10, 0, tok) < 0)
        abort();

    for (size_t i = 0; i + 1 < len; i++) {
        if (in[i] == '@' && in[i + 1] == '@') {
            mark = in + i;
            break;
        }
    }
    if (mark) {
        buf_append(&req, in, (size_t)(mark - in));
        buf_append(&req, tok, MMDS_TOKEN_LEN);
        buf_append(&req, mark + 2, len - (size_t)(mark - in) - 2);
    } else {
        buf_append(&req, in, len);
    }
    copy = malloc(req.len ? req.len : 1);
    if (!copy)
        abort();
    memcpy(copy, req.data, req.len);

    mmds_http_respond(s, t, copy, req.len, now, &out);
    check(&out);

    free(copy);
    buf_fini(&req);
    buf_fini(&out);
    mmds_tokens_free(t);
    mmds_store_free(s);
    return 0;
}

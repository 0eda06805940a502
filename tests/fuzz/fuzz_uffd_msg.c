/*
 * fuzz_uffd_msg.c: libFuzzer harness for the Uffd handshake reader
 * (snapshot/uffd_msg.h), the JSON region list squib-uffd-handler takes
 * from a VMM it does not trust.
 *
 * Each input is fed, as bytes that end where the input ends, to the
 * completeness check on every prefix length a reader could see (up to
 * 512, then the whole), and to the parser. Whatever parses must satisfy
 * the reader's contract (1..64 regions, one power-of-two page size of at
 * least 4 KiB, aligned, non-wrapping, non-overlapping regions) and survive
 * a write/parse round trip unchanged.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/uffd_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_contract(const struct uffd_region_map *m, size_t n)
{
    uint64_t ps = m[0].page_size;

    assert(n >= 1 && n <= UFFD_MSG_MAX_REGIONS);
    assert(ps >= 4096 && (ps & (ps - 1)) == 0);
    for (size_t i = 0; i < n; i++) {
        assert(m[i].page_size == ps);
        assert(m[i].size && m[i].size % ps == 0);
        assert(m[i].base_host_virt_addr % ps == 0);
        assert(m[i].base_host_virt_addr + m[i].size > m[i].base_host_virt_addr);
        assert(m[i].offset + m[i].size > m[i].offset);
        for (size_t j = 0; j < i; j++)
            assert(m[i].base_host_virt_addr >=
                       m[j].base_host_virt_addr + m[j].size ||
                   m[j].base_host_virt_addr >=
                       m[i].base_host_virt_addr + m[i].size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct uffd_region_map m[UFFD_MSG_MAX_REGIONS], again[UFFD_MSG_MAX_REGIONS];
    /* A copy of exactly `size` bytes, so ASan sees any read past it. */
    char *text = malloc(size ? size : 1);
    struct buf b = BUF_INIT;
    struct sq_err err;
    size_t n, n2;

    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    for (size_t len = 0; len <= size && len <= 512; len++)
        (void)uffd_msg_complete(text, len);
    (void)uffd_msg_complete(text, size);
    if (uffd_msg_parse(text, size, m, &n, &err) == 0) {
        check_contract(m, n);
        uffd_msg_write(m, n, &b);
        assert(uffd_msg_complete(b.data, b.len) == 1);
        assert(uffd_msg_parse(b.data, b.len, again, &n2, &err) == 0);
        assert(n2 == n && memcmp(again, m, n * sizeof(m[0])) == 0);
        buf_fini(&b);
    } else {
        assert(n == 0 && err.msg[0]);
    }
    free(text);
    return 0;
}

/*
 * fuzz_cmdline.c: libFuzzer harness for vmm/cmdline.
 *
 * The input (NUL bytes cut it short, as a C string would be) is validated as
 * PUT /boot-source boot_args and composed with a fixed set of additions.
 * Invariants: composition never writes more than CMDLINE_MAX_SIZE bytes,
 * the result is NUL-terminated, every failure carries a message and leaves
 * an empty string, and without " -- " squib's additions come last.
 * Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_cmdline.c src/vmm/cmdline.c src/util/err.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct cmdline_dev devs[] = {{0xc0001000, 5}, {0xc0002000, 6}};
    struct cmdline_extras x = {.root_block = "/dev/vda",
                               .root_pmem_index = -1,
                               .n_virtio = 2,
                               .virtio = devs};
    char *in = malloc(size + 1), *out = malloc(CMDLINE_MAX_SIZE + 1);
    struct sq_err err;
    int v, b;

    if (!in || !out)
        __builtin_trap();
    memcpy(in, data, size);
    in[size] = '\0';
    out[CMDLINE_MAX_SIZE] = 0x7f; /* canary just past the capacity */
    sq_err_clear(&err);
    v = cmdline_validate(in, &err);
    if (v != 0 && err.msg[0] == '\0')
        __builtin_trap();
    sq_err_clear(&err);
    b = cmdline_build(in, &x, out, CMDLINE_MAX_SIZE, &err);
    if (out[CMDLINE_MAX_SIZE] != 0x7f)
        __builtin_trap();
    if (b != 0) {
        if (err.msg[0] == '\0' || out[0] != '\0')
            __builtin_trap();
    } else {
        static const char last[] = "virtio_mmio.device=4K@0xc0002000:6";
        size_t n = strlen(out);

        if (n >= CMDLINE_MAX_SIZE || !strstr(out, last))
            __builtin_trap();
        /* without init args, squib's additions end the command line */
        if (!strstr(in, " -- ") &&
            (n < sizeof(last) - 1 ||
             strcmp(out + n - (sizeof(last) - 1), last) != 0))
            __builtin_trap();
    }
    free(in);
    free(out);
    return 0;
}

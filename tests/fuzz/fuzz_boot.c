/*
 * fuzz_boot.c: libFuzzer harness for the kernel loader (vmm/boot).
 *
 * The input is a kernel image (ELF, PVH ELF or bzImage, or anything else).
 * If it is at least 2 bytes long, its first byte selects how much of the
 * tail (0..255 bytes) is split off and handed over as an initrd. The image
 * goes to boot_load() through a memfd, over 32 MiB of guest RAM followed by
 * a PROT_NONE guard page, so any write outside RAM crashes. Build:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_boot.c src/vmm/boot.c src/util/err.c src/obs/log.c \
 *     src/obs/metrics.c -lpthread
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/boot.h"

#define FUZZ_RAM (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const uint8_t *p, size_t n)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);

    if (fd < 0)
        return -1;
    if (n && write(fd, p, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One RAM mapping for the whole run (libFuzzer calls us in a loop). */
    static uint8_t *ram;
    struct boot_mem mem;
    struct boot_result res;
    struct sq_err err;
    size_t initrd_len = 0;
    int kfd, ifd = -1;

    if (!ram) {
        ram = mmap(NULL, FUZZ_RAM + 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (ram == MAP_FAILED || mprotect(ram + FUZZ_RAM, 4096, PROT_NONE))
            __builtin_trap();
    }
    if (size >= 2) {
        initrd_len = data[0];
        if (initrd_len > size - 1)
            initrd_len = size - 1;
        data++;
        size--;
    }
    kfd = memfd_with(data, size - initrd_len);
    if (kfd < 0)
        return 0;
    if (initrd_len)
        ifd = memfd_with(data + size - initrd_len, initrd_len);
    mem.ram = ram;
    mem.ram_len = FUZZ_RAM;
    mem.mem_size = FUZZ_RAM;
    sq_err_clear(&err);
    if (boot_load(&mem, kfd, ifd, "console=ttyS0", &res, &err) == 0) {
        /* A successful load must describe an entry inside RAM. */
        if (res.proto != BOOT_PROTO_PVH && res.entry < BOOT_HIMEM_START)
            __builtin_trap();
        if (res.has_initrd && res.initrd_addr + res.initrd_size > FUZZ_RAM)
            __builtin_trap();
    } else if (err.msg[0] == '\0') {
        __builtin_trap(); /* every failure carries a message */
    }
    close(kfd);
    if (ifd >= 0)
        close(ifd);
    return 0;
}

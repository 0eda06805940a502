/*
 * aml.c: AML byte-code emitter (see aml.h).
 *
 * Encodings follow the ACPI 6.5 specification, chapter 20 (AML), with the
 * choices Firecracker's acpi-tables crate makes wherever the specification
 * leaves one (integer widths, PkgLength widths), so that squib's DSDT is
 * byte-identical to Firecracker's for the same devices.
 */
#include "vmm/aml.h"

#include <errno.h>
#include <string.h>

static void put8(struct buf *b, uint8_t v)
{
    buf_append(b, &v, 1);
}

static void put_le(struct buf *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];

    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    buf_append(b, tmp, n);
}

/* Insert n bytes at offset `at`, moving the tail up. */
static void insert_at(struct buf *b, size_t at, const uint8_t *p, size_t n)
{
    size_t tail = b->len - at;

    buf_reserve(b, n);
    memmove(b->data + at + n, b->data + at, tail);
    memcpy(b->data + at, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void aml_zero(struct buf *b)
{
    put8(b, 0x00);
}

void aml_one(struct buf *b)
{
    put8(b, 0x01);
}

void aml_byte(struct buf *b, uint8_t v)
{
    put8(b, 0x0a);
    put8(b, v);
}

void aml_word(struct buf *b, uint16_t v)
{
    put8(b, 0x0b);
    put_le(b, v, 2);
}

void aml_dword(struct buf *b, uint32_t v)
{
    put8(b, 0x0c);
    put_le(b, v, 4);
}

void aml_qword(struct buf *b, uint64_t v)
{
    put8(b, 0x0e);
    put_le(b, v, 8);
}

void aml_uint(struct buf *b, uint64_t v)
{
    if (v <= UINT8_MAX)
        aml_byte(b, (uint8_t)v);
    else if (v <= UINT16_MAX)
        aml_word(b, (uint16_t)v);
    else if (v <= UINT32_MAX)
        aml_dword(b, (uint32_t)v);
    else
        aml_qword(b, v);
}

void aml_string(struct buf *b, const char *s)
{
    put8(b, 0x0d);
    buf_append(b, s, strlen(s));
    put8(b, 0x00);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int aml_eisa_id(struct buf *b, const char *id)
{
    uint32_t v = 0;

    if (strlen(id) != 7)
        return -EINVAL;
    /* Three letters in 5 bits each (A = 1), then four hex digits; the
     * whole value is stored big-endian, i.e. byte-swapped. */
    for (int i = 0; i < 3; i++) {
        if (id[i] < 'A' || id[i] > 'Z')
            return -EINVAL;
        v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
    }
    for (int i = 3; i < 7; i++) {
        int h = hexval(id[i]);
        if (h < 0)
            return -EINVAL;
        v |= (uint32_t)h << (4 * (6 - i));
    }
    aml_dword(b, __builtin_bswap32(v));
    return 0;
}

int aml_path(struct buf *b, const char *path)
{
    const char *p = path;
    size_t n_seg, len;
    int root = 0;

    if (*p == '\\') {
        root = 1;
        p++;
    }
    len = strlen(p);
    /* Segments are exactly 4 characters separated by single dots. */
    if (len == 0 || (len + 1) % 5 != 0)
        return -EINVAL;
    n_seg = (len + 1) / 5;
    if (n_seg > 255)
        return -EINVAL;
    for (size_t i = 0; i < n_seg; i++) {
        const char *s = p + 5 * i;
        for (int j = 0; j < 4; j++)
            if (s[j] == '.' || s[j] == '\0')
                return -EINVAL;
        if (i + 1 < n_seg && s[4] != '.')
            return -EINVAL;
    }
    if (root)
        put8(b, '\\');
    if (n_seg == 2) {
        put8(b, 0x2e);
    } else if (n_seg > 2) {
        put8(b, 0x2f);
        put8(b, (uint8_t)n_seg);
    }
    for (size_t i = 0; i < n_seg; i++)
        buf_append(b, p + 5 * i, 4);
    return 0;
}

int aml_name(struct buf *b, const char *path)
{
    size_t at = b->len;
    int rc;

    put8(b, 0x08);
    rc = aml_path(b, path);
    if (rc)
        b->len = at;
    return rc;
}

int aml_name_string(struct buf *b, const char *path, const char *s)
{
    int rc = aml_name(b, path);

    if (rc)
        return rc;
    aml_string(b, s);
    return 0;
}

int aml_arg(struct buf *b, unsigned n)
{
    if (n > 6)
        return -EINVAL;
    put8(b, (uint8_t)(0x68 + n));
    return 0;
}

int aml_local(struct buf *b, unsigned n)
{
    if (n > 7)
        return -EINVAL;
    put8(b, (uint8_t)(0x60 + n));
    return 0;
}

size_t aml_pkg_length(size_t body_len, int include_self, uint8_t out[4])
{
    size_t nbytes, v;

    /* Firecracker picks the width from the body length alone, before
     * adding the PkgLength bytes themselves; keep that exact rule. */
    if (body_len < (1u << 6) - 1)
        nbytes = 1;
    else if (body_len < (1u << 12) - 2)
        nbytes = 2;
    else if (body_len < (1u << 20) - 3)
        nbytes = 3;
    else
        nbytes = 4;
    v = body_len + (include_self ? nbytes : 0);
    if (nbytes == 1) {
        out[0] = (uint8_t)v;
        return 1;
    }
    out[0] = (uint8_t)(((nbytes - 1) << 6) | (v & 0xf));
    for (size_t i = 1; i < nbytes; i++)
        out[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
    return nbytes;
}

/* Close a PkgLength-framed term whose body started at `mark`. */
static void close_pkg(struct buf *b, size_t mark)
{
    uint8_t pl[4];
    size_t n = aml_pkg_length(b->len - mark, 1, pl);

    insert_at(b, mark, pl, n);
}

static int open_named(struct buf *b, const uint8_t *op, size_t op_len,
                      const char *path, size_t *mark)
{
    size_t at = b->len;
    int rc;

    buf_append(b, op, op_len);
    *mark = b->len;
    rc = aml_path(b, path);
    if (rc)
        b->len = at;
    return rc;
}

int aml_device_begin(struct buf *b, const char *path, size_t *mark)
{
    static const uint8_t op[] = {0x5b, 0x82};

    return open_named(b, op, sizeof(op), path, mark);
}

void aml_device_end(struct buf *b, size_t mark)
{
    close_pkg(b, mark);
}

int aml_scope_begin(struct buf *b, const char *path, size_t *mark)
{
    static const uint8_t op[] = {0x10};

    return open_named(b, op, sizeof(op), path, mark);
}

void aml_scope_end(struct buf *b, size_t mark)
{
    close_pkg(b, mark);
}

int aml_method_begin(struct buf *b, const char *path, unsigned nargs,
                     int serialized, size_t *mark)
{
    static const uint8_t op[] = {0x14};
    int rc = open_named(b, op, sizeof(op), path, mark);

    if (rc)
        return rc;
    put8(b, (uint8_t)((nargs & 7) | (serialized ? 1u << 3 : 0)));
    return 0;
}

void aml_method_end(struct buf *b, size_t mark)
{
    close_pkg(b, mark);
}

size_t aml_if_begin(struct buf *b)
{
    put8(b, 0xa0);
    return b->len;
}

void aml_if_end(struct buf *b, size_t mark)
{
    close_pkg(b, mark);
}

size_t aml_package_begin(struct buf *b)
{
    put8(b, 0x12);
    return b->len;
}

void aml_package_end(struct buf *b, size_t mark, uint8_t n_elements)
{
    insert_at(b, mark, &n_elements, 1);
    close_pkg(b, mark);
}

size_t aml_restemplate_begin(struct buf *b)
{
    put8(b, 0x11);
    return b->len;
}

void aml_restemplate_end(struct buf *b, size_t mark)
{
    struct buf size = BUF_INIT;

    put8(b, 0x79); /* EndTag */
    put8(b, 0x00); /* checksum byte: 0 means "always valid" */
    /* The buffer size covers the descriptors and the end tag. */
    aml_uint(&size, b->len - mark);
    insert_at(b, mark, (const uint8_t *)size.data, size.len);
    buf_fini(&size);
    close_pkg(b, mark);
}

void aml_lequal(struct buf *b)
{
    put8(b, 0x93);
}

void aml_notify(struct buf *b)
{
    put8(b, 0x86);
}

void aml_return(struct buf *b)
{
    put8(b, 0xa4);
}

void aml_store(struct buf *b)
{
    put8(b, 0x70);
}

void aml_and(struct buf *b)
{
    put8(b, 0x7b);
}

int aml_acquire(struct buf *b, const char *mutex, uint16_t timeout)
{
    size_t at = b->len;
    int rc;

    put8(b, 0x5b);
    put8(b, 0x23);
    rc = aml_path(b, mutex);
    if (rc) {
        b->len = at;
        return rc;
    }
    put_le(b, timeout, 2);
    return 0;
}

int aml_release(struct buf *b, const char *mutex)
{
    size_t at = b->len;
    int rc;

    put8(b, 0x5b);
    put8(b, 0x27);
    rc = aml_path(b, mutex);
    if (rc)
        b->len = at;
    return rc;
}

void aml_buffer(struct buf *b, const uint8_t *data, size_t len)
{
    size_t mark;

    put8(b, 0x11);
    mark = b->len;
    aml_uint(b, len);
    buf_append(b, data, len);
    close_pkg(b, mark);
}

/* Word address space descriptor (bus numbers or I/O). */
static void word_space(struct buf *b, uint8_t type, uint8_t type_flags,
                       uint16_t min, uint16_t max)
{
    put8(b, 0x88);
    put_le(b, 3 + 5 * 2, 2);
    put8(b, type);
    put8(b, (1 << 2) | (1 << 3)); /* min fixed, max fixed */
    put8(b, type_flags);
    put_le(b, 0, 2); /* granularity */
    put_le(b, min, 2);
    put_le(b, max, 2);
    put_le(b, 0, 2); /* translation */
    put_le(b, (uint16_t)(max - min + 1), 2);
}

void aml_word_bus_number(struct buf *b, uint16_t min, uint16_t max)
{
    word_space(b, 2, 0, min, max);
}

void aml_word_io(struct buf *b, uint16_t min, uint16_t max)
{
    word_space(b, 1, 3, min, max);
}

void aml_memory32_fixed(struct buf *b, int read_write, uint32_t base,
                        uint32_t len)
{
    put8(b, 0x86);
    put_le(b, 9, 2);
    put8(b, read_write ? 1 : 0);
    put_le(b, base, 4);
    put_le(b, len, 4);
}

void aml_interrupt(struct buf *b, int consumer, int edge, int active_low,
                   int shared, uint32_t irq)
{
    put8(b, 0x89);
    put_le(b, 6, 2);
    put8(b, (uint8_t)((shared ? 8 : 0) | (active_low ? 4 : 0) | (edge ? 2 : 0) |
                      (consumer ? 1 : 0)));
    put8(b, 1);
    put_le(b, irq, 4);
}

void aml_io(struct buf *b, uint16_t min, uint16_t max, uint8_t align,
            uint8_t len)
{
    put8(b, 0x47);
    put8(b, 1); /* 16-bit decode */
    put_le(b, min, 2);
    put_le(b, max, 2);
    put8(b, align);
    put8(b, len);
}

int aml_qword_memory(struct buf *b, unsigned cacheable, int read_write,
                     uint64_t min, uint64_t max)
{
    if (min > max || cacheable > 3)
        return -EINVAL;
    put8(b, 0x8a);
    put_le(b, 3 + 5 * 8, 2);
    put8(b, 0);                   /* resource type: memory */
    put8(b, (1 << 2) | (1 << 3)); /* min fixed, max fixed */
    put8(b, (uint8_t)((cacheable << 1) | (read_write ? 1 : 0)));
    put_le(b, 0, 8); /* granularity */
    put_le(b, min, 8);
    put_le(b, max, 8);
    put_le(b, 0, 8); /* translation */
    put_le(b, max - min + 1, 8);
    return 0;
}

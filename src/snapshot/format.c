/*
 * format.c: the snapshot state file's frame (format.h): header, sections,
 * CRC; reading a file whole; upstream's checks in upstream's order.
 */
#include "snapshot/format.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot/crc64.h"
#include "util/le.h"
#include "util/xalloc.h"

#define ERR_TOO_SHORT "File too short to contain CRC"

/* ---- writing ------------------------------------------------------------ */

void snap_writer_init(struct snap_writer *w)
{
    buf_init(&w->b);
    w->section_at = 0;
    w->in_section = false;
    snap_put_u64(w, SNAP_MAGIC_X86_64);
    snap_put_u32(w, SNAP_VERSION_MAJOR);
    snap_put_u32(w, SNAP_VERSION_MINOR);
    snap_put_u32(w, SNAP_VERSION_PATCH);
}

void snap_writer_fini(struct snap_writer *w)
{
    buf_fini(&w->b);
}

void snap_section_begin(struct snap_writer *w, uint32_t tag)
{
    assert(!w->in_section);
    w->section_at = w->b.len;
    w->in_section = true;
    snap_put_u32(w, tag);
    snap_put_u32(w, 0); /* the length, patched by snap_section_end */
}

void snap_section_end(struct snap_writer *w)
{
    size_t n = w->b.len - w->section_at - SNAP_SECTION_HDR;

    assert(w->in_section && n <= UINT32_MAX);
    le_put32((uint8_t *)w->b.data + w->section_at + 4, (uint32_t)n);
    w->in_section = false;
}

void snap_put_u8(struct snap_writer *w, uint8_t v)
{
    buf_append(&w->b, &v, 1);
}

void snap_put_u16(struct snap_writer *w, uint16_t v)
{
    uint8_t b[2];

    le_put16(b, v);
    buf_append(&w->b, b, sizeof(b));
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
    uint8_t b[4];

    le_put32(b, v);
    buf_append(&w->b, b, sizeof(b));
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
    uint8_t b[8];

    le_put64(b, v);
    buf_append(&w->b, b, sizeof(b));
}

void snap_put_bytes(struct snap_writer *w, const void *p, size_t n)
{
    if (n)
        buf_append(&w->b, p, n);
}

void snap_put_str(struct snap_writer *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    snap_put_u32(w, (uint32_t)n);
    snap_put_bytes(w, s, n);
}

void snap_writer_finish(struct snap_writer *w)
{
    assert(!w->in_section);
    snap_put_u64(w, crc64_jones(0, w->b.data, w->b.len));
}

/* ---- reading a payload -------------------------------------------------- */

/* The next n bytes, or NULL (and bad) when fewer remain. */
static const uint8_t *take(struct snap_reader *r, size_t n)
{
    const uint8_t *p;

    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

uint8_t snap_get_u8(struct snap_reader *r)
{
    const uint8_t *p = take(r, 1);

    return p ? p[0] : 0;
}

uint16_t snap_get_u16(struct snap_reader *r)
{
    const uint8_t *p = take(r, 2);

    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t snap_get_u32(struct snap_reader *r)
{
    const uint8_t *p = take(r, 4);

    return p ? le_get32(p) : 0;
}

uint64_t snap_get_u64(struct snap_reader *r)
{
    const uint8_t *p = take(r, 8);

    return p ? le_get64(p) : 0;
}

void snap_get_bytes(struct snap_reader *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);

    if (!n)
        return;
    if (p)
        memcpy(out, p, n);
    else
        memset(out, 0, n);
}

char *snap_get_str(struct snap_reader *r)
{
    uint32_t n = snap_get_u32(r);
    const uint8_t *p = take(r, n);
    char *s;

    if (!p || memchr(p, '\0', n)) {
        r->bad = true;
        return NULL;
    }
    s = xmalloc((size_t)n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

bool snap_reader_done(const struct snap_reader *r)
{
    return !r->bad && r->off == r->len;
}

/* ---- reading a file ----------------------------------------------------- */

static int size_limit(enum snap_error *kind, struct sq_err *err)
{
    *kind = SNAP_E_SIZE_LIMIT;
    return sq_errf(err, -EFBIG, "Snapshot size exceeds limit of %u bytes",
                   SNAP_MAX_FILE_SIZE);
}

int snap_file_read(const char *path, uint8_t **buf, size_t *len,
                   enum snap_error *kind, struct sq_err *err)
{
    /* One byte more than the limit tells "too large" from "exactly". */
    size_t cap = (size_t)SNAP_MAX_FILE_SIZE + 1, n = 0;
    uint8_t *b;
    char os[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC), e;

    *buf = NULL;
    *len = 0;
    if (fd < 0) {
        e = errno;
        *kind = SNAP_E_OPEN;
        return sq_errf(err, -e, "%s", sq_os_error(e, os, sizeof(os)));
    }
    b = xmalloc(cap);
    while (n < cap) {
        ssize_t r = read(fd, b + n, cap - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            free(b);
            *kind = SNAP_E_IO;
            return sq_errf(err, -e, "IO Error: %s",
                           sq_os_error(e, os, sizeof(os)));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > SNAP_MAX_FILE_SIZE) {
        free(b);
        return size_limit(kind, err);
    }
    *buf = b;
    *len = n;
    *kind = SNAP_E_NONE;
    return 0;
}

/*
 * Decode the header and walk the section framing of the len - 8 bytes
 * before the CRC (upstream: bitcode-decoding the data part).
 */
static int decode(const uint8_t *buf, size_t len, struct snap_file *out,
                  uint64_t *magic, enum snap_error *kind, struct sq_err *err)
{
    size_t data_len, off;

    if (len > SNAP_MAX_FILE_SIZE)
        return size_limit(kind, err);
    if (len < SNAP_CRC_SIZE) {
        *kind = SNAP_E_TOO_SHORT;
        return sq_errf(err, -ENODATA, "IO Error: " ERR_TOO_SHORT);
    }
    data_len = len - SNAP_CRC_SIZE;
    *kind = SNAP_E_DECODE;
    if (data_len < SNAP_HEADER_SIZE)
        return sq_errf(err, -EBADMSG, SNAP_ERR_DECODE "header truncated");
    *magic = le_get64(buf);
    out->version.major = le_get32(buf + 8);
    out->version.minor = le_get32(buf + 12);
    out->version.patch = le_get32(buf + 16);
    for (off = SNAP_HEADER_SIZE; off < data_len;) {
        size_t left = data_len - off;
        uint32_t n;

        if (left < SNAP_SECTION_HDR)
            return sq_errf(err, -EBADMSG,
                           SNAP_ERR_DECODE "section header truncated at "
                                           "offset %zu",
                           off);
        n = le_get32(buf + off + 4);
        if (n > left - SNAP_SECTION_HDR)
            return sq_errf(err, -EBADMSG,
                           SNAP_ERR_DECODE "section at offset %zu longer "
                                           "than the file",
                           off);
        off += SNAP_SECTION_HDR + n;
    }
    out->body = buf + SNAP_HEADER_SIZE;
    out->body_len = data_len - SNAP_HEADER_SIZE;
    *kind = SNAP_E_NONE;
    return 0;
}

int snap_file_version(const uint8_t *buf, size_t len, struct snap_version *out,
                      enum snap_error *kind, struct sq_err *err)
{
    struct snap_file f = {{0, 0, 0}, NULL, 0};
    uint64_t magic = 0;
    int rc = decode(buf, len, &f, &magic, kind, err);

    if (rc == 0)
        *out = f.version;
    return rc;
}

int snap_file_parse(const uint8_t *buf, size_t len, struct snap_file *out,
                    enum snap_error *kind, struct sq_err *err)
{
    struct snap_file f = {{0, 0, 0}, NULL, 0};
    uint64_t magic = 0;
    int rc = decode(buf, len, &f, &magic, kind, err);

    if (rc < 0)
        return rc;
    if (magic != SNAP_MAGIC_X86_64) {
        *kind = SNAP_E_MAGIC;
        return sq_errf(err, -EPROTO,
                       "Magic value does not match arch: %" PRIu64, magic);
    }
    if (f.version.major != SNAP_VERSION_MAJOR ||
        f.version.minor > SNAP_VERSION_MINOR) {
        *kind = SNAP_E_VERSION;
        return sq_errf(err, -EPROTONOSUPPORT, "Invalid data version: %u.%u.%u",
                       f.version.major, f.version.minor, f.version.patch);
    }
    /* The CRC over the data and the stored CRC itself is 0 when they match
     * (upstream checks it last, after decoding). */
    if (crc64_jones(0, buf, len) != 0) {
        *kind = SNAP_E_CRC;
        return sq_errf(err, -EILSEQ, "CRC64 validation failed");
    }
    *out = f;
    return 0;
}

bool snap_next_section(const struct snap_file *f, size_t *off, uint32_t *tag,
                       struct snap_reader *payload)
{
    uint32_t n;

    if (*off + SNAP_SECTION_HDR > f->body_len)
        return false;
    *tag = le_get32(f->body + *off);
    n = le_get32(f->body + *off + 4);
    payload->p = f->body + *off + SNAP_SECTION_HDR;
    payload->len = n;
    payload->off = 0;
    payload->bad = false;
    payload->why = NULL;
    *off += SNAP_SECTION_HDR + n;
    return true;
}

const char *snap_error_debug(enum snap_error kind, const struct sq_err *err,
                             char *out, size_t out_len)
{
    char tmp[SQ_ERR_MSG_MAX];

    switch (kind) {
    case SNAP_E_SIZE_LIMIT:
        snprintf(out, out_len, "SizeLimitExceeded(%u)", SNAP_MAX_FILE_SIZE);
        break;
    case SNAP_E_TOO_SHORT:
        snprintf(out, out_len,
                 "Io(Custom { kind: UnexpectedEof, error: \"" ERR_TOO_SHORT
                 "\" })");
        break;
    case SNAP_E_OPEN:
    case SNAP_E_IO:
        snprintf(out, out_len, "Io(%s)",
                 sq_os_error_debug(err->code, tmp, sizeof(tmp)));
        break;
    case SNAP_E_DECODE: {
        const char *detail = err->msg;

        if (!strncmp(detail, SNAP_ERR_DECODE, strlen(SNAP_ERR_DECODE)))
            detail += strlen(SNAP_ERR_DECODE);
        snprintf(out, out_len, "Bitcode(%s)",
                 sq_rust_debug_str(detail, tmp, sizeof(tmp)));
        break;
    }
    case SNAP_E_MAGIC: {
        /* The decimal magic ends the text. */
        const char *n = strrchr(err->msg, ' ');

        snprintf(out, out_len, "InvalidMagic(%s)", n ? n + 1 : "0");
        break;
    }
    case SNAP_E_VERSION: {
        unsigned maj = 0, min = 0, pat = 0;
        const char *v = strrchr(err->msg, ' ');

        if (!v || sscanf(v + 1, "%u.%u.%u", &maj, &min, &pat) != 3)
            maj = min = pat = 0;
        /* semver's Version Debug form. */
        snprintf(out, out_len,
                 "InvalidFormatVersion(Version { major: %u, minor: %u, "
                 "patch: %u })",
                 maj, min, pat);
        break;
    }
    case SNAP_E_CRC:
        snprintf(out, out_len, "Crc64");
        break;
    case SNAP_E_NONE:
        snprintf(out, out_len, "%s", err->msg);
        break;
    }
    return out;
}

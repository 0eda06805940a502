/*
 * cmdline.c: validation and composition of the guest kernel command line.
 *
 * This follows the observable behaviour of linux-loader's Cmdline (the crate
 * Firecracker uses): a command line is a list of boot args and a list of
 * init args, printed as "boot -- init"; every insertion is trimmed, checked
 * for printable ASCII and for the capacity (2048 bytes including the NUL),
 * and fails with one of the crate's Display texts. The error chains around
 * those texts are Firecracker's StartMicrovmError ones.
 */
#include "vmm/cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define INIT_SEP     " -- "
#define INIT_SEP_LEN 4

#define ERR_TOO_LARGE "Inserting string would make command line too long."
#define ERR_CAPACITY  "Invalid cmdline capacity provided."
#define ERR_ASCII     "String contains a non-printable ASCII character."
#define ERR_ONLY_INIT "Cmdline cannot contain only init args."

/* Upstream's prefixes (builder.rs StartMicrovmError, mmio.rs MmioError). */
#define PFX_CMDLINE "Invalid kernel command line: "
#define PFX_MMIO                                                               \
    "Could not attach device: MMIO transport error: Failed to allocate "       \
    "requested resourc: "

struct cl {
    char boot[CMDLINE_MAX_SIZE];
    size_t boot_len;
    char init[CMDLINE_MAX_SIZE];
    size_t init_len;
};

/*
 * Length in bytes of a whitespace character (Rust char::is_whitespace, i.e.
 * the Unicode White_Space property) starting at s[0..n), or 0 if none.
 */
static size_t ws_len_fwd(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0d)))
        return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
        return 2;
    if (n >= 3) {
        if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
            return 3; /* U+1680 */
        if (s[0] == 0xe2 && s[1] == 0x80 &&
            ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 ||
             s[2] == 0xaf))
            return 3; /* U+2000..200A, 2028, 2029, 202F */
        if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
            return 3; /* U+205F */
        if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
            return 3; /* U+3000 */
    }
    return 0;
}

/* The same, for a whitespace character that ends at s[n). */
static size_t ws_len_back(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        if (ws_len_fwd(s + n - k, k) == k)
            return k;
    }
    return 0;
}

/* Trim the view [*p, *p + *n) like Rust's str::trim. */
static void trim(const char **p, size_t *n)
{
    const unsigned char *s = (const unsigned char *)*p;
    size_t len = *n, k;

    while (len && (k = ws_len_fwd(s, len)) != 0) {
        s += k;
        len -= k;
    }
    while (len && (k = ws_len_back(s, len)) != 0)
        len -= k;
    *p = (const char *)s;
    *n = len;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < ' ' || s[i] > '~')
            return false;
    }
    return true;
}

/* Size of "boot[ -- init]\0". Never overflows: both parts are bounded. */
static size_t cl_size(const struct cl *c)
{
    size_t sz = c->boot_len + 1;

    if (c->init_len)
        sz += INIT_SEP_LEN + c->init_len;
    return sz;
}

/*
 * Split `raw` like Cmdline::try_from: the first non-overlapping " -- " with
 * an even number of '"' before it separates boot args from init args; both
 * are trimmed. Returns the views; *boot_n + 1 (+ 4 + *init_n) is the size.
 */
static void split(const char *raw, const char **boot, size_t *boot_n,
                  const char **init, size_t *init_n)
{
    size_t len = strlen(raw), i = 0, quotes = 0, counted = 0;

    *boot = raw;
    *boot_n = len;
    *init = raw + len;
    *init_n = 0;
    while (i + INIT_SEP_LEN <= len) {
        if (memcmp(raw + i, INIT_SEP, INIT_SEP_LEN) != 0) {
            i++;
            continue;
        }
        for (; counted < i; counted++)
            quotes += raw[counted] == '"';
        if (quotes % 2 == 0) {
            *boot_n = i;
            *init = raw + i + INIT_SEP_LEN;
            *init_n = len - i - INIT_SEP_LEN;
            break;
        }
        i += INIT_SEP_LEN; /* match_indices does not overlap */
    }
    trim(boot, boot_n);
    trim(init, init_n);
}

/* Cmdline::try_from(raw, CMDLINE_MAX_SIZE). Returns NULL or the reason. */
static const char *cl_from(struct cl *c, const char *raw)
{
    const char *b, *in;
    size_t bn, inn, sz;

    split(raw, &b, &bn, &in, &inn);
    sz = bn + 1;
    if (inn)
        sz += INIT_SEP_LEN + inn;
    if (sz > CMDLINE_MAX_SIZE)
        return ERR_CAPACITY;
    memcpy(c->boot, b, bn);
    c->boot_len = bn;
    memcpy(c->init, in, inn);
    c->init_len = inn;
    return NULL;
}

/* Cmdline::insert_str. Returns NULL or the reason. */
static const char *cl_insert(struct cl *c, const char *slug)
{
    const char *s = slug;
    size_t n = strlen(slug), sz;

    trim(&s, &n);
    if (!printable(s, n))
        return ERR_ASCII;
    sz = cl_size(c);
    if (c->boot_len)
        sz++;
    if (n > CMDLINE_MAX_SIZE || sz + n > CMDLINE_MAX_SIZE)
        return ERR_TOO_LARGE;
    if (c->boot_len)
        c->boot[c->boot_len++] = ' ';
    memcpy(c->boot + c->boot_len, s, n);
    c->boot_len += n;
    return NULL;
}

int cmdline_validate(const char *boot_args, struct sq_err *err)
{
    struct cl c;
    const char *why;

    if (!boot_args)
        return 0;
    why = cl_from(&c, boot_args);
    if (why)
        return sq_errf(err, -EINVAL, "%s", why);
    return 0;
}

static int insert_root(struct cl *c, const char *what, bool ro,
                       struct sq_err *err)
{
    char arg[CMDLINE_MAX_SIZE + 16];
    const char *why;

    snprintf(arg, sizeof(arg), "root=%s", what);
    why = cl_insert(c, arg);
    if (!why)
        why = cl_insert(c, ro ? "ro" : "rw");
    if (why)
        return sq_errf(err, -EINVAL, PFX_CMDLINE "%s", why);
    return 0;
}

static int insert_roots_at(struct cl *c, const struct cmdline_extras *x,
                           size_t at, bool *block_done, bool *pmem_done,
                           struct sq_err *err)
{
    char dev[32];
    int rc;

    if (x->root_block && !*block_done && x->root_block_at <= at) {
        *block_done = true;
        rc = insert_root(c, x->root_block, x->root_block_ro, err);
        if (rc)
            return rc;
    }
    if (x->root_pmem_index >= 0 && !*pmem_done && x->root_pmem_at <= at) {
        *pmem_done = true;
        snprintf(dev, sizeof(dev), "/dev/pmem%d", x->root_pmem_index);
        rc = insert_root(c, dev, x->root_pmem_ro, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_extras(struct cl *c, const struct cmdline_extras *x,
                      struct sq_err *err)
{
    bool block_done = false, pmem_done = false;
    char dev[96];
    const char *why;
    int rc;

    if (!x->pci_enabled) {
        why = cl_insert(c, "pci=off");
        if (why)
            return sq_errf(err, -EINVAL, PFX_CMDLINE "%s", why);
    }
    for (size_t i = 0; i < x->n_virtio; i++) {
        rc = insert_roots_at(c, x, i, &block_done, &pmem_done, err);
        if (rc)
            return rc;
        snprintf(dev, sizeof(dev), "virtio_mmio.device=4K@0x%llx:%u",
                 (unsigned long long)x->virtio[i].addr, x->virtio[i].gsi);
        why = cl_insert(c, dev);
        if (why)
            return sq_errf(err, -EINVAL, PFX_MMIO "%s", why);
    }
    return insert_roots_at(c, x, SIZE_MAX, &block_done, &pmem_done, err);
}

int cmdline_build(const char *boot_args, const struct cmdline_extras *x,
                  char *out, size_t out_len, struct sq_err *err)
{
    struct cl c;
    const char *why;
    int rc;

    if (!out || out_len < CMDLINE_MAX_SIZE)
        return sq_errf(err, -EINVAL, PFX_CMDLINE ERR_CAPACITY);
    out[0] = '\0';
    why = cl_from(&c, boot_args ? boot_args : CMDLINE_DEFAULT);
    if (why)
        return sq_errf(err, -EINVAL, PFX_CMDLINE "%s", why);
    if (x) {
        rc = add_extras(&c, x, err);
        if (rc)
            return rc;
    }
    /* Cmdline::as_cstring: init args alone cannot be passed (upstream
     * panics here; squib reports it). */
    if (!c.boot_len && c.init_len)
        return sq_errf(err, -EINVAL, PFX_CMDLINE ERR_ONLY_INIT);
    memcpy(out, c.boot, c.boot_len);
    if (c.init_len) {
        memcpy(out + c.boot_len, INIT_SEP, INIT_SEP_LEN);
        memcpy(out + c.boot_len + INIT_SEP_LEN, c.init, c.init_len);
    }
    out[cl_size(&c) - 1] = '\0';
    return 0;
}

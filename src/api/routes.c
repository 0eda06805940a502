/*
 * routes.c: Firecracker's request router (see routes.h).
 *
 * Mirrors upstream's ParsedRequest::try_from: the first path token after the
 * leading slashes picks the resource, a few resources read a second (or
 * third) token, and everything after that is ignored. The order of the checks
 * below is the order of upstream's match arms, which matters where arms
 * overlap (e.g. GET with a body on a known path).
 */
#include "api/routes.h"

#include "config/config.h"

#include <errno.h>
#include <string.h>

const char *api_method_name(enum api_method m)
{
    switch (m) {
    case API_GET:
        return "GET";
    case API_PUT:
        return "PUT";
    case API_PATCH:
        return "PATCH";
    default:
        return "DELETE";
    }
}

void api_abs_path(const char *uri, size_t uri_len, const char **path,
                  size_t *path_len)
{
    static const char http[] = "http://";

    if (uri_len >= sizeof(http) - 1 && !memcmp(uri, http, sizeof(http) - 1)) {
        const char *host = uri + sizeof(http) - 1;
        const char *slash = memchr(host, '/', uri_len - (sizeof(http) - 1));

        if (!slash) {
            *path = uri + uri_len;
            *path_len = 0;
            return;
        }
        *path = slash;
        *path_len = uri_len - (size_t)(slash - uri);
        return;
    }
    if (uri_len && uri[0] == '/') {
        *path = uri;
        *path_len = uri_len;
        return;
    }
    *path = uri + uri_len;
    *path_len = 0;
}

/* A tokenizer with Rust's trim_start_matches('/') + split_terminator('/'). */
struct tokens {
    const char *p;
    const char *end;
    bool done;
};

struct tok {
    const char *s;
    size_t len;
    bool present;
};

static struct tok next_tok(struct tokens *t)
{
    struct tok r = {NULL, 0, false};
    const char *slash;

    if (t->done || t->p >= t->end) {
        /* split_terminator: nothing after a trailing separator. */
        t->done = true;
        return r;
    }
    slash = memchr(t->p, '/', (size_t)(t->end - t->p));
    r.s = t->p;
    r.present = true;
    if (slash) {
        r.len = (size_t)(slash - t->p);
        t->p = slash + 1;
    } else {
        r.len = (size_t)(t->end - t->p);
        t->p = t->end;
        t->done = true;
    }
    return r;
}

static bool tok_is(struct tok t, const char *s)
{
    return t.present && t.len == strlen(s) && !memcmp(t.s, s, t.len);
}

/* Upstream's checked_id(): missing or empty, then Rust's
 * char::is_alphanumeric() or '_' for every character (schemas.c has the
 * Unicode table). */
static int check_id(struct tok id, struct sq_err *err)
{
    if (!id.present || id.len == 0)
        return sq_errf(err, -EINVAL, IDS_ERR_EMPTY);
    return schemas_check_path_id(id.s, id.len, err);
}

static int with_id(struct api_route *out, enum vmm_op op, struct tok id,
                   struct sq_err *err)
{
    int rc = check_id(id, err);

    if (rc)
        return rc;
    out->op = op;
    out->id = id.s;
    out->id_len = id.len;
    return 0;
}

static int ok(struct api_route *out, enum vmm_op op)
{
    out->op = op;
    out->id = NULL;
    out->id_len = 0;
    return 0;
}

static int invalid(enum api_method m, struct tok first, struct sq_err *err)
{
    return sq_errf(err, -EINVAL, "Invalid request method and/or path: %s %.*s.",
                   api_method_name(m), (int)first.len, first.s ? first.s : "");
}

static int route_get(struct tokens *t, struct tok first, struct api_route *out,
                     struct sq_err *err)
{
    struct tok second;

    if (first.len == 0)
        return ok(out, VMM_OP_GET_INSTANCE_INFO);
    if (tok_is(first, "balloon")) {
        second = next_tok(t);
        if (!second.present)
            return ok(out, VMM_OP_GET_BALLOON);
        if (tok_is(second, "statistics"))
            return ok(out, VMM_OP_GET_BALLOON_STATS);
        if (tok_is(second, "hinting")) {
            struct tok third = next_tok(t);

            if (tok_is(third, "status"))
                return ok(out, VMM_OP_GET_BALLOON_HINTING_STATUS);
            if (third.present)
                return sq_errf(err, -EINVAL,
                               "Unrecognized GET request path `/hinting/%.*s`.",
                               (int)third.len, third.s);
            return sq_errf(err, -EINVAL,
                           "Unrecognized GET request path `/hinting/`.");
        }
        return sq_errf(err, -EINVAL, "Unrecognized GET request path `%.*s`.",
                       (int)second.len, second.s);
    }
    if (tok_is(first, "version"))
        return ok(out, VMM_OP_GET_VERSION);
    if (tok_is(first, "vm") && tok_is(next_tok(t), "config"))
        return ok(out, VMM_OP_GET_VM_CONFIG);
    if (tok_is(first, "machine-config"))
        return ok(out, VMM_OP_GET_MACHINE_CONFIG);
    if (tok_is(first, "mmds"))
        return ok(out, VMM_OP_GET_MMDS);
    if (tok_is(first, "hotplug") && tok_is(next_tok(t), "memory"))
        return ok(out, VMM_OP_GET_HOTPLUG_MEMORY);
    return invalid(API_GET, first, err);
}

static int route_put(struct tokens *t, struct tok first, struct api_route *out,
                     struct sq_err *err)
{
    static const struct {
        const char *name;
        enum vmm_op op;
    } simple[] = {
        {"actions", VMM_OP_PUT_ACTIONS},
        {"balloon", VMM_OP_PUT_BALLOON},
        {"boot-source", VMM_OP_PUT_BOOT_SOURCE},
        {"cpu-config", VMM_OP_PUT_CPU_CONFIG},
        {"logger", VMM_OP_PUT_LOGGER},
        {"serial", VMM_OP_PUT_SERIAL},
        {"machine-config", VMM_OP_PUT_MACHINE_CONFIG},
        {"metrics", VMM_OP_PUT_METRICS},
        {"vsock", VMM_OP_PUT_VSOCK},
        {"entropy", VMM_OP_PUT_ENTROPY},
    };
    struct tok second;

    for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
        if (tok_is(first, simple[i].name))
            return ok(out, simple[i].op);
    }
    if (tok_is(first, "drives"))
        return with_id(out, VMM_OP_PUT_DRIVE, next_tok(t), err);
    if (tok_is(first, "pmem"))
        return with_id(out, VMM_OP_PUT_PMEM, next_tok(t), err);
    if (tok_is(first, "network-interfaces"))
        return with_id(out, VMM_OP_PUT_NET, next_tok(t), err);
    if (tok_is(first, "mmds")) {
        second = next_tok(t);
        if (!second.present)
            return ok(out, VMM_OP_PUT_MMDS);
        if (tok_is(second, "config"))
            return ok(out, VMM_OP_PUT_MMDS_CONFIG);
        return sq_errf(err, -EINVAL, "Unrecognized PUT request path `%.*s`.",
                       (int)second.len, second.s);
    }
    if (tok_is(first, "snapshot")) {
        second = next_tok(t);
        if (!second.present)
            return sq_errf(err, -EINVAL, "Missing snapshot operation type.");
        if (tok_is(second, "create"))
            return ok(out, VMM_OP_PUT_SNAPSHOT_CREATE);
        if (tok_is(second, "load"))
            return ok(out, VMM_OP_PUT_SNAPSHOT_LOAD);
        return sq_errf(
            err, -EINVAL,
            "Invalid request method and/or path: PUT /snapshot/%.*s.",
            (int)second.len, second.s);
    }
    if (tok_is(first, "hotplug") && tok_is(next_tok(t), "memory"))
        return ok(out, VMM_OP_PUT_HOTPLUG_MEMORY);
    return invalid(API_PUT, first, err);
}

static int route_patch(struct tokens *t, struct tok first, bool has_body,
                       struct api_route *out, struct sq_err *err)
{
    if (tok_is(first, "balloon")) {
        /* The only arm that takes a PATCH with or without a body; any
         * second token other than statistics/hinting is a balloon update. */
        struct tok second = next_tok(t), third;

        if (tok_is(second, "statistics") && has_body)
            return ok(out, VMM_OP_PATCH_BALLOON_STATS);
        if (tok_is(second, "hinting")) {
            third = next_tok(t);
            if (tok_is(third, "start"))
                return ok(out, VMM_OP_PATCH_BALLOON_HINTING_START);
            if (tok_is(third, "stop"))
                return ok(out, VMM_OP_PATCH_BALLOON_HINTING_STOP);
            if (third.present)
                return sq_errf(
                    err, -EINVAL,
                    "Unrecognized PATCH request path `/hinting/%.*s`.",
                    (int)third.len, third.s);
            return sq_errf(err, -EINVAL,
                           "Unrecognized PATCH request path `/hinting/`.");
        }
        if (has_body)
            return ok(out, VMM_OP_PATCH_BALLOON);
        return sq_errf(err, -EINVAL, "Empty PATCH request.");
    }
    if (!has_body) {
        return sq_errf(err, -EINVAL, "Empty PATCH request.");
    }
    if (tok_is(first, "drives"))
        return with_id(out, VMM_OP_PATCH_DRIVE, next_tok(t), err);
    if (tok_is(first, "machine-config"))
        return ok(out, VMM_OP_PATCH_MACHINE_CONFIG);
    if (tok_is(first, "mmds"))
        return ok(out, VMM_OP_PATCH_MMDS);
    if (tok_is(first, "network-interfaces"))
        return with_id(out, VMM_OP_PATCH_NET, next_tok(t), err);
    if (tok_is(first, "pmem"))
        return with_id(out, VMM_OP_PATCH_PMEM, next_tok(t), err);
    if (tok_is(first, "vm"))
        return ok(out, VMM_OP_PATCH_VM);
    if (tok_is(first, "hotplug") && tok_is(next_tok(t), "memory"))
        return ok(out, VMM_OP_PATCH_HOTPLUG_MEMORY);
    return invalid(API_PATCH, first, err);
}

int api_route(enum api_method method, const char *uri, size_t uri_len,
              bool has_body, struct api_route *out, struct sq_err *err)
{
    const char *path;
    size_t path_len;
    struct tokens t;
    struct tok first;

    api_abs_path(uri, uri_len, &path, &path_len);
    while (path_len && *path == '/') {
        path++;
        path_len--;
    }
    t.p = path;
    t.end = path + path_len;
    t.done = false;
    first = next_tok(&t);
    if (!first.present) {
        first.s = path;
        first.len = 0;
    }

    switch (method) {
    case API_GET:
        if (has_body) {
            /* Known GET paths with a body, and unknown ones alike. The
             * upstream arms for known paths require no body, so a body
             * on any GET lands on the generic arm... except an unknown
             * path, which upstream also routes here first. */
            return sq_errf(err, -EINVAL, "GET request cannot have a body.");
        }
        return route_get(&t, first, out, err);
    case API_PUT:
        if (!has_body)
            return sq_errf(err, -EINVAL, "Empty PUT request.");
        return route_put(&t, first, out, err);
    case API_PATCH:
        return route_patch(&t, first, has_body, out, err);
    case API_DELETE:
        if (has_body)
            return sq_errf(err, -EINVAL, "Empty Delete request.");
        if (tok_is(first, "drives"))
            return with_id(out, VMM_OP_DELETE_DRIVE, next_tok(&t), err);
        if (tok_is(first, "pmem"))
            return with_id(out, VMM_OP_DELETE_PMEM, next_tok(&t), err);
        if (tok_is(first, "network-interfaces"))
            return with_id(out, VMM_OP_DELETE_NET, next_tok(&t), err);
        return invalid(API_DELETE, first, err);
    }
    return invalid(method, first, err);
}

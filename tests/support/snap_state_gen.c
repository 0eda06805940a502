/*
 * snap_state_gen.c: writes state files for the snapshot tools' tests
 * (tests/integration/test_snapshot_tools.py), with squib's own writer
 * (snapshot/state.h) and the fixture state of snap_state_fixture.h:
 *
 *   snap-state-gen DIR
 *
 * creates in DIR: vmstate (valid), vmstate_crc (one byte of the data
 * changed after the CRC was taken), vmstate_magic (another magic),
 * vmstate_newer (version 11.1.0), vmstate_major (12.0.0), vmstate_short
 * (4 bytes), vmstate_cut (sections cut short, with a valid CRC),
 * vmstate_net (valid, with a virtio-net device and the MMDS section) and
 * vmstate_pci (valid, a PCI-mode machine: the PCIR and PCID sections).
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "snap_net_fixture.h"
#include "snapshot/crc64.h"
#include "snapshot/format.h"
#include "util/le.h"

static int write_file(const char *dir, const char *name, const void *p,
                      size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* The state `make` fills, encoded; `patch` (may be NULL) edits the bytes
 * before the CRC is appended. */
static void build_state(struct snap_writer *w,
                        void (*make)(struct microvm_state *),
                        void (*patch)(uint8_t *))
{
    struct microvm_state s;

    make(&s);
    snap_writer_init(w);
    microvm_state_encode(&s, w);
    microvm_state_fini(&s);
    if (patch)
        patch((uint8_t *)w->b.data);
    snap_writer_finish(w);
}

/* The fixture state encoded, `patch` as build_state(). */
static void build(struct snap_writer *w, void (*patch)(uint8_t *))
{
    build_state(w, make_state, patch);
}

static void magic(uint8_t *p)
{
    le_put64(p, 0x0710198400000000ULL);
}

static void newer(uint8_t *p)
{
    le_put32(p + 12, SNAP_VERSION_MINOR + 1);
}

static void major(uint8_t *p)
{
    le_put32(p + 8, SNAP_VERSION_MAJOR + 1);
}

int main(int argc, char **argv)
{
    struct snap_writer w;
    const char *dir = argc == 2 ? argv[1] : NULL;
    int rc = 0;

    if (!dir) {
        fprintf(stderr, "usage: snap-state-gen DIR\n");
        return 2;
    }
    build(&w, NULL);
    rc |= write_file(dir, "vmstate", w.b.data, w.b.len);
    ((uint8_t *)w.b.data)[SNAP_HEADER_SIZE + 10] ^= 0x40;
    rc |= write_file(dir, "vmstate_crc", w.b.data, w.b.len);
    rc |= write_file(dir, "vmstate_short", w.b.data, 4);
    snap_writer_fini(&w);

    build(&w, magic);
    rc |= write_file(dir, "vmstate_magic", w.b.data, w.b.len);
    snap_writer_fini(&w);
    build(&w, newer);
    rc |= write_file(dir, "vmstate_newer", w.b.data, w.b.len);
    snap_writer_fini(&w);
    build(&w, major);
    rc |= write_file(dir, "vmstate_major", w.b.data, w.b.len);
    snap_writer_fini(&w);
    build_state(&w, make_net_state, NULL);
    rc |= write_file(dir, "vmstate_net", w.b.data, w.b.len);
    snap_writer_fini(&w);
    build_state(&w, make_pci_state, NULL);
    rc |= write_file(dir, "vmstate_pci", w.b.data, w.b.len);
    snap_writer_fini(&w);

    /* The header and the first section only, with their own CRC: frames
     * fine, but required sections are missing. */
    snap_writer_init(&w);
    snap_section_begin(&w, SNAP_TAG('V', 'M', 'I', 'N'));
    snap_put_u32(&w, 1);
    snap_section_end(&w);
    snap_writer_finish(&w);
    rc |= write_file(dir, "vmstate_cut", w.b.data, w.b.len);
    snap_writer_fini(&w);
    return rc ? 1 : 0;
}

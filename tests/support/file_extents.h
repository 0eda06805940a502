/*
 * file_extents.h: where a sparse file holds data (SEEK_DATA / SEEK_HOLE),
 * for the tests of the memory file of a Diff snapshot.
 */
#ifndef SQUIB_TESTS_FILE_EXTENTS_H
#define SQUIB_TESTS_FILE_EXTENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>

/* The data extents of fd as [start, end) pairs, at most max of them;
 * returns how many. */
static inline size_t file_extents(int fd, off_t out[][2], size_t max)
{
    off_t size = lseek(fd, 0, SEEK_END), at = 0;
    size_t n = 0;

    while (at < size && n < max) {
        off_t data = lseek(fd, at, SEEK_DATA), hole;

        if (data < 0)
            break;
        hole = lseek(fd, data, SEEK_HOLE);
        out[n][0] = data;
        out[n][1] = hole;
        n++;
        at = hole;
    }
    return n;
}

/* Whether fd's file system reports holes: one without SEEK_HOLE reports
 * the whole file as data. */
static inline bool file_holes_supported(int fd)
{
    off_t e[1][2];

    return file_extents(fd, e, 1) == 0 || e[0][1] < lseek(fd, 0, SEEK_END);
}

#endif

/*
 * sort.h: an in-place sort that makes no system call, for code that runs
 * under squib's seccomp filters.
 *
 * Why not qsort(3): glibc's qsort sorts arrays of more than 1 KiB through a
 * temporary buffer and first asks how much physical memory the host has
 * (sysconf(_SC_PHYS_PAGES), which is sysinfo(2)). No thread's filter allows
 * sysinfo (upstream's Rust VMM never makes it), so a large qsort on the vmm
 * thread ended the VMM with "bad syscall (99)": a balloon inflate of more
 * than 256 page frames did. `make layers` refuses sq_sort( in src/.
 *
 * sq_sort has qsort's arguments (`cmp` a total order) and is stable, as
 * glibc's merge sort is in practice and Rust's sort is by contract: equal
 * elements keep their order. It is a bottom-up merge sort over runs first
 * sorted by insertion: O(n log n) comparisons, no recursion, one temporary
 * buffer of n * size bytes from the heap for more than SORT_RUN elements
 * (malloc's own mmap/brk are allowed everywhere; xmalloc's rule on
 * failure). Safe on any n and element size.
 */
#ifndef SQUIB_UTIL_SORT_H
#define SQUIB_UTIL_SORT_H

#include <stddef.h>

void sq_sort(void *base, size_t n, size_t size,
             int (*cmp)(const void *, const void *));

#endif

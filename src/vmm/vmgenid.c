/*
 * vmgenid.c: the generation id and its buffer (vmgenid.h).
 */
#include "vmm/vmgenid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int vmgenid_new_id(uint8_t id[VMGENID_ID_LEN])
{
    size_t got = 0;

    while (got < VMGENID_ID_LEN) {
        ssize_t n = getrandom(id + got, VMGENID_ID_LEN - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        got += (size_t)n;
    }
    return 0;
}

int vmgenid_write(const uint8_t id[VMGENID_ID_LEN], struct guest_mem *gm,
                  uint64_t gpa)
{
    void *hva;

    if (guest_mem_translate(gm, gpa, VMGENID_ID_LEN, &hva))
        return -EFAULT;
    memcpy(hva, id, VMGENID_ID_LEN);
    guest_mem_mark_dirty(gm, gpa, VMGENID_ID_LEN);
    return 0;
}

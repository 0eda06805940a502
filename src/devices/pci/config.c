/*
 * config.c: a PCI function's configuration space (config.h): registers
 * with write masks, 64-bit BAR sizing, the capability list.
 */
#include "devices/pci/config.h"

#include <errno.h>
#include <string.h>

#include "obs/log.h"

void pci_config_init(struct pci_config *c, const struct pci_ids *ids)
{
    memset(c, 0, sizeof(*c));
    c->regs[PCI_REG_ID] = (uint32_t)ids->device_id << 16 | ids->vendor_id;
    c->regs[PCI_REG_CLASS] = (uint32_t)ids->class_code << 24 |
                             (uint32_t)ids->subclass << 16 |
                             (uint32_t)ids->prog_if << 8 | ids->revision;
    c->regs[PCI_REG_SUBSYS] =
        (uint32_t)ids->subsys_id << 16 | ids->subsys_vendor_id;
    /* Header type 0, single function: register 3 stays 0 but for the
     * cache line size the guest may set. Status is read-only (upstream
     * does not model its write-1-to-clear error bits, which squib never
     * sets). */
    c->wmask[PCI_REG_CMD_STATUS] = 0x0000ffffu;
    c->wmask[PCI_REG_HEADER] = 0x000000ffu;
    c->wmask[PCI_REG_INTR] = 0x000000ffu;
    c->cap_end = PCI_CAP_FIRST;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

int pci_config_set_bar64(struct pci_config *c, unsigned idx, uint64_t addr,
                         uint64_t size, bool is_prefetchable)
{
    uint64_t end;
    uint32_t flags = PCI_BAR_MEM_64 | (is_prefetchable ? PCI_BAR_PREFETCH : 0);

    if (idx + 1 >= PCI_CONFIG_N_BARS || c->bars[idx].size ||
        c->bars[idx + 1].size || (idx > 0 && c->bars[idx - 1].size))
        return -EINVAL;
    if (!is_pow2(size) || size < 16 || (addr & (size - 1)) ||
        __builtin_add_overflow(addr, size - 1, &end))
        return -EINVAL;
    c->bars[idx] = (struct pci_bar){addr, size, is_prefetchable};
    c->regs[PCI_REG_BAR0 + idx] = (uint32_t)addr | flags;
    c->regs[PCI_REG_BAR0 + idx + 1] = (uint32_t)(addr >> 32);
    return 0;
}

int pci_config_add_cap(struct pci_config *c, uint8_t id, const uint8_t *body,
                       size_t body_len, const uint8_t *body_wmask)
{
    uint16_t off = (uint16_t)((c->cap_end + 3u) & ~3u);
    uint8_t *regs = (uint8_t *)c->regs;
    uint8_t *wmask = (uint8_t *)c->wmask;

    if (body_len > PCI_CAP_END || off + 2u + body_len > PCI_CAP_END)
        return -ENOSPC;
    /* Registers are host-endian u32s; squib runs on x86_64 only, so the
     * byte view is the guest's little-endian layout. */
    regs[off] = id;
    regs[off + 1] = 0;
    memcpy(regs + off + 2, body, body_len);
    if (body_wmask)
        memcpy(wmask + off + 2, body_wmask, body_len);
    if (c->last_cap)
        regs[c->last_cap + 1] = (uint8_t)off;
    else
        regs[PCI_REG_CAP_PTR * 4] = (uint8_t)off;
    c->regs[PCI_REG_CMD_STATUS] |= (uint32_t)PCI_STATUS_CAP_LIST << 16;
    c->last_cap = off;
    c->cap_end = (uint16_t)(off + 2u + body_len);
    return off;
}

/* The BAR whose low (*is_hi false) or high half register `reg` is, or
 * NULL if it is not a used BAR register. */
static const struct pci_bar *bar_of(const struct pci_config *c, uint32_t reg,
                                    bool *is_hi)
{
    unsigned i;

    if (reg < PCI_REG_BAR0 || reg >= PCI_REG_BAR0 + PCI_CONFIG_N_BARS)
        return NULL;
    i = reg - PCI_REG_BAR0;
    if (c->bars[i].size) {
        *is_hi = false;
        return &c->bars[i];
    }
    if (i > 0 && c->bars[i - 1].size) {
        *is_hi = true;
        return &c->bars[i - 1];
    }
    return NULL;
}

uint32_t pci_config_read_reg(const struct pci_config *c, uint32_t reg)
{
    const struct pci_bar *bar;
    bool is_hi = false;
    uint64_t mask;

    if (reg >= PCI_CONFIG_REGS)
        return 0xffffffffu;
    bar = bar_of(c, reg, &is_hi);
    if (!bar || !(c->bar_sizing & (1u << (reg - PCI_REG_BAR0))))
        return c->regs[reg];
    mask = ~(bar->size - 1);
    if (is_hi)
        return (uint32_t)(mask >> 32);
    return ((uint32_t)mask & ~0xfu) | (c->regs[reg] & 0xfu);
}

/* An access the model takes: 1, 2 or 4 bytes inside one dword. */
static bool access_ok(uint32_t reg, uint32_t off, uint32_t len)
{
    return reg < PCI_CONFIG_REGS && (len == 1 || len == 2 || len == 4) &&
           off < 4 && off + len <= 4;
}

bool pci_config_access_ok(uint32_t reg, uint32_t off, uint32_t len,
                          bool is_write)
{
    return access_ok(reg, off, len) && (!is_write || off % len == 0);
}

void pci_config_read(const struct pci_config *c, uint32_t reg, uint32_t off,
                     uint8_t *data, uint32_t len)
{
    uint32_t v;

    if (!access_ok(reg, off, len)) {
        memset(data, 0xff, len > 8 ? 8 : len);
        return;
    }
    v = pci_config_read_reg(c, reg) >> (8 * off);
    for (uint32_t i = 0; i < len; i++)
        data[i] = (uint8_t)(v >> (8 * i));
}

bool pci_config_write(struct pci_config *c, uint32_t reg, uint32_t off,
                      const uint8_t *data, uint32_t len)
{
    uint32_t v = 0, lanes;
    bool is_hi;

    if (!pci_config_access_ok(reg, off, len, true)) {
        log_warn_rl("pci: dropped a config write of %u bytes at 0x%x",
                    (unsigned)len, (unsigned)(reg * 4 + off));
        return false;
    }
    for (uint32_t i = 0; i < len; i++)
        v |= (uint32_t)data[i] << (8 * i);
    if (bar_of(c, reg, &is_hi)) {
        /* Sizing starts with all ones; anything else ends it (no BAR
         * relocation: the address stays). */
        uint8_t bit = (uint8_t)(1u << (reg - PCI_REG_BAR0));

        if (len == 4 && v == 0xffffffffu)
            c->bar_sizing |= bit;
        else
            c->bar_sizing &= (uint8_t)~bit;
        return true;
    }
    lanes = len == 4 ? 0xffffffffu : ((1u << (8 * len)) - 1) << (8 * off);
    lanes &= c->wmask[reg];
    c->regs[reg] = (c->regs[reg] & ~lanes) | ((v << (8 * off)) & lanes);
    return true;
}

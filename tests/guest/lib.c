/*
 * lib.c: the test guest's tiny runtime: memory helpers (the compiler may
 * emit calls to them), serial output on COM1 (0x3f8, polling the
 * transmitter-empty bit, no interrupts) and line formatting.
 */
#include "guest.h"

#define COM1     0x3f8
#define LSR_THRE 0x20

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;

    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memset(void *d, int c, size_t n)
{
    uint8_t *dp = d;

    while (n--)
        *dp++ = (uint8_t)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;

    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

/* Serialises whole lines between CPUs. */
static volatile uint32_t serial_lock;

static void serial_putc(char c)
{
    /* Bounded wait: a missing UART must not hang the guest. */
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & LSR_THRE); i++)
        cpu_relax();
    outb(COM1, (uint8_t)c);
}

void line_start(struct line *l)
{
    l->len = 0;
    line_str(l, "SQUIB-GUEST ");
}

void line_str(struct line *l, const char *s)
{
    while (*s && l->len < sizeof(l->buf) - 2)
        l->buf[l->len++] = *s++;
}

void line_strn(struct line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && l->len < sizeof(l->buf) - 2; i++) {
        char c = s[i];
        l->buf[l->len++] = (c >= 0x20 && c <= 0x7e) ? c : '?';
    }
}

void line_hex(struct line *l, uint64_t v)
{
    char tmp[16];
    int n = 0;

    line_str(l, "0x");
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v);
    while (n && l->len < sizeof(l->buf) - 2)
        l->buf[l->len++] = tmp[--n];
}

void line_dec(struct line *l, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && l->len < sizeof(l->buf) - 2)
        l->buf[l->len++] = tmp[--n];
}

void line_kv_hex(struct line *l, const char *k, uint64_t v)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    line_hex(l, v);
}

void line_kv_dec(struct line *l, const char *k, uint64_t v)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    line_dec(l, v);
}

void line_kv_str(struct line *l, const char *k, const char *s, size_t n)
{
    line_str(l, " ");
    line_str(l, k);
    line_str(l, "=");
    for (size_t i = 0; i < n && l->len < sizeof(l->buf) - 2; i++) {
        char c = s[i];
        l->buf[l->len++] = c == ' ' ? '_' : (c > 0x20 && c <= 0x7e) ? c : '?';
    }
}

void line_end(struct line *l)
{
    l->buf[l->len++] = '\n';
    while (__atomic_exchange_n(&serial_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
    for (size_t i = 0; i < l->len; i++)
        serial_putc(l->buf[i]);
    __atomic_store_n(&serial_lock, 0, __ATOMIC_RELEASE);
}

void line_end_nolock(struct line *l)
{
    l->buf[l->len++] = '\n';
    for (size_t i = 0; i < l->len; i++)
        serial_putc(l->buf[i]);
}

void say(const char *text)
{
    struct line l;

    line_start(&l);
    line_str(&l, text);
    line_end(&l);
}

void delay_cycles(uint64_t n)
{
    uint64_t t0 = rdtsc();

    while (rdtsc() - t0 < n)
        cpu_relax();
}

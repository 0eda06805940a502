/*
 * netproto.h: a raw-frame network client for the test guest and the host
 * unit tests (tests/guest/netproto.c).
 *
 * It builds and parses Ethernet II, ARP, IPv4, ICMP echo and TCP frames
 * (checksums computed on the way out and checked on the way in) and runs a
 * minimal client TCP against a single server: SYN, SYN-ACK, ACK; a request
 * sent in segments of a chosen size, each waited for until acknowledged;
 * the response collected in order, every segment acknowledged; FIN close.
 * It has no retransmission and no congestion control: the only peers are
 * squib's MMDS stack (src/mmds/ns.c) and the host kernel behind a TAP.
 *
 * Frames travel through two callbacks, so the same code runs over the
 * guest's virtio-net queues (net.c) and, in tests/unit/test_netproto.c,
 * straight into mmds_ns_detour_frame() and out of
 * mmds_ns_write_next_frame(). It uses no libc: only <stddef.h>,
 * <stdint.h> and <stdbool.h>, which a freestanding compiler provides.
 *
 * Addresses are in host order (169.254.169.254 is 0xa9fea9fe), MACs are
 * 6 bytes. Functions that wait return NP_OK or a negative enum np_result.
 */
#ifndef SQUIB_GUEST_NETPROTO_H
#define SQUIB_GUEST_NETPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NP_MAC_LEN      6
#define NP_ETH_HDR_LEN  14
#define NP_ETH_MTU      1500
#define NP_FRAME_MAX    (NP_ETH_HDR_LEN + NP_ETH_MTU)
#define NP_RX_FRAME_MAX 2048 /* larger frames are cut to this and dropped */
#define NP_MSS          1460 /* advertised: an MTU of 1500 */
#define NP_RCV_WINDOW   65535

#define NP_TCP_FIN 0x01
#define NP_TCP_SYN 0x02
#define NP_TCP_RST 0x04
#define NP_TCP_PSH 0x08
#define NP_TCP_ACK 0x10

enum np_result {
    NP_OK = 0,
    NP_TIMEOUT = -1, /* recv_frame reported nothing within the timeout */
    NP_RST = -2,     /* the peer reset the connection (np_tcp.rst_*) */
    NP_SEND = -3,    /* send_frame failed */
    NP_WINDOW = -4,  /* the peer's window has no room for more data */
    NP_NOSPACE = -5, /* the response did not fit the caller's buffer */
    NP_STATE = -6,   /* not possible in the connection's state */
};

/*
 * Send one frame (borrowed, len bytes, Ethernet header first). Returns 0,
 * or a negative value when the frame could not be handed over.
 */
typedef int np_send_fn(void *opaque, const uint8_t *frame, size_t len);
/*
 * Wait up to timeout_ms for the next received frame and copy it into buf
 * (cap bytes; a longer frame may be cut). Returns its length, or 0 when
 * none came in time. A host test without clock may return 0 at once.
 */
typedef size_t np_recv_fn(void *opaque, uint8_t *buf, size_t cap,
                          uint32_t timeout_ms);

struct np_stats {
    uint64_t tx_frames, rx_frames;
    uint64_t rx_ignored;   /* well-formed but not what was waited for */
    uint64_t rx_bad;       /* truncated, or a checksum wrong */
    uint64_t rx_dup;       /* TCP data out of order (dropped, re-ACKed) */
    uint64_t acks_sent;    /* pure ACKs */
    uint64_t arp_replies;  /* ARP replies seen */
    uint64_t arp_answered; /* ARP requests for our address answered */
    uint64_t rsts_seen;    /* RSTs seen for any connection */
    uint64_t segments_in;  /* TCP data segments taken in order */
    uint64_t max_seg_data; /* the longest TCP payload received */
};

/* The client: one interface (MAC, IPv4 address) and its frame buffers. */
struct np_client {
    np_send_fn *send_frame;
    np_recv_fn *recv_frame;
    void *opaque;
    uint8_t mac[NP_MAC_LEN];
    uint32_t ip;
    uint32_t timeout_ms; /* per wait for one frame; default 1000 */
    uint16_t ip_id;
    struct np_stats stats;
    uint8_t tx[NP_FRAME_MAX];
    uint8_t rx[NP_RX_FRAME_MAX];
};

/* One client TCP connection. The receive buffer is the caller's. */
struct np_tcp {
    uint8_t dst_mac[NP_MAC_LEN];
    uint32_t dst_ip;
    uint16_t sport, dport;
    uint32_t snd_una, snd_nxt; /* oldest unacknowledged, next to send */
    uint32_t rcv_nxt;
    uint32_t irs_next; /* the peer's ISN + 1 (a repeated SYN-ACK) */
    uint32_t peer_wnd;
    uint16_t peer_mss; /* from the SYN-ACK; 536 without the option */
    bool established, fin_received, fin_sent;
    bool reset;                /* a RST came: rst_* are set */
    uint32_t rst_seq, rst_ack; /* of the RST */
    uint8_t rst_flags;         /* RST, possibly with ACK */
    uint8_t *rbuf;             /* received data goes here ... */
    size_t rcap, rlen;         /* ... cap bytes, len held */
    bool overflow;             /* data beyond rcap was dropped */
};

/* A parsed HTTP response (views into the caller's bytes). */
struct np_http {
    int status;            /* 0 until the status line is complete */
    size_t header_len;     /* through the blank line; 0 until complete */
    size_t content_length; /* 0 without the header */
    const char *content_type;
    size_t content_type_len;
    const uint8_t *body; /* content_length bytes when complete */
    bool complete;       /* headers and the whole body are there */
};

/*
 * Set up c for interface (mac, ip) with the two callbacks. Cannot fail.
 */
void np_init(struct np_client *c, const uint8_t mac[NP_MAC_LEN], uint32_t ip,
             np_send_fn *send_frame, np_recv_fn *recv_frame, void *opaque);

/*
 * Broadcast an ARP request for ip and wait for the reply whose sender is
 * ip (other frames are counted and dropped). NP_OK with the MAC in mac,
 * NP_TIMEOUT, or NP_SEND.
 */
int np_arp_resolve(struct np_client *c, uint32_t ip, uint8_t mac[NP_MAC_LEN]);

/*
 * Send an ICMP echo request (identifier id, sequence seq, len bytes of
 * data, at most 1024) to (mac, ip) and wait for the matching echo reply
 * with the same data. NP_OK, NP_TIMEOUT or NP_SEND.
 */
int np_ping(struct np_client *c, const uint8_t mac[NP_MAC_LEN], uint32_t ip,
            uint16_t id, uint16_t seq, const uint8_t *data, size_t len);

/*
 * Open t from port sport to (mac, ip, dport) with initial sequence number
 * iss: SYN with the MSS option, wait for the SYN-ACK, send the ACK.
 * Received data will go to (rbuf, rcap), which may be NULL and 0 for now
 * (np_tcp_request sets it). NP_OK (established), NP_RST (refused: see
 * t->rst_*), NP_TIMEOUT, NP_SEND.
 */
int np_tcp_connect(struct np_client *c, struct np_tcp *t,
                   const uint8_t mac[NP_MAC_LEN], uint32_t ip, uint16_t dport,
                   uint16_t sport, uint32_t iss);

/*
 * Send len bytes on established t in segments of at most seg_max bytes
 * (also capped by the peer's MSS and window), waiting after each for its
 * acknowledgement. Data arriving meanwhile is collected as usual.
 * NP_OK, NP_RST, NP_TIMEOUT, NP_WINDOW, NP_SEND, NP_STATE.
 */
int np_tcp_send(struct np_client *c, struct np_tcp *t, const void *data,
                size_t len, size_t seg_max);

/*
 * np_tcp_send() the request, then collect the HTTP response in
 * (resp, cap) until it is complete (status line, headers, Content-Length
 * bytes of body). *resp_len is what was received; hp (may be NULL) gets
 * the parse. NP_OK, NP_NOSPACE (did not fit), or np_tcp_send()'s errors.
 */
int np_tcp_request(struct np_client *c, struct np_tcp *t, const void *req,
                   size_t req_len, size_t seg_max, uint8_t *resp, size_t cap,
                   size_t *resp_len, struct np_http *hp);

/*
 * Close t: send FIN, wait for the peer's FIN and for the ACK of ours, and
 * acknowledge the peer's FIN. NP_OK, NP_RST, NP_TIMEOUT, NP_SEND.
 */
int np_tcp_close(struct np_client *c, struct np_tcp *t);

/*
 * Send one segment with flags (and no data) from t's ports at t's
 * snd_nxt/rcv_nxt, whatever t's state, and wait for a RST on the same
 * ports. For probes: a segment where no connection exists, to a closed
 * port. NP_RST (t->rst_* set), NP_TIMEOUT (nothing came), NP_SEND.
 */
int np_tcp_probe(struct np_client *c, struct np_tcp *t, uint8_t flags);

/* Fill t's addressing for np_tcp_probe() without a handshake. */
void np_tcp_prepare(struct np_tcp *t, const uint8_t mac[NP_MAC_LEN],
                    uint32_t ip, uint16_t dport, uint16_t sport, uint32_t seq,
                    uint32_t ack);

/*
 * Parse the HTTP response in (p, len), complete or not, into h. Returns
 * true once the status line and headers are complete and well-formed.
 */
bool np_http_parse(const uint8_t *p, size_t len, struct np_http *h);

/*
 * Find header `name` (case-insensitive) in the response head at p
 * (len bytes); true with the value (leading spaces skipped) in *val.
 */
bool np_http_header(const uint8_t *p, size_t len, const char *name,
                    const char **val, size_t *val_len);

/* Dotted-quad text (n bytes, no terminator needed) to a host-order
 * address. Returns 0, or -1 when it is not one. */
int np_parse_ipv4(const char *s, size_t n, uint32_t *ip);

/* A string builder over a caller's buffer: appends what fits, always
 * keeps a terminating NUL, and remembers whether anything was cut. */
struct np_str {
    char *p;
    size_t cap, len; /* cap includes the NUL */
    bool cut;
};
void np_str_init(struct np_str *s, char *p, size_t cap);
void np_str_add(struct np_str *s, const char *text);
void np_str_addn(struct np_str *s, const char *text, size_t n);
void np_str_dec(struct np_str *s, uint64_t v);

/* Byte helpers, so that this code needs neither the guest's lib.c nor
 * the host's <string.h>. */
void np_copy(void *dst, const void *src, size_t n);
bool np_equal(const void *a, const void *b, size_t n);
size_t np_strlen(const char *s);

#endif

/*
 * test_vsock_conn.c: the vsock connection state machine on its own, with
 * a socketpair for the host side: each transition of the diagram in
 * vsock_conn.h, the credit arithmetic (wrapping counters, CREDIT_REQUEST,
 * the update threshold), the TX buffer's bound, and what the connection
 * asks epoll to watch.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/vsock/vsock_conn.h"

#define NOW 1000000000ULL

struct tpkt {
    uint8_t buf[VSOCK_PKT_HDR_SIZE + 70000];
    struct vsock_pkt p;
};

struct cfx {
    struct vsock_conn c;
    int peer; /* the host application's end */
    struct tpkt tx, rx;
};

static int setup(void **state)
{
    struct cfx *f = calloc(1, sizeof(*f));
    int sv[2];

    assert_int_equal(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0);
    f->c.fd = sv[0];
    f->peer = sv[1];
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct cfx *f = *state;

    vsock_conn_fini(&f->c);
    vsock_conn_fini(&f->c); /* idempotent */
    close(f->peer);
    free(f);
    return 0;
}

/* A guest packet with `len` payload bytes of `fill`. */
static const struct vsock_pkt *gpkt(struct cfx *f, uint16_t op, uint32_t len,
                                    uint32_t flags, uint32_t buf_alloc,
                                    uint32_t fwd_cnt)
{
    struct virtq_chain c = {0};
    struct vsock_hdr h = {
        .src_cid = 3,
        .dst_cid = 2,
        .src_port = f->c.peer_port,
        .dst_port = f->c.local_port,
        .len = len,
        .type = SQ_VSOCK_TYPE_STREAM,
        .op = op,
        .flags = flags,
        .buf_alloc = buf_alloc,
        .fwd_cnt = fwd_cnt,
    };

    vsock_hdr_encode(&h, f->tx.buf);
    memset(f->tx.buf + VSOCK_PKT_HDR_SIZE, 'g', len);
    c.n = 1;
    c.bufs[0] =
        (struct virtq_buf){0, VSOCK_PKT_HDR_SIZE + len, false, f->tx.buf};
    assert_int_equal(vsock_pkt_parse_tx(&f->tx.p, &c), VSOCK_PKT_OK);
    return &f->tx.p;
}

/* An RX packet with room for `room` payload bytes. */
static struct vsock_pkt *rpkt(struct cfx *f, uint32_t room)
{
    struct virtq_chain c = {0};

    c.n = 1;
    c.bufs[0] =
        (struct virtq_buf){0, VSOCK_PKT_HDR_SIZE + room, true, f->rx.buf};
    assert_int_equal(vsock_pkt_parse_rx(&f->rx.p, &c), VSOCK_PKT_OK);
    return &f->rx.p;
}

/* The next packet's op, or -1 if none. */
static int next_op(struct cfx *f, uint32_t room)
{
    struct vsock_pkt *p = rpkt(f, room);

    if (vsock_conn_recv_pkt(&f->c, p, NOW) < 0)
        return -1;
    assert_int_equal(p->hdr.src_port, f->c.local_port);
    assert_int_equal(p->hdr.dst_port, f->c.peer_port);
    assert_int_equal(p->hdr.buf_alloc, VSOCK_TXBUF_SIZE);
    assert_int_equal(p->hdr.fwd_cnt, f->c.fwd_cnt);
    return p->hdr.op;
}

static void peer_init(struct cfx *f, uint32_t buf_alloc)
{
    int fd = f->c.fd;

    vsock_conn_init_peer(&f->c, fd, 2, 3, 1000, 2000, buf_alloc);
    assert_int_equal(next_op(f, 0), SQ_VSOCK_OP_RESPONSE);
    assert_int_equal(f->c.state, VSOCK_CONN_ESTABLISHED);
}

static void test_local_init(void **state)
{
    struct cfx *f = *state;
    int fd = f->c.fd;

    vsock_conn_init_local(&f->c, fd, 2, 3, 1u << 30, 52);
    assert_int_equal(f->c.state, VSOCK_CONN_LOCAL_INIT);
    /* No credit yet (buf_alloc 0): nothing to watch. */
    assert_int_equal(vsock_conn_events(&f->c), 0);
    assert_int_equal(next_op(f, 0), SQ_VSOCK_OP_REQUEST);
    assert_true(vsock_conn_will_expire(&f->c, NOW));
    assert_false(vsock_conn_has_expired(&f->c, NOW + 1999999999ULL));
    assert_true(vsock_conn_has_expired(&f->c, NOW + 2000000000ULL));
    assert_int_equal(next_op(f, 0), -1);
    /* Data or a shutdown before the RESPONSE: dropped. */
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 5, 0, 4096, 0), NOW);
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_SHUTDOWN, 0, 3, 4096, 0),
                        NOW);
    assert_int_equal(f->c.state, VSOCK_CONN_LOCAL_INIT);
    assert_int_equal(recv(f->peer, f->rx.buf, 16, 0), -1);
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RESPONSE, 0, 0, 4096, 0),
                        NOW);
    assert_int_equal(f->c.state, VSOCK_CONN_ESTABLISHED);
    assert_false(f->c.has_expiry);
    assert_int_equal(vsock_conn_events(&f->c), VSOCK_EV_IN);
    assert_int_equal(vsock_conn_send_raw(&f->c, "OK 1\n", 5), 5);
}

static void test_rw_both_ways(void **state)
{
    struct cfx *f = *state;
    char b[16];

    peer_init(f, 4096);
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 10, 0, 4096, 0), NOW);
    assert_int_equal(read(f->peer, b, sizeof(b)), 10);
    assert_int_equal(f->c.fwd_cnt, 10);
    /* Host data: notify IN, then the packet. */
    assert_int_equal(write(f->peer, "abcdef", 6), 6);
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_true(f->c.pending_rx & VSOCK_PENDING_RW);
    /* While RW waits for a buffer, input is not watched (no spinning). */
    assert_int_equal(vsock_conn_events(&f->c), 0);
    assert_int_equal(next_op(f, 4), SQ_VSOCK_OP_RW);
    assert_int_equal(f->rx.p.hdr.len, 4);
    assert_memory_equal(f->rx.buf + VSOCK_PKT_HDR_SIZE, "abcd", 4);
    assert_int_equal(next_op(f, 100), SQ_VSOCK_OP_RW);
    assert_int_equal(f->rx.p.hdr.len, 2);
    assert_int_equal(f->c.rx_cnt, 6);
    /* Drained: EAGAIN clears RW. */
    assert_int_equal(next_op(f, 100), -1);
    assert_int_equal(vsock_conn_events(&f->c), VSOCK_EV_IN);
    /* A zero-room RX buffer reads nothing, which upstream takes as the
     * end of the stream. */
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_int_equal(next_op(f, 0), SQ_VSOCK_OP_SHUTDOWN);
    assert_int_equal(f->c.state, VSOCK_CONN_LOCAL_CLOSED);
}

static void test_credit_to_guest(void **state)
{
    struct cfx *f = *state;
    static uint8_t data[10000];

    peer_init(f, 100);
    assert_int_equal(write(f->peer, data, sizeof(data)), sizeof(data));
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RW);
    assert_int_equal(f->rx.p.hdr.len, 100);
    /* Out of credit with data waiting: ask, and stop watching input. */
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_CREDIT_REQUEST);
    assert_int_equal(next_op(f, 4096), -1);
    assert_int_equal(vsock_conn_events(&f->c), 0);
    /* The guest's update opens 50 more bytes. */
    vsock_conn_send_pkt(&f->c,
                        gpkt(f, SQ_VSOCK_OP_CREDIT_UPDATE, 0, 0, 100, 50), NOW);
    assert_int_equal(vsock_conn_events(&f->c), VSOCK_EV_IN);
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RW);
    assert_int_equal(f->rx.p.hdr.len, 50);
}

static void test_credit_wraps(void **state)
{
    struct cfx *f = *state;
    char b[64];

    /* Counters near 2^32: the arithmetic wraps as the protocol's. */
    peer_init(f, 64);
    f->c.rx_cnt = 0xfffffff0u;
    f->c.peer_buf_alloc = 64;
    f->c.peer_fwd_cnt = 0xffffffe0u; /* 16 in flight */
    assert_int_equal(write(f->peer, b, sizeof(b)), sizeof(b));
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RW);
    assert_int_equal(f->rx.p.hdr.len, 48);
    assert_int_equal(f->c.rx_cnt, 0x20);
}

static void test_credit_update_threshold(void **state)
{
    struct cfx *f = *state;
    static char sink[65536];
    uint32_t sent = 0;

    peer_init(f, 4096);
    /* Up to 60 KiB forwarded: the guest still sees >= 4 KiB free. */
    while (sent + 4096 <= VSOCK_TXBUF_SIZE - VSOCK_CREDIT_UPDATE_THRESHOLD) {
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 4096, 0, 4096, 0),
                            NOW);
        sent += 4096;
        assert_false(f->c.pending_rx & VSOCK_PENDING_CREDIT_UPDATE);
        assert_true(read(f->peer, sink, sizeof(sink)) > 0);
    }
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 1, 0, 4096, 0), NOW);
    assert_true(f->c.pending_rx & VSOCK_PENDING_CREDIT_UPDATE);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_CREDIT_UPDATE);
    assert_int_equal(f->rx.p.hdr.fwd_cnt, sent + 1);
    /* A CREDIT_REQUEST is answered. */
    vsock_conn_send_pkt(
        &f->c, gpkt(f, SQ_VSOCK_OP_CREDIT_REQUEST, 0, 0, 4096, 0), NOW);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_CREDIT_UPDATE);
    /* With something else pending the update is dropped (upstream). */
    f->c.pending_rx |= VSOCK_PENDING_CREDIT_UPDATE | VSOCK_PENDING_RESPONSE;
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RESPONSE);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_CREDIT_UPDATE);
}

static void test_txbuf_bound(void **state)
{
    struct cfx *f = *state;
    static char sink[65536];
    uint32_t total = 0;
    int rounds = 0;

    peer_init(f, 4096);
    /* Fill the socket, then the TX buffer. */
    while (vsock_txbuf_is_empty(&f->c.tx)) {
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 65536, 0, 4096, 0),
                            NOW);
        total += 65536;
        assert_true(++rounds < 1000);
    }
    assert_int_equal(vsock_conn_events(&f->c), VSOCK_EV_OUT | VSOCK_EV_IN);
    while (vsock_txbuf_len(&f->c.tx) + 4096 <= VSOCK_TXBUF_SIZE) {
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 4096, 0, 4096, 0),
                            NOW);
        total += 4096;
    }
    assert_int_equal(f->c.state, VSOCK_CONN_ESTABLISHED);
    assert_true(total - f->c.fwd_cnt <= VSOCK_TXBUF_SIZE);
    /* Drain a little: EPOLLOUT flushes, fwd_cnt moves, an update is due. */
    assert_true(read(f->peer, sink, sizeof(sink)) > 0);
    vsock_conn_notify(&f->c, VSOCK_EV_OUT);
    assert_true(f->c.pending_rx & VSOCK_PENDING_CREDIT_UPDATE);
    /* Past the credit: the buffer refuses, the stream resets. */
    while (f->c.state != VSOCK_CONN_KILLED) {
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 65536, 0, 4096, 0),
                            NOW);
        assert_true(++rounds < 2000);
    }
    assert_true(vsock_txbuf_is_empty(&f->c.tx));
    assert_null(f->c.tx.data);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RST);
    /* EPOLLOUT with nothing to flush: counted, harmless. */
    vsock_conn_notify(&f->c, VSOCK_EV_OUT);
    assert_int_equal(vsock_conn_events(&f->c), 0);
}

static void test_peer_shutdown(void **state)
{
    struct cfx *f = *state;
    static char sink[1 << 20];

    peer_init(f, 4096);
    vsock_conn_send_pkt(
        &f->c,
        gpkt(f, SQ_VSOCK_OP_SHUTDOWN, 0, SQ_VSOCK_FLAGS_SHUTDOWN_RCV, 4096, 0),
        NOW);
    assert_int_equal(f->c.state, VSOCK_CONN_PEER_CLOSED);
    /* The guest will not receive: input is not watched any more. */
    assert_int_equal(vsock_conn_events(&f->c), 0);
    /* Still accepts data from the guest; fill the socket to leave some in
     * the TX buffer. */
    for (int i = 0; i < 200 && vsock_txbuf_is_empty(&f->c.tx); i++)
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 65536, 0, 4096, 0),
                            NOW);
    assert_false(vsock_txbuf_is_empty(&f->c.tx));
    vsock_conn_send_pkt(
        &f->c,
        gpkt(f, SQ_VSOCK_OP_SHUTDOWN, 0, SQ_VSOCK_FLAGS_SHUTDOWN_SEND, 4096, 0),
        NOW);
    /* Both flags, data still buffered: no RST yet (the first SHUTDOWN
     * armed no timer, as upstream). */
    assert_false(f->c.pending_rx & VSOCK_PENDING_RST);
    /* RW after SHUTDOWN(SEND): dropped. */
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 5, 0, 4096, 0), NOW);
    /* The host drains; the last flush completes the shutdown. */
    while (!(f->c.pending_rx & VSOCK_PENDING_RST)) {
        while (read(f->peer, sink, sizeof(sink)) > 0)
            ;
        vsock_conn_notify(&f->c, VSOCK_EV_OUT);
    }
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RST);
}

static void test_shutdown_with_data_arms_timer(void **state)
{
    struct cfx *f = *state;

    peer_init(f, 4096);
    for (int i = 0; i < 200 && vsock_txbuf_is_empty(&f->c.tx); i++)
        vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 65536, 0, 4096, 0),
                            NOW);
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_SHUTDOWN, 0, 3, 4096, 0),
                        NOW);
    assert_true(vsock_conn_will_expire(&f->c, NOW));
    assert_true(vsock_conn_has_expired(&f->c, NOW + 2000000000ULL));
    /* No RST until the timer (the muxer's kill queue) fires. */
    for (int op; (op = next_op(f, 4096)) >= 0;)
        assert_int_not_equal(op, SQ_VSOCK_OP_RST);
}

static void test_host_eof_and_errors(void **state)
{
    struct cfx *f = *state;

    peer_init(f, 4096);
    shutdown(f->peer, SHUT_WR);
    vsock_conn_notify(&f->c, VSOCK_EV_IN);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_SHUTDOWN);
    assert_int_equal(f->rx.p.hdr.flags, 3);
    assert_int_equal(f->c.state, VSOCK_CONN_LOCAL_CLOSED);
    assert_true(vsock_conn_will_expire(&f->c, NOW));
    assert_int_equal(vsock_conn_events(&f->c), 0);
    /* An RW indication in a state that cannot carry data: RST. */
    f->c.pending_rx |= VSOCK_PENDING_RW;
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RST);
}

static void test_write_error_kills(void **state)
{
    struct cfx *f = *state;

    peer_init(f, 4096);
    close(f->peer);
    f->peer = socket(AF_UNIX, SOCK_STREAM, 0); /* for teardown */
    vsock_conn_send_pkt(&f->c, gpkt(f, SQ_VSOCK_OP_RW, 5, 0, 4096, 0), NOW);
    assert_int_equal(f->c.state, VSOCK_CONN_KILLED);
    assert_int_equal(next_op(f, 4096), SQ_VSOCK_OP_RST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rw_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_to_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit_update_threshold, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_txbuf_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_with_data_arms_timer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_eof_and_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_error_kills, setup,
                                        teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

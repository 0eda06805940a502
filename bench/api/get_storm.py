#!/usr/bin/env python3
"""GET storm: 10 keep-alive clients hammer GET /machine-config while one
writer keeps the vmm thread busy (SQUIB_TEST_VMM_DELAY_MS per write) and
publishing a new read mirror after every write. Prints GETs per second, the
worst GET latency, and the api thread's tid so that its system calls can be
counted meanwhile (docs/threads.md):

    bench/api/get_storm.py build/squib --seconds 3 --strace

With --strace the api thread is traced (strace -c, futex among the calls
counted) for the whole storm. Figures only: never fails on a time.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from vmm import read_response  # noqa: E402  (after the path insert)

GET = b"GET /machine-config HTTP/1.1\r\n\r\n"
BODY = b'{"vcpu_count": 2, "mem_size_mib": 256}'
PUT = (b"PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(BODY)) + BODY


def recv_response(s):
    return read_response(s)[0]


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("squib")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--delay-ms", default="20")
    ap.add_argument("--strace", action="store_true")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="squib-storm-")
    sock = os.path.join(d, "api.sock")
    env = dict(os.environ, SQUIB_TEST_VMM_DELAY_MS=a.delay_ms)
    p = subprocess.Popen([a.squib, "--api-sock", sock, "--level", "Error"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(sock):
        time.sleep(0.001)
    # One client (the writer) is one of the ten connections micro_http allows.
    clients = [connect(sock) for _ in range(a.clients - 1)]
    writer = connect(sock)
    recv_response(clients[0]) if clients[0].send(GET) else None
    api_tid = None
    for t in os.listdir("/proc/%d/task" % p.pid):
        with open("/proc/%d/task/%s/comm" % (p.pid, t)) as f:
            if f.read().strip() == "fc_api":
                api_tid = int(t)
    tracer = None
    if a.strace and api_tid:
        out = os.path.join(d, "strace.txt")
        tracer = subprocess.Popen(["strace", "-c", "-o", out, "-p", str(api_tid)],
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    stop = time.monotonic() + a.seconds
    counts = [0] * len(clients)
    worst = [0.0] * len(clients)
    writes = [0]

    def get_loop(i):
        s = clients[i]
        while time.monotonic() < stop:
            t0 = time.monotonic()
            s.sendall(GET)
            recv_response(s)
            worst[i] = max(worst[i], time.monotonic() - t0)
            counts[i] += 1

    def put_loop():
        while time.monotonic() < stop:
            writer.sendall(PUT)
            recv_response(writer)
            writes[0] += 1

    ts = [threading.Thread(target=get_loop, args=(i,)) for i in range(len(clients))]
    ts.append(threading.Thread(target=put_loop))
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if tracer:
        tracer.terminate()
        tracer.wait()
    p.kill()
    p.wait()
    total = sum(counts)
    print("GET storm: %d clients, %d GETs in %.1f s (%.0f/s), worst GET %.2f ms; "
          "%d writes (each %s ms on the vmm thread, each publishing a mirror)"
          % (len(clients), total, a.seconds, total / a.seconds, max(worst) * 1000,
             writes[0], a.delay_ms))
    if tracer:
        with open(out) as f:
            text = f.read()
        print("api thread (tid %d) system calls during the storm:" % api_tid)
        sys.stdout.write(text)
        futex = [l for l in text.splitlines() if l.split() and l.split()[-1] == "futex"]
        print("futex calls on the api thread: %s" % (futex[0].split()[3] if futex else "0"))


if __name__ == "__main__":
    main()

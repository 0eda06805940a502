"""HTTP-layer conformance of the API socket (digest 1.1, 1.6, 2.x), byte for byte."""
import os
import socket
import subprocess
import threading
import time

from conftest import SQUIB, Client

HDR = b"HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"


def fault_bytes(status, msg):
    body = b'{"fault_message":"%s"}' % msg
    return (HDR % status) + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_204_exact_bytes(api):
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert r.raw == b"HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n"


def test_400_exact_bytes(api):
    api.send_raw(b"PUT /snapshot HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    r = api.recv()
    assert r.raw == (
        b"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
        b"Content-Type: application/json\r\nContent-Length: 52\r\n\r\n"
        b'{"fault_message":"Missing snapshot operation type."}'
    )


def test_200_headers(api):
    r = api.get("/version")
    assert r.status_line == b"HTTP/1.1 200 "
    assert [k for k, _ in r.headers] == [b"Server", b"Connection", b"Content-Type", b"Content-Length"]
    assert r.body == b'{"firecracker_version":"1.17.0-dev"}'


def test_http10_answered_as_http11(api):
    api.send_raw(b"GET /version HTTP/1.0\r\n\r\n")
    r = api.recv()
    assert r.status_line == b"HTTP/1.1 200 "
    assert r.header("Connection") == "keep-alive"


def test_keep_alive_many_requests(api):
    for _ in range(50):
        assert api.get("/machine-config").status == 200


def test_pipelining_in_order(api):
    api.send_raw(b"GET /version HTTP/1.1\r\n\r\n"
                 b"PUT /machine-config HTTP/1.1\r\nContent-Length: 38\r\n\r\n"
                 b'{"vcpu_count": 2, "mem_size_mib": 256}'
                 b"GET /machine-config HTTP/1.1\r\n\r\n")
    r1, r2, r3 = api.recv(), api.recv(), api.recv()
    assert r1.status == 200 and b"firecracker_version" in r1.body
    assert r2.status == 204
    assert r3.status == 200 and r3.json()["vcpu_count"] == 2


def parse_error_bytes(msg):
    body = b'{ "error": "%s\nAll previous unanswered requests will be dropped." }' % msg
    return (HDR % 400) + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_bad_method(api):
    api.send_raw(b"POST /version HTTP/1.1\r\n\r\n")
    assert api.recv().raw == parse_error_bytes(b"Invalid HTTP Method: Unsupported HTTP method.")


def test_bad_version(api):
    api.send_raw(b"GET /version HTTP/2.0\r\n\r\n")
    assert api.recv().raw == parse_error_bytes(b"Invalid HTTP Version: Unsupported HTTP version.")


def test_payload_limit_default(squib):
    c = squib.client()
    c.send_raw(b"PUT /mmds HTTP/1.1\r\nContent-Length: 51201\r\n\r\n")
    r = c.recv()
    assert r.raw == parse_error_bytes(
        b"Request payload with size 51201 is larger than the limit of 51200 allowed by server.")


def test_payload_limit_flag(squib_factory):
    s = squib_factory(["--http-api-max-payload-size", "250"])
    c = s.client()
    c.send_raw(b"PUT /mmds HTTP/1.1\r\nContent-Length: 260\r\n\r\n")
    r = c.recv()
    # Byte-exact example from the digest (2.5).
    assert r.raw == (
        b"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
        b"Content-Type: application/json\r\nContent-Length: 145\r\n\r\n"
        b'{ "error": "Request payload with size 260 is larger than the limit of 250 allowed by server.'
        b'\nAll previous unanswered requests will be dropped." }')
    # The connection stays usable.
    assert c.get("/version").status == 200


def test_connection_limit(squib):
    clients = [squib.client() for _ in range(10)]
    for c in clients:
        assert c.get("/version").status == 200
    extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    extra.connect(squib.sock_path)
    extra.settimeout(5)
    data = b""
    while True:
        chunk = extra.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data == (b"HTTP/1.1 503\r\nServer: Firecracker API\r\nConnection: close\r\n"
                    b"Content-Length: 40\r\n\r\n{ \"error\": \"Too many open connections\" }")
    extra.close()
    clients[0].close()
    time.sleep(0.1)
    again = squib.client()
    assert again.get("/version").status == 200


def test_socket_in_use(squib_factory, tmp_path):
    s1 = squib_factory()
    s2 = squib_factory(["--api-sock", s1.sock_path], wait=False)
    assert s2.wait(10) == 1
    out = s2.output()
    assert ("Failed to open the API socket at: %s. Check that it is not already used." % s1.sock_path) in out
    assert "Firecracker exiting with error. exit_code=1" in out
    # The first instance still serves, and its socket was not unlinked.
    assert os.path.exists(s1.sock_path)
    assert s1.client().get("/version").status == 200


def test_socket_not_unlinked_at_exit(squib_factory):
    s = squib_factory()
    s.proc.terminate()
    s.proc.wait()
    assert os.path.exists(s.sock_path)


def test_chunked_is_not_decoded(api):
    api.send_raw(b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    r = api.recv()
    assert r.status == 400 and r.fault == "Empty PUT request."


def test_expect_continue(api):
    body = b'{"vcpu_count": 1, "mem_size_mib": 64}'
    api.send_raw(b"PUT /machine-config HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    interim = api.sock.recv(4096)
    assert interim.startswith(b"HTTP/1.1 100 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n")
    api.send_raw(body)
    rest = interim[len(b"HTTP/1.1 100 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n"):]
    if rest:
        api.leftover = rest
    assert api.recv().status == 204


def test_concurrent_clients(squib):
    errors = []

    def worker(n):
        try:
            c = Client(squib.sock_path)
            for i in range(30):
                r = c.get("/machine-config")
                if r.status != 200:
                    errors.append(r.raw)
            c.close()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_socket_accepts_once_path_exists(tmp_path):
    """The API socket's path appears only once it accepts connections: a
    client that polls for the path and connects at once is never refused.
    Many starts, since the window used to be a few microseconds wide."""
    refused = 0
    for i in range(40):
        path = str(tmp_path / ("api%d.sock" % i))
        proc = subprocess.Popen([SQUIB, "--api-sock", path, "--level", "Error"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, cwd=str(tmp_path))
        try:
            deadline = time.time() + 10
            while not os.path.exists(path):
                assert proc.poll() is None and time.time() < deadline
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
            except ConnectionRefusedError:
                refused += 1
            s.close()
        finally:
            proc.kill()
            proc.wait()
        # Only the final name is left: no temporary name behind.
        assert sorted(os.listdir(str(tmp_path))) == sorted(
            "api%d.sock" % j for j in range(i + 1))
    assert refused == 0

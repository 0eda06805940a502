"""The controller: GETs never wait for a busy vmm thread; slow writes get 504
and still complete whole (docs/compat.md)."""
import time


def test_get_served_while_vmm_busy(squib_test_factory):
    # Every write keeps the vmm thread busy for 1.5 s.
    s = squib_test_factory(env={"SQUIB_TEST_VMM_DELAY_MS": "1500"})
    writer, reader = s.client(), s.client()
    writer.send_raw(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 38\r\n\r\n"
                    b'{"vcpu_count": 2, "mem_size_mib": 256}')
    time.sleep(0.1)  # the write is now on the vmm thread
    t0 = time.monotonic()
    for _ in range(20):
        r = reader.get("/machine-config")
        assert r.status == 200
        # The mirror still shows the configuration before the write.
        assert r.json()["vcpu_count"] == 1
    elapsed = time.monotonic() - t0
    # 20 reads while the vmm thread sleeps: none of them waited for it.
    assert elapsed < 1.0, elapsed
    assert writer.recv().status == 204
    assert reader.get("/machine-config").json()["vcpu_count"] == 2


def test_write_timeout_504_then_completes(squib_test_factory):
    s = squib_test_factory(env={"SQUIB_TEST_VMM_DELAY_MS": "800",
                           "SQUIB_TEST_ACTION_TIMEOUT_MS": "200"})
    c = s.client()
    r = c.put("/machine-config", {"vcpu_count": 4, "mem_size_mib": 512})
    assert r.status == 504
    assert r.fault == ("The VMM did not complete the PUT_MACHINE_CONFIG request in time; it will "
                       "still be applied or rejected as a whole.")
    # The connection keeps working and the write was applied whole.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        cfg = c.get("/machine-config").json()
        if cfg["vcpu_count"] == 4:
            break
        time.sleep(0.05)
    assert cfg == {"vcpu_count": 4, "mem_size_mib": 512, "smt": False,
                   "track_dirty_pages": False, "huge_pages": "None"}


def test_failed_write_leaves_nothing_half_applied(api):
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}).status == 204
    r = api.put("/machine-config", {"vcpu_count": 3, "mem_size_mib": 64, "smt": True})
    assert r.status == 400
    assert api.get("/machine-config").json()["mem_size_mib"] == 256


def test_request_logging(squib):
    c = squib.client()
    c.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    c.put("/mmds", {"secret": "x"})
    c.put("/snapshot", {})
    time.sleep(0.2)
    out = squib.output()
    assert ('The API server received a Put request on "/machine-config" with body '
            '"{\\"vcpu_count\\": 1, \\"mem_size_mib\\": 128}".') in out
    assert 'The API server received a Put request on "/mmds".' in out
    assert "secret" not in out
    assert "The request was executed successfully. Status code: 204 No Content." in out
    assert ("Received Error. Status code: 400 Bad Request. Message: Missing snapshot operation type."
            in out)
    assert "API server started." in out
    assert "Listening on API socket (\"%s\")." % squib.sock_path in out

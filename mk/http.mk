# mk/http.mk: build rules of the HTTP layer's tests.
#
# test_server stubs recvmsg() to inject a read error (the 500 path), which
# real Unix sockets cannot produce on demand: --wrap sends the server's calls
# to __wrap_recvmsg in the test, which forwards to the real one otherwise.
$(BUILD)/tests/unit/test_server: LDFLAGS += -Wl,--wrap=recvmsg

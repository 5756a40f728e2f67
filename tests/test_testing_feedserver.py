"""The loopback feed server the network tests stand on (tracker/testing/feedserver.py):
a client hanging up is silent, a handler bug is kept for the test to see, and neither is
printed (a CliRunner would capture a printed traceback as the command's output)."""

import socket
import struct
import threading
import time

from tracker.testing.feedserver import FeedServer, Route


def _handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "process_request_thread" in t.name}


def _wait_for_handlers_to_end(before: set[threading.Thread]) -> None:
    deadline = time.monotonic() + 10
    while _handler_threads() - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _handler_threads() - before, "a handler thread did not end"


def test_a_client_that_resets_the_connection_is_not_an_error(capfd):
    with FeedServer() as server:
        before = _handler_threads()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(b"GET /missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while not answer.endswith(b"not found"):
                answer += client.recv(4096)
            # Close with a reset while the server waits for the next request on this
            # keep-alive connection: its read fails with ECONNRESET.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        _wait_for_handlers_to_end(before)
        assert answer.startswith(b"HTTP/1.1 404")
        assert server.errors == []
        assert server.error_report() == ""
    assert "Exception occurred" not in capfd.readouterr().err


def test_a_handler_bug_is_kept_not_printed(capfd):
    def broken(handler):
        raise ValueError("a bug in a route")

    with FeedServer() as server:
        server.routes["/broken"] = broken
        before = _handler_threads()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(b"GET /broken HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert client.recv(4096) == b""  # the server closed the connection, no answer
        _wait_for_handlers_to_end(before)
        assert server.errors == ["ValueError: a bug in a route"]
        # what the benchmarks print (and exit non-zero with) instead
        assert server.error_report() == (
            "feed server: 1 handler error(s), first: ValueError: a bug in a route")
    assert "Exception occurred" not in capfd.readouterr().err

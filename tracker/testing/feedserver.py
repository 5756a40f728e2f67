"""A real HTTP server on 127.0.0.1 with programmable responses, for feed tests
and the refresh benchmark (bench/refresh_feeds.py).

Each path answers with a :class:`Route`: status, headers and body, optional
ETag / Last-Modified validators (a matching conditional request gets 304),
gzip, a delay before the headers, or a slow drip of the body. Every request
is logged with its headers so tests can check what the client sent.

A client that hangs up (a timeout or size test, or a client that does not read
a 404's body) is normal here and silent; any other error in a handler is kept
in ``FeedServer.errors`` instead of being printed (socketserver prints to
stderr, which a CliRunner under test would capture as the command's output).
"""

from __future__ import annotations

import gzip
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from tracker.config import FetchConfig


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    delay: float = 0.0  # seconds before anything is sent
    drip: float = 0.0  # seconds between single bytes of the body
    send_length: bool = True


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the client's
    # delayed ACK would add ~40 ms to every response.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.log(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = owner.routes.get(self.path.split("?")[0])
        if callable(route):
            route = route(self)
        if route is None:
            route = Route(b"not found", status=404, content_type="text/plain")
        self._answer(route)

    def _answer(self, route: Route) -> None:
        if route.delay and owner_released(self.server.owner, route.delay):
            return
        not_modified = (
            (route.etag is not None and self.headers.get("If-None-Match") == route.etag)
            or (route.last_modified is not None
                and self.headers.get("If-Modified-Since") == route.last_modified)
        )
        body = b"" if not_modified else route.body
        if route.gzip and body:
            body = gzip.compress(body)
        self.send_response(304 if not_modified else route.status)
        if not not_modified:
            self.send_header("Content-Type", route.content_type)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        if route.gzip and body:
            self.send_header("Content-Encoding", "gzip")
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.send_length or not_modified:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not route.drip:
            self.wfile.write(body)
            return
        for index in range(len(body)):
            self.wfile.write(body[index:index + 1])
            self.wfile.flush()
            if owner_released(self.server.owner, route.drip):
                return


def owner_released(owner: "FeedServer", seconds: float) -> bool:
    """Wait ``seconds`` (server-side behaviour under test); True if the server is stopping."""
    return owner.stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops simultaneous connects (the client
    # then retries after 1 s and hits its connect timeout); real servers allow more.
    request_queue_size = 256
    owner: "FeedServer"

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            return  # the client hung up, mid-answer or before its next request
        self.owner.record_error(f"{type(error).__name__}: {error}")


class FeedServer:
    """``with FeedServer() as server: server.routes['/feed'] = Route(...)``"""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[BaseHTTPRequestHandler], Route]] = {}
        self.requests: list[Request] = []
        self.errors: list[str] = []  # handler errors other than a client hanging up
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def record_error(self, error: str) -> None:
        with self._lock:
            self.errors.append(error)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def last_request(self, path: str) -> Request:
        with self._lock:
            return [r for r in self.requests if r.path == path][-1]

    def error_report(self) -> str:
        """One line for a benchmark's output: '' if every request was handled cleanly."""
        with self._lock:
            errors = list(self.errors)
        if not errors:
            return ""
        return f"feed server: {len(errors)} handler error(s), first: {errors[0]}"

    def __enter__(self) -> "FeedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()  # releases handlers that are delaying or dripping
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def rss(entries: list[dict], title: str = "Test Feed", link: str = "http://example.com/") -> bytes:
    """A small RSS 2.0 document; each entry dict may have title, link, guid,
    description, content (HTML, as content:encoded), pubDate, author."""
    items = []
    for entry in entries:
        parts = []
        for key in ("title", "link", "guid", "pubDate", "author"):
            if key in entry:
                parts.append(f"<{key}>{escape(entry[key])}</{key}>")
        if "description" in entry:
            parts.append(f"<description>{escape(entry['description'])}</description>")
        if "content" in entry:
            parts.append(f"<content:encoded><![CDATA[{entry['content']}]]></content:encoded>")
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{escape(title)}</title><link>{escape(link)}</link>"
        + "".join(items) + "</channel></rss>"
    ).encode("utf-8")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fast_fetch_config(**overrides) -> "FetchConfig":
    """Short timeouts and limits so failure tests stay fast (seconds, not minutes)."""
    from tracker.config import FetchConfig

    values = dict(connect_timeout=1.0, read_timeout=0.5, total_timeout=1.5, max_bytes=50_000,
                  max_redirects=3, concurrency=8, interval_minutes=60.0,
                  max_consecutive_failures=3, backoff_base_minutes=5.0,
                  backoff_max_minutes=120.0, user_agent="tracker-tests/1.0",
                  # the test servers listen on 127.0.0.1
                  allow_private_addresses=True)
    values.update(overrides)
    return FetchConfig(**values)

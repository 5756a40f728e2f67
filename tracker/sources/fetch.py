"""Polite HTTP fetching of feeds and linked pages: network only, no storage.

feedparser can fetch URLs itself but has no timeout, no size cap and no
politeness, so fetching is done here with httpx and only the bytes go to
feedparser. The rules (all from ``[fetch]`` in the config):

* a clear ``User-Agent``, gzip/deflate accepted, at most ``max_redirects``
  redirects and only ``http``/``https`` URLs without credentials (a redirect
  elsewhere fails); redirects are followed here, hop by hop, so that each
  hop is checked and a chain of permanent ones (301/308) is reported;
* only public addresses: every connection goes through :class:`GuardedBackend`,
  which resolves the host, refuses loopback, private, link-local and other
  non-public addresses (:mod:`tracker.sources.addresses`) and connects to the
  address it checked -- unless ``allow_private_addresses``;
* connect and read timeouts per socket operation, plus ``total_timeout`` for
  the whole request, so a server that drips bytes cannot hold a worker;
* a body larger than ``max_bytes`` (by Content-Length, or counted while
  streaming -- the bytes on the wire and the decoded bytes, both) is cut off
  and reported as an error; the body is decoded here, a bounded piece at a
  time, so a small compressed "bomb" never expands in memory; stacked or
  unknown ``Content-Encoding`` values are refused;
* conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the last
  response, so an unchanged feed answers 304 with no body;
* ``Retry-After`` (seconds or an HTTP date) is read from error responses
  (429, 503, ...) and :func:`backoff_minutes` never retries sooner than it.

:class:`Fetcher` runs the requests concurrently (at most ``concurrency`` at a
time) on an asyncio loop in a background thread and hands back
``concurrent.futures.Future`` objects, so the caller's thread, which owns the
SQLite connection, stores results as they arrive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import email.utils
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpcore
import httpx

from tracker.config import FetchConfig
from tracker.errors import InvalidURL, TrackerError, describe
from tracker.sources.addresses import (
    BlockedAddress, check_address, literal_address, parse_networks,
)
from tracker.sources.urls import check_url
from tracker.timeutil import utc_now, utc_now_iso

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


class FetchFailed(TrackerError):
    """The server answered, but not with something usable (status, size)."""


@dataclass
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    accept: str = FEED_ACCEPT


@dataclass
class FetchResult:
    url: str
    started_at: str
    outcome: str = "error"  # ok / not_modified / error
    status_code: int | None = None
    final_url: str | None = None
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    retry_after_s: float | None = None
    error: str | None = None
    duration_ms: float = 0.0
    bytes_read: int = 0  # on the wire (compressed)
    # Where a chain of permanent redirects (301/308 only) ended: the feed has moved.
    permanent_url: str | None = None
    redirects: list[int] = field(default_factory=list)  # status codes of the hops

    @property
    def ok(self) -> bool:
        return self.outcome in ("ok", "not_modified")


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def cache_lifetime_s(headers: dict[str, str]) -> float | None:
    """Seconds the server says its response stays fresh (``Cache-Control: max-age``)."""
    for directive in (headers.get("cache-control") or "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() in ("max-age", "s-maxage") and value.strip().isdigit():
            return float(value.strip())
    return None


def next_fetch_minutes(config: FetchConfig, max_age_s: float | None = None,
                       ttl_minutes: float | None = None) -> float:
    """Minutes until a healthy feed is fetched again: ``interval_minutes``, or longer
    when the server (Cache-Control max-age) or the feed (RSS ``<ttl>``) asks for it,
    capped at ``backoff_max_minutes``."""
    asked = max((max_age_s or 0) / 60.0, ttl_minutes or 0)
    return max(config.interval_minutes, min(asked, config.backoff_max_minutes))


def backoff_minutes(failures: int, config: FetchConfig, retry_after_s: float | None = None) -> float:
    """Minutes until the next try after ``failures`` consecutive failures (exponential).

    ``Retry-After`` from the server wins when it asks for longer; everything is
    capped at ``backoff_max_minutes`` so a feed is never forgotten entirely.
    """
    exponent = min(max(failures - 1, 0), 30)
    delay = config.backoff_base_minutes * (2**exponent)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s / 60.0)
    return min(delay, config.backoff_max_minutes)


REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT_REDIRECTS = (301, 308)
ACCEPT_ENCODING = "gzip, deflate"  # what _BoundedDecoder decodes


def describe_error(exc: BaseException, config: FetchConfig) -> str:
    """A one-line reason for ``fetches.error`` and ``errors``."""
    if isinstance(exc, httpx.ConnectError) and str(exc).startswith("refused to connect"):
        return str(exc)  # GuardedBackend's reason, as it wrote it
    if isinstance(exc, TimeoutError):  # asyncio.timeout: the whole request took too long
        return f"timed out: no complete response within total_timeout={config.total_timeout:g}s"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting (connect_timeout={config.connect_timeout:g}s)"
    if isinstance(exc, httpx.ReadTimeout):
        return f"timed out waiting for data (read_timeout={config.read_timeout:g}s)"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than max_redirects={config.max_redirects})"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"redirected to a URL that is not http(s): {exc}"
    return describe(exc)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses :func:`check_address`
    allows: the host is resolved here and the connection made to the checked address
    (TLS still verifies the certificate against the host name)."""

    def __init__(self, allow_private: bool, allowed: tuple = ()):
        self.allow_private = allow_private
        self.allowed = allowed
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None,
                          socket_options=None):
        literal = literal_address(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"timed out resolving {host}") from None
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        allowed, blocked = [], None
        for address in addresses:
            try:
                check_address(address, host, self.allow_private, self.allowed)
                allowed.append(address)
            except BlockedAddress as exc:
                blocked = exc
        if not allowed:
            raise httpcore.ConnectError(str(blocked or f"no address for {host}"))
        error: Exception | None = None
        for address in allowed:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                      local_address=local_address,
                                                      socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error  # type: ignore[misc]

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _BoundedDecoder:
    """Decodes a gzip or deflate body a bounded piece at a time, refusing to produce
    more than ``limit`` bytes: memory stays near ``limit`` whatever the ratio."""

    def __init__(self, encoding: str | None, limit: int):
        self.encoding = encoding
        self.limit = limit
        self.total = 0
        self._d = None
        if encoding in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self.encoding is None:
            return self._count(data)
        if self._d is None:  # deflate: zlib-wrapped, or raw as some servers send it
            zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        out = []
        try:
            while data:
                piece = self._d.decompress(data, self.limit - self.total + 1)
                out.append(self._count(piece))
                data = self._d.unconsumed_tail
                if self._d.eof and self._d.unused_data:  # a gzip file of several members
                    data = self._d.unused_data + data
                    self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as exc:
            raise FetchFailed(f"the {self.encoding} body is corrupt: {exc}") from None
        return b"".join(out)

    def _count(self, piece: bytes) -> bytes:
        self.total += len(piece)
        if self.total > self.limit:
            raise FetchFailed(f"response too large: more than max_bytes={self.limit} bytes "
                              "once decoded")
        return piece


def _content_encoding(response: httpx.Response) -> str | None:
    """The one encoding the body has (None = identity); stacked or unknown ones are refused."""
    header = response.headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > 1:
        raise FetchFailed(f"refused: stacked Content-Encoding {header!r}")
    if codings and codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise FetchFailed(f"refused: unsupported Content-Encoding {header!r}")
    return codings[0] if codings else None


class Fetcher:
    """Concurrent polite fetching on a private event loop; use as a context manager.

    ``submit`` may be called from any thread and returns a Future; at most
    ``config.concurrency`` requests are in flight at once. ``close`` cancels
    whatever has not finished and closes the HTTP client.
    """

    def __init__(self, config: FetchConfig):
        self.config = config
        self._allowed = parse_networks(config.allowed_networks)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tracker-fetch",
                                        daemon=True)
        self._thread.start()
        self._closed = False
        self._client: httpx.AsyncClient = self._call(self._open())

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open(self) -> httpx.AsyncClient:
        # Created on the loop's thread: asyncio primitives belong to one loop.
        self._semaphore = asyncio.Semaphore(max(1, self.config.concurrency))
        limits = httpx.Limits(max_connections=max(1, self.config.concurrency),
                              max_keepalive_connections=max(1, self.config.concurrency))
        transport = httpx.AsyncHTTPTransport(limits=limits)
        # Every connection through the address check (httpx has no public hook for it).
        transport._pool._network_backend = GuardedBackend(self.config.allow_private_addresses,
                                                          self._allowed)
        return httpx.AsyncClient(
            transport=transport,
            # Environment proxies would connect around the address check.
            trust_env=False,
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(
                connect=self.config.connect_timeout,
                read=self.config.read_timeout,
                write=self.config.read_timeout,
                pool=self.config.total_timeout,
            ),
            follow_redirects=False,  # followed in _download, hop by hop
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def submit(self, request: FetchRequest) -> concurrent.futures.Future[FetchResult]:
        if self._closed:
            raise RuntimeError("Fetcher is closed")
        return asyncio.run_coroutine_threadsafe(self._fetch(request), self._loop)

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one URL and wait for the result."""
        return self.submit(request).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    async def _shutdown(self) -> None:
        # Cancel what is still running and let it unwind before the loop stops,
        # so no task is destroyed while pending and every connection is closed.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    async def _fetch(self, request: FetchRequest) -> FetchResult:
        async with self._semaphore:
            result = FetchResult(url=request.url, started_at=utc_now_iso())
            started = time.monotonic()
            try:
                check_url(request.url, self.config.allow_private_addresses, self._allowed)
                async with asyncio.timeout(self.config.total_timeout):
                    await self._download(request, result)
            except (TimeoutError, httpx.HTTPError, httpx.InvalidURL, FetchFailed,
                    InvalidURL) as exc:
                result.outcome = "error"
                result.error = describe_error(exc, self.config)
                result.content = b""
            result.duration_ms = round((time.monotonic() - started) * 1000, 1)
            return result

    async def _download(self, request: FetchRequest, result: FetchResult) -> None:
        headers = {"Accept": request.accept}
        if self.config.conditional_get:
            if request.etag:
                headers["If-None-Match"] = request.etag
            if request.last_modified:
                headers["If-Modified-Since"] = request.last_modified
        url, permanent = request.url, True
        for hop in range(self.config.max_redirects + 1):
            async with self._client.stream("GET", url, headers=headers) as response:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    if hop == self.config.max_redirects:
                        raise FetchFailed(f"too many redirects (more than max_redirects="
                                          f"{self.config.max_redirects})")
                    url = urljoin(str(response.url), location.strip())
                    try:
                        check_url(url, self.config.allow_private_addresses, self._allowed)
                    except InvalidURL as exc:
                        raise FetchFailed(f"redirected to a URL that may not be fetched: {exc}") from None
                    permanent = permanent and response.status_code in PERMANENT_REDIRECTS
                    result.redirects.append(response.status_code)
                    continue
                if hop and permanent:
                    result.permanent_url = url
                await self._read(response, result)
                return

    async def _read(self, response: httpx.Response, result: FetchResult) -> None:
        result.status_code = response.status_code
        result.final_url = str(response.url)
        result.headers = {k.lower(): v for k, v in response.headers.items()}
        result.etag = response.headers.get("etag")
        result.last_modified = response.headers.get("last-modified")
        if response.status_code == 304:
            result.outcome = "not_modified"
            return
        if response.status_code >= 400 or response.status_code < 200:
            result.retry_after_s = parse_retry_after(response.headers.get("retry-after"))
            raise FetchFailed(f"HTTP {response.status_code} {response.reason_phrase}".strip())
        if response.status_code >= 300:  # a redirect without a usable Location
            raise FetchFailed(f"HTTP {response.status_code} without a usable redirect")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.config.max_bytes:
            raise FetchFailed(
                f"response too large: Content-Length {declared} > max_bytes={self.config.max_bytes}"
            )
        decoder = _BoundedDecoder(_content_encoding(response), self.config.max_bytes)
        chunks: list[bytes] = []
        async for chunk in response.aiter_raw():
            result.bytes_read += len(chunk)
            if result.bytes_read > self.config.max_bytes:
                raise FetchFailed(
                    f"response too large: more than max_bytes={self.config.max_bytes} bytes"
                )
            chunks.append(decoder.feed(chunk))
        result.content = b"".join(chunks)
        result.outcome = "ok"

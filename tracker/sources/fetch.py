"""Polite HTTP fetching of feeds and linked pages: network only, no storage.

feedparser can fetch URLs itself but has no timeout, no size cap and no
politeness, so fetching is done here with httpx and only the bytes go to
feedparser. The rules (all from ``[fetch]`` in the config):

* a clear ``User-Agent``, gzip/deflate accepted, at most ``max_redirects``
  redirects and only ``http``/``https`` URLs (a redirect elsewhere fails);
* connect and read timeouts per socket operation, plus ``total_timeout`` for
  the whole request, so a server that drips bytes cannot hold a worker;
* a body larger than ``max_bytes`` (by Content-Length, or counted while
  streaming the decoded body) is cut off and reported as an error;
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
import threading
import time
from dataclasses import dataclass, field

import httpx

from tracker.config import FetchConfig
from tracker.errors import InvalidURL, TrackerError, describe
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
    bytes_read: int = 0

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


def describe_error(exc: BaseException, config: FetchConfig) -> str:
    """A one-line reason for ``fetches.error`` and ``errors``."""
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


class Fetcher:
    """Concurrent polite fetching on a private event loop; use as a context manager.

    ``submit`` may be called from any thread and returns a Future; at most
    ``config.concurrency`` requests are in flight at once. ``close`` cancels
    whatever has not finished and closes the HTTP client.
    """

    def __init__(self, config: FetchConfig):
        self.config = config
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
        return httpx.AsyncClient(
            headers={"User-Agent": self.config.user_agent},
            timeout=httpx.Timeout(
                connect=self.config.connect_timeout,
                read=self.config.read_timeout,
                write=self.config.read_timeout,
                pool=self.config.total_timeout,
            ),
            follow_redirects=True,
            max_redirects=self.config.max_redirects,
            limits=httpx.Limits(
                max_connections=max(1, self.config.concurrency),
                max_keepalive_connections=max(1, self.config.concurrency),
            ),
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
                check_url(request.url)
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
        async with self._client.stream("GET", request.url, headers=headers) as response:
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
            chunks: list[bytes] = []
            async for chunk in response.aiter_bytes():
                result.bytes_read += len(chunk)
                if result.bytes_read > self.config.max_bytes:
                    raise FetchFailed(
                        f"response too large: more than max_bytes={self.config.max_bytes} bytes"
                    )
                chunks.append(chunk)
            result.content = b"".join(chunks)
            result.outcome = "ok"

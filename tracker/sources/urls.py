"""Which URLs may be fetched (no I/O, no heavy imports: the config checks feed URLs with it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tracker.errors import InvalidURL


def check_url(url: str) -> str:
    """Return ``url`` stripped if it is an absolute http(s) URL, else raise :class:`InvalidURL`.

    Local files are ingested with ``tracker ingest``, never fetched: a feed
    URL like ``file:///etc/passwd`` must not read the disk.
    """
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"only http and https URLs can be fetched, not {url!r} "
                         "(local files are ingested with tracker ingest)")
    if not parts.hostname:
        raise InvalidURL(f"URL has no host: {url!r}")
    return url

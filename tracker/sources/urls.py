"""Which URLs may be fetched (no I/O, no heavy imports: the config checks feed URLs with it)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tracker.errors import InvalidURL
from tracker.sources.addresses import check_address, literal_address

# Host names that always mean this machine, whatever DNS says.
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def check_url(url: str, allow_private: bool = False, allowed: tuple = ()) -> str:
    """Return ``url`` stripped if it may be fetched, else raise :class:`InvalidURL`.

    An absolute http(s) URL without credentials. Local files are ingested with
    ``tracker ingest``, never fetched: a feed URL like ``file:///etc/passwd``
    must not read the disk. A host written as an IP address (or ``localhost``)
    must be public unless ``allow_private``; names are checked again after they
    are resolved, at connection time (:mod:`tracker.sources.addresses`);
    ``allowed`` networks are accepted too.
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"only http and https URLs can be fetched, not {url!r} "
                         "(local files are ingested with tracker ingest)")
    if not hostname:
        raise InvalidURL(f"URL has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("URLs with a user name or password are refused (they would be "
                         f"stored and published): {parts.scheme}://…@{hostname}/…")
    if not allow_private:
        if hostname.lower().rstrip(".") in LOCAL_NAMES:
            check_address("127.0.0.1", hostname, allow_private, allowed)
        address = literal_address(hostname)
        if address is not None:
            check_address(address, hostname, allow_private, allowed)
    return url

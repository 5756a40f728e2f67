"""Feed discovery: the RSS/Atom feeds a web page links to (``<link rel="alternate">``). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

FEED_TYPES = {
    "application/rss+xml": "RSS", "application/atom+xml": "Atom",
    "application/rdf+xml": "RDF", "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
}


@dataclass(frozen=True)
class FeedLink:
    url: str
    title: str | None
    kind: str  # RSS / Atom / RDF


def looks_like_html(content: bytes, content_type: str | None = None) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def find_feed_links(content: bytes, base_url: str) -> list[FeedLink]:
    """Every RSS, Atom or RDF feed the page advertises, in page order, without repeats
    (JSON feeds are left out: the tracker reads RSS, Atom and RDF)."""
    import lxml.html

    try:
        document = lxml.html.fromstring(content)
    except (ValueError, lxml.etree.ParserError):
        return []
    found: dict[str, FeedLink] = {}
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.get("type") or "").split(";")[0].strip().lower())
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind and kind != "JSON Feed" and href:
            url = urljoin(base_url, href)
            found.setdefault(url, FeedLink(url, (link.get("title") or "").strip() or None, kind))
    return list(found.values())

"""Feed bytes -> :class:`Article` objects, with feedparser. No I/O.

The same function serves ``tracker refresh`` (bytes from HTTP, with the
response headers, which carry the charset) and the corpus test (bytes from
files). Rules, in the order they apply:

* Not well-formed (feedparser's *bozo*) but parseable: ingested, and flagged
  (``bozo = 1`` on its articles). A document with no recognisable feed and no
  entries is rejected with feedparser's reason (:class:`FeedParseError`).
* Encodings: feedparser decides from the HTTP charset, the XML declaration, a
  BOM, then detection; undeclared or wrong encodings are handled there.
* HTML is sanitised by feedparser (``sanitize_html=True``) and turned into
  plain text with paragraph breaks by lxml's HTML parser.
* Identity (see :func:`entry_id`): the GUID, else the canonical link with
  tracking parameters removed, else the hash of title and text.
* Dates: ``published``, else ``updated``, else the fetch time -- in UTC, with
  ``date_source`` saying which. A date more than a day in the future is not
  trusted (clock or time-zone bugs in the feed) and the next rule applies.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import lxml.etree
import lxml.html

from tracker.domain import Article, content_hash, normalise_whitespace, stable_id
from tracker.errors import FeedParseError, describe
from tracker.timeutil import to_iso

# Query parameters that only track the click, never select the content.
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "_openstat", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "vero_conv", "vero_id", "wickedid", "rb_clickid", "s_cid", "ncid", "cmpid", "ocid", "sr_share",
}
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "piwik_", "matomo_", "hsa_", "itm_")
BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "ol",
    "p", "pre", "section", "table", "tr", "ul",
}
MAX_TITLE_CHARS = 300
# lxml refuses NUL and most C0 control characters; they carry no text anyway.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
FUTURE_TOLERANCE = dt.timedelta(days=1)
FEED_METADATA = {"title", "link", "links", "subtitle", "updated", "id", "author", "generator"}


@dataclass
class ParsedFeed:
    title: str | None
    site_url: str | None
    version: str
    encoding: str | None
    bozo: bool
    bozo_reason: str | None
    articles: list[Article] = field(default_factory=list)
    # Ids of articles whose entry had only a summary (candidates for full text).
    summary_only: set[str] = field(default_factory=set)
    # Entries dropped, with why (no title, text or link at all).
    skipped: list[str] = field(default_factory=list)
    entries: int = 0
    ttl_minutes: float | None = None  # RSS <ttl>: how long the feed may be cached


def canonical_url(url: str | None) -> str | None:
    """The link as an identity: RFC 3986 normalisation by url-normalize (case of scheme
    and host, default ports, dot segments, percent-encoding, IDNA, IPv6 brackets), then
    no fragment and no tracking parameters. None if it is not an absolute http(s) URL."""
    from url_normalize import url_normalize

    if not url or urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        return None
    try:
        parts = urlsplit(url_normalize(url.strip()))
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port else host  # without any user:password@
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(query), ""))


def html_to_text(html: str) -> str:
    """Readable text from (already sanitised) HTML: block elements become line breaks."""
    html = CONTROL_CHARS.sub("", html or "")
    if not html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return normalise_whitespace(html)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() != "br":
                element.text = "\n" + (element.text or "")
    lines = (normalise_whitespace(line) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def _entry_text(entry: dict) -> tuple[str, bool]:
    """The entry's text and whether it came from a summary only (no full content)."""
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if contents:
        best = max(contents, key=lambda c: len(c.get("value") or ""))
        return _to_text(best.get("value", ""), best.get("type", "")), False
    detail = entry.get("summary_detail") or {}
    summary = entry.get("summary") or ""
    return _to_text(summary, detail.get("type", "text/html")), True


def _to_text(value: str, mime: str) -> str:
    if mime == "text/plain":
        return "\n".join(normalise_whitespace(line) for line in value.splitlines() if line.strip())
    return html_to_text(value)


def _as_utc(parsed: time.struct_time | None) -> dt.datetime | None:
    # feedparser normalises every date it understands to a UTC struct_time.
    if not parsed:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None


def entry_date(entry: dict, fetched_at: dt.datetime) -> tuple[dt.datetime, str]:
    """(moment in UTC, date_source): published, else updated, else the fetch time."""
    for key, source in (("published_parsed", "published"), ("updated_parsed", "updated")):
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date.
        moment = _as_utc(dict.get(entry, key))
        if moment is not None and moment <= fetched_at + FUTURE_TOLERANCE:
            return moment, source
    return fetched_at, "fetched"


def entry_id(guid: str | None, link: str | None, title: str, text: str, feed_url: str) -> str:
    """Stable article id: GUID, else canonical link, else content hash.

    A GUID that is a URI (``http://…``, ``tag:…``, ``urn:…``) is global, so the
    same entry in two feeds is one article; a bare GUID like ``1234`` is only
    unique within its feed, so it is scoped by the feed URL.
    """
    if guid:
        return stable_id("feed", guid) if ":" in guid else stable_id("feed", feed_url, guid)
    if link:
        return stable_id("link", link)
    return stable_id("hash", content_hash(title, text))


def _first_sentence(text: str) -> str:
    match = re.match(r"(.{20,}?[.!?])(\s|$)", text.replace("\n", " "))
    sentence = match.group(1) if match else text.replace("\n", " ")
    return sentence[:MAX_TITLE_CHARS].strip()


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def parse_author(entry: dict) -> tuple[str | None, str | None]:
    """(name, e-mail) of an entry's author. RSS writes ``desk@example.org (Anna Larsen)``,
    Atom has separate name and email, some feeds ``Anna Larsen <desk@example.org>``; the
    address is kept apart from the name and never shown as the author."""
    detail = entry.get("author_detail") or {}
    raw = normalise_whitespace(entry.get("author") or "")
    found = _EMAIL.search(raw)
    if found:  # read the raw field ourselves: feedparser's split of "x@y (Name)" can garble
        email = found.group(0)
        name = normalise_whitespace(raw.replace(email, " ")).strip(" ()<>[],;:\"'") or None
    else:
        name = normalise_whitespace(detail.get("name") or "") or raw or None
        email = detail.get("email") or None
    if name and _EMAIL.search(name):
        name = normalise_whitespace(_EMAIL.sub(" ", name)).strip(" ()<>") or None
    return name, email


def _ttl_minutes(feed_info: dict) -> float | None:
    ttl = str(feed_info.get("ttl") or "").strip()
    return float(ttl) if ttl.isdigit() else None


def parse_feed(
    content: bytes,
    *,
    url: str,
    headers: dict[str, str] | None = None,
    fetched_at: dt.datetime,
    outlet: str | None = None,
) -> ParsedFeed:
    """Parse feed bytes into articles. ``headers`` are the HTTP response headers
    (charset, Content-Location); ``url`` is the feed URL, the base for relative
    links. Raises :class:`FeedParseError` when the bytes are not a feed."""
    # Headers only when there were any: feedparser reads an HTTP response without
    # Content-Type as not well-formed, which is right for HTTP but not for a file.
    response_headers = None
    if headers:
        response_headers = {k.lower(): v for k, v in headers.items()}
        response_headers.setdefault("content-location", url)
    # BytesIO, not bytes: feedparser treats a str/bytes argument that looks like
    # a URL or path as something to open.
    parsed = feedparser.parse(
        io.BytesIO(content), response_headers=response_headers,
        sanitize_html=True, resolve_relative_uris=True,
    )
    bozo_reason = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        bozo_reason = describe(exc) if exc is not None else "not well-formed"
    feed_info = parsed.get("feed") or {}
    version = parsed.get("version") or ""
    # An HTML page or garbage parses to no version, no entries and no channel
    # metadata (at most a stray "summary"); a real but empty feed has some.
    if not parsed.get("entries") and not version and not FEED_METADATA & set(feed_info):
        raise FeedParseError(f"not a feed ({bozo_reason or 'no RSS, Atom or RDF elements'})")
    title = normalise_whitespace(feed_info.get("title") or "") or None
    result = ParsedFeed(
        title=title,
        site_url=feed_info.get("link"),
        version=version,
        encoding=parsed.get("encoding"),
        bozo=bool(parsed.get("bozo")),
        bozo_reason=bozo_reason,
        entries=len(parsed.get("entries") or []),
        ttl_minutes=_ttl_minutes(feed_info),
    )
    # The name the feed was given (config or --name) is its articles' outlet.
    outlet = outlet or title or urlsplit(url).hostname
    for index, entry in enumerate(parsed.get("entries") or []):
        article, summary_only = _entry_to_article(entry, url, fetched_at, outlet, result.bozo)
        if article is None:
            result.skipped.append(f"entry {index + 1}: no title, text or link")
            continue
        result.articles.append(article)
        if summary_only:
            result.summary_only.add(article.id)
    return result


def _entry_to_article(
    entry: dict, feed_url: str, fetched_at: dt.datetime, outlet: str | None, bozo: bool
) -> tuple[Article | None, bool]:
    text, summary_only = _entry_text(entry)
    title_type = (entry.get("title_detail") or {}).get("type", "text/plain")
    title = _to_text(entry.get("title") or "", title_type).replace("\n", " ")
    link = canonical_url(urljoin(feed_url, entry.get("link") or "") if entry.get("link") else None)
    if not title:
        title = _first_sentence(text) if text else (link or "")
    if not title and not text:
        return None, False
    guid = normalise_whitespace(entry.get("id") or "") or None
    moment, date_source = entry_date(entry, fetched_at)
    author, email = parse_author(entry)
    article = Article(
        id=entry_id(guid, link, title, text, feed_url),
        title=title[:MAX_TITLE_CHARS],
        text=text,
        kind="feed",
        url=link,
        guid=guid,
        outlet=outlet,
        author=author,
        author_email=email,
        published=to_iso(moment),
        published_date=moment.date().isoformat(),
        date_source=date_source,
        bozo=int(bozo),
    )
    article.detect_language()
    return article, summary_only and bool(link)

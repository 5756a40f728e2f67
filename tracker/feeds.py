"""Feeds: the ``sources`` rows with ``kind = 'feed'``, and how they get there.

Feeds come from ``[[feeds]]`` in the config (synced into ``sources`` on
every refresh), from ``tracker feeds add`` and from OPML files. The config
decides a config feed's ``name`` and ``full_text``; ``enabled = false`` in
the config disables it, while enabling/disabling with the CLI (and the
automatic disabling after repeated failures) is otherwise left alone, so a
refresh never silently re-enables a feed someone switched off.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sqlite_utils import Database

from tracker.config import FeedConfig
from tracker.fetch import InvalidURL, check_url
from tracker.timeutil import to_iso, utc_now_iso


class FeedNotFound(LookupError):
    """No feed with that URL or id."""


class OPMLError(ValueError):
    """The OPML file cannot be read or is not OPML."""


@dataclass
class Feed:
    id: int
    url: str
    name: str | None = None
    enabled: bool = True
    full_text: bool = False
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_fetch_at: str | None = None
    disabled_reason: str | None = None
    feed_title: str | None = None
    body_hash: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> Feed:
        return cls(
            id=row["id"], url=row["location"], name=row.get("name"),
            enabled=bool(row.get("enabled")), full_text=bool(row.get("full_text")),
            etag=row.get("etag"), last_modified=row.get("last_modified"),
            last_fetched_at=row.get("last_fetched_at"), last_status=row.get("last_status"),
            last_error=row.get("last_error"),
            consecutive_failures=row.get("consecutive_failures") or 0,
            next_fetch_at=row.get("next_fetch_at"), disabled_reason=row.get("disabled_reason"),
            feed_title=row.get("feed_title"), body_hash=row.get("body_hash"),
        )

    @property
    def label(self) -> str:
        return self.name or self.feed_title or self.url


def _find_row(db: Database, url: str) -> dict | None:
    return next(db["sources"].rows_where("location = ?", [url], limit=1), None)


def add_feed(db: Database, url: str, name: str | None = None, full_text: bool = False,
             enabled: bool = True) -> tuple[Feed, bool]:
    """Add a feed (or return the existing one): ``(feed, created)``.

    Raises :class:`tracker.fetch.InvalidURL` for anything but an http(s) URL.
    """
    url = check_url(url)
    existing = _find_row(db, url)
    if existing is not None:
        if existing["kind"] != "feed":
            raise InvalidURL(f"{url} is already a source of kind {existing['kind']!r}")
        return Feed.from_row(existing), False
    with db.atomic():
        db["sources"].insert({
            "kind": "feed", "location": url, "name": name, "enabled": int(enabled),
            "full_text": int(full_text), "consecutive_failures": 0,
            "created_at": utc_now_iso(),
        })
    return Feed.from_row(_find_row(db, url)), True


# Local feed documents (`tracker ingest feeds/`): never fetched, so not kind 'feed'.
FEED_FILE_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}


def find_feed_files(root: Path) -> list[Path]:
    """Feed documents in a folder (sorted); an explicit file is the caller's to judge."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and p.suffix.lower() in FEED_FILE_SUFFIXES and not p.name.startswith("."))


def feed_file_source(db: Database, path: Path) -> Feed:
    """The ``sources`` row (kind ``feed-file``) of a local feed document."""
    location = path.resolve().as_uri()
    row = _find_row(db, location)
    if row is None:
        with db.atomic():
            db["sources"].insert({"kind": "feed-file", "location": location, "name": path.name,
                                  "enabled": 1, "consecutive_failures": 0,
                                  "created_at": utc_now_iso()})
        row = _find_row(db, location)
    return Feed.from_row(row)


def get_feed(db: Database, url_or_id: str | int) -> Feed:
    """A feed by its URL or its id (as shown by ``tracker feeds list``)."""
    row = _find_row(db, str(url_or_id).strip())
    if row is None and str(url_or_id).strip().isdigit():
        row = next(db["sources"].rows_where("id = ?", [int(url_or_id)], limit=1), None)
    if row is None or row["kind"] != "feed":
        raise FeedNotFound(f"no feed {url_or_id!r} (see tracker feeds list)")
    return Feed.from_row(row)


def list_feeds(db: Database) -> list[Feed]:
    return [Feed.from_row(r) for r in db["sources"].rows_where("kind = 'feed'", order_by="id")]


def set_enabled(db: Database, feed: Feed, enabled: bool, reason: str | None = None) -> Feed:
    """Enable (clearing failures and backoff, so it is due now) or disable a feed."""
    if enabled:
        changes = {"enabled": 1, "disabled_reason": None, "consecutive_failures": 0,
                   "next_fetch_at": None}
    else:
        changes = {"enabled": 0, "disabled_reason": reason or "disabled by hand"}
    with db.atomic():
        db["sources"].update(feed.id, changes)
    return get_feed(db, feed.id)


@dataclass
class ConfigSync:
    added: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def sync_config_feeds(db: Database, feeds: Iterable[FeedConfig]) -> ConfigSync:
    """Put the config's ``[[feeds]]`` into ``sources``; a bad URL is reported, not fatal."""
    result = ConfigSync()
    with db.atomic():
        for config_feed in feeds:
            try:
                feed, created = add_feed(db, config_feed.url, config_feed.name,
                                         config_feed.full_text, config_feed.enabled)
            except InvalidURL as exc:
                result.invalid.append((config_feed.url, str(exc)))
                continue
            result.added += created
            changes: dict = {}
            if config_feed.name and config_feed.name != feed.name:
                changes["name"] = config_feed.name
            if config_feed.full_text != feed.full_text:
                changes["full_text"] = int(config_feed.full_text)
            if not config_feed.enabled and (feed.enabled or created):
                changes.update(enabled=0, disabled_reason="enabled = false in the config")
            if changes:
                db["sources"].update(feed.id, changes)
    return result


def due_feeds(db: Database, now: dt.datetime, force: bool = False) -> list[Feed]:
    """Enabled feeds whose ``next_fetch_at`` has come (all enabled feeds with ``force``)."""
    where = "kind = 'feed' and enabled = 1"
    params: list = []
    if not force:
        where += " and (next_fetch_at is null or next_fetch_at <= ?)"
        params.append(to_iso(now))
    return [Feed.from_row(r) for r in db["sources"].rows_where(where, params, order_by="id")]


@dataclass
class OPMLImport:
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def read_opml(content: bytes) -> list[tuple[str, str | None]]:
    """``(xmlUrl, title)`` of every feed outline, at any depth (folders are flattened)."""
    try:
        # ElementTree does not fetch external entities; expat limits entity expansion.
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise OPMLError(f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OPMLError(f"not OPML: the root element is <{root.tag}>")
    found = []
    for outline in root.iter("outline"):
        attributes = {k.lower(): v for k, v in outline.attrib.items()}
        url = attributes.get("xmlurl")
        if url:
            found.append((url.strip(), attributes.get("title") or attributes.get("text")))
    return found


def import_opml(db: Database, path: str | Path) -> OPMLImport:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise OPMLError(f"cannot read {path}: {exc.strerror or exc}") from exc
    result = OPMLImport()
    for url, title in read_opml(content):
        try:
            feed, created = add_feed(db, url, title)
        except InvalidURL as exc:
            result.invalid.append((url, str(exc)))
            continue
        (result.added if created else result.existing).append(feed.url)
    return result


def export_opml(feeds: Iterable[Feed], title: str = "Arctic stance tracker feeds") -> str:
    """OPML 2.0 with one outline per feed (disabled feeds included, marked)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = dt.datetime.now(dt.timezone.utc).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.label, "title": feed.label, "xmlUrl": feed.url}
        if not feed.enabled:
            attributes["isDisabled"] = "true"  # not standard OPML; ignored by other readers
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

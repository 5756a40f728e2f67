"""Subscriptions: which feeds the tracker follows, and how they get there.

Feeds come from ``[[feeds]]`` in the config (synced into ``sources`` on
every refresh), from ``tracker feeds add`` and from OPML files. The config
decides a config feed's ``name`` and ``full_text``; ``enabled = false`` in
the config disables it, while enabling/disabling with the CLI (and the
automatic disabling after repeated failures) is otherwise left alone, so a
refresh never silently re-enables a feed someone switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from sqlite_utils import Database

from tracker.config import FeedConfig, FetchConfig
from tracker.domain import Feed
from tracker.errors import InvalidURL, OPMLError
from tracker.sources.addresses import parse_networks
from tracker.sources.urls import check_url
from tracker.sources.opml import read_opml
from tracker.store import feeds as store


def check_feed_url(url: str, fetch: FetchConfig | None = None) -> str:
    """``url`` if it may be fetched under ``fetch``'s address rules (default: public only)."""
    fetch = fetch or FetchConfig()
    return check_url(url, fetch.allow_private_addresses, parse_networks(fetch.allowed_networks))


def add_feed(db: Database, url: str, name: str | None = None, full_text: bool = False,
             enabled: bool = True, fetch: FetchConfig | None = None) -> tuple[Feed, bool]:
    """Add a feed (or return the existing one): ``(feed, created)``.

    Raises :class:`tracker.errors.InvalidURL` for anything but an http(s) URL
    without credentials, and for a non-public address unless ``fetch`` allows it.
    """
    url = check_feed_url(url, fetch)
    existing = store.find_source(db, url)
    if existing is not None:
        if existing["kind"] != "feed":
            raise InvalidURL(f"{url} is already a source of kind {existing['kind']!r}")
        return Feed.from_row(existing), False
    return store.insert_feed(db, url, name, full_text, enabled), True


@dataclass
class Checked:
    """What ``tracker feeds add`` found at a URL: the feed to add, or why not."""

    url: str | None = None  # the feed's URL (after a permanent redirect, or discovered)
    title: str | None = None
    problem: str | None = None  # why nothing was added
    candidates: list = field(default_factory=list)  # several feeds found on a page


def check_feed(url: str, fetch: FetchConfig | None = None) -> Checked:
    """Fetch ``url`` once (same politeness and address rules as a refresh) and say
    whether it is a feed; given a web page, find the feed(s) it links to."""
    import datetime as dt

    from tracker.errors import FeedParseError
    from tracker.sources.discovery import find_feed_links, looks_like_html
    from tracker.sources.feedparse import parse_feed
    from tracker.sources.fetch import FetchRequest, Fetcher

    fetch = fetch or FetchConfig()
    url = check_feed_url(url, fetch)
    now = dt.datetime.now(dt.timezone.utc)
    with Fetcher(fetch) as fetcher:
        result = fetcher.fetch(FetchRequest(url))
        if result.outcome != "ok":
            return Checked(problem=f"cannot fetch {url}: {result.error}")
        final = result.permanent_url or url
        if not looks_like_html(result.content, result.headers.get("content-type")):
            try:
                parsed = parse_feed(result.content, url=final, headers=result.headers,
                                    fetched_at=now)
            except FeedParseError as exc:
                return Checked(problem=f"{url} is not a feed: {exc}")
            return Checked(url=final, title=parsed.title)
        links = find_feed_links(result.content, result.final_url or url)
        if not links:
            return Checked(problem=f"{url} is a web page that links to no RSS or Atom feed")
        if len(links) > 1:
            return Checked(problem=f"{url} links to {len(links)} feeds; add one of them",
                           candidates=links)
        try:
            check_feed_url(links[0].url, fetch)
        except InvalidURL as exc:
            return Checked(problem=f"the feed {links[0].url} found on {url}: {exc}")
        found = fetcher.fetch(FetchRequest(links[0].url))
    if found.outcome != "ok":
        return Checked(problem=f"the page links to {links[0].url}, which fails: {found.error}")
    try:
        parsed = parse_feed(found.content, url=links[0].url, headers=found.headers,
                            fetched_at=now)
    except FeedParseError as exc:
        return Checked(problem=f"the page links to {links[0].url}, which is not a feed: {exc}")
    return Checked(url=found.permanent_url or links[0].url, title=parsed.title)


def remove_feed(db: Database, feed: Feed, delete_articles: bool) -> int:
    """Stop following a feed for good; its articles are deleted or kept (without a source),
    as asked. Its open errors are resolved. Returns how many articles were deleted."""
    return store.delete_feed(db, feed.id, feed.url, delete_articles)


def set_enabled(db: Database, feed: Feed, enabled: bool, reason: str | None = None) -> Feed:
    """Enable (clearing failures and backoff, so it is due now) or disable a feed (no
    next fetch; its errors are no longer open)."""
    if enabled:
        changes = {"enabled": 1, "disabled_reason": None, "consecutive_failures": 0,
                   "next_fetch_at": None}
    else:
        changes = {"enabled": 0, "disabled_reason": reason or "disabled by hand",
                   "next_fetch_at": None}
    store.update_feed(db, feed.id, changes)
    if not enabled:
        store.resolve_feed_errors(db, feed.url)
    return store.get_feed(db, feed.id)


@dataclass
class ConfigSync:
    added: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def sync_config_feeds(db: Database, feeds: Iterable[FeedConfig],
                      fetch: FetchConfig | None = None) -> ConfigSync:
    """Put the config's ``[[feeds]]`` into ``sources``; a bad URL is reported, not fatal."""
    result = ConfigSync()
    with db.atomic():
        for config_feed in feeds:
            try:
                feed, created = add_feed(db, config_feed.url, config_feed.name,
                                         config_feed.full_text, config_feed.enabled, fetch)
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
                store.update_feed(db, feed.id, changes)
    return result


OPML_MAX_BYTES = 10 * 1024 * 1024


@dataclass
class OPMLImport:
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def import_opml(db: Database, path: str | Path, fetch: FetchConfig | None = None) -> OPMLImport:
    from tracker.sources.files import read_regular_file

    try:
        content = read_regular_file(Path(path), OPML_MAX_BYTES)
    except OSError as exc:
        raise OPMLError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(content) > OPML_MAX_BYTES:
        raise OPMLError(f"{path} is larger than {OPML_MAX_BYTES} bytes")
    result = OPMLImport()
    for url, title in read_opml(content):
        try:
            feed, created = add_feed(db, url, title, fetch=fetch)
        except InvalidURL as exc:
            result.invalid.append((url, str(exc)))
            continue
        (result.added if created else result.existing).append(feed.url)
    return result

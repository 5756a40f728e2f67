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


def set_enabled(db: Database, feed: Feed, enabled: bool, reason: str | None = None) -> Feed:
    """Enable (clearing failures and backoff, so it is due now) or disable a feed."""
    if enabled:
        changes = {"enabled": 1, "disabled_reason": None, "consecutive_failures": 0,
                   "next_fetch_at": None}
    else:
        changes = {"enabled": 0, "disabled_reason": reason or "disabled by hand"}
    store.update_feed(db, feed.id, changes)
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


@dataclass
class OPMLImport:
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def import_opml(db: Database, path: str | Path, fetch: FetchConfig | None = None) -> OPMLImport:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise OPMLError(f"cannot read {path}: {exc.strerror or exc}") from exc
    result = OPMLImport()
    for url, title in read_opml(content):
        try:
            feed, created = add_feed(db, url, title, fetch=fetch)
        except InvalidURL as exc:
            result.invalid.append((url, str(exc)))
            continue
        (result.added if created else result.existing).append(feed.url)
    return result

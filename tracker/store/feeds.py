"""Feeds and fetches: ``sources`` rows of kind feed, the ``fetches`` log, feed health,
and storing what a feed fetch produced.

No network here (the refresh job fetches; see :mod:`tracker.sources.fetch`). Each
feed's outcome is written in ONE transaction -- its articles, its
``fetches`` row and its ``sources`` health -- so a crash mid-refresh leaves a
feed either fully stored or not at all.

Dedupe rules (an entry seen again is one article):

* the id is the GUID, else the canonical link, else the content hash
  (:func:`tracker.sources.feedparse.entry_id`); an entry whose id is new but whose
  canonical link is already stored joins that article;
* the feed that first stored an article owns it: its later versions update
  the article (a changed ``content_hash`` is what makes the tagger re-tag);
  the same entry in another feed is counted as a duplicate and changes
  nothing, so two feeds carrying one story never flip it back and forth;
* a date that came from the fetch time (``date_source = 'fetched'``) is kept
  from the first fetch, and text taken from the linked page (``full_text``
  feeds) is kept over the feed's summary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlite_utils import Database

from tracker.config import FetchConfig
from tracker.domain import Article, Feed
from tracker.errors import FeedNotFound, FeedParseError, Stage, describe
from tracker.sources.feedparse import ParsedFeed, parse_feed
from tracker.sources.files import read_regular_file
from tracker.sources.fetch import (
    FetchResult, backoff_minutes, cache_lifetime_s, next_fetch_minutes,
)
from tracker.store.articles import first_article_with_url, get_article, save_articles
from tracker.store.errors import record_error, resolve_error
from tracker.timeutil import to_iso, utc_now_iso

# Called with the articles about to be saved (and the ids that had only a
# summary) before the transaction opens: the refresh job fetches full text here.
Enricher = Callable[[list[Article], set[str]], None]


@dataclass
class FeedOutcome:
    feed_id: int
    url: str
    outcome: str  # ok / not_modified / unchanged / error
    stage: Stage | None = None  # fetch / parse / store, for errors
    error: str | None = None
    status_code: int | None = None
    entries: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)
    bozo: bool = False
    disabled: bool = False

    @property
    def stored(self) -> int:
        return self.new + self.updated + self.unchanged


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# -- the feeds themselves ------------------------------------------------------


def find_source(db: Database, location: str) -> dict | None:
    """The ``sources`` row with this location (feed URL, file URI or folder), if any."""
    return next(db["sources"].rows_where("location = ?", [location], limit=1), None)


def insert_feed(db: Database, url: str, name: str | None = None, full_text: bool = False,
                enabled: bool = True, kind: str = "feed") -> Feed:
    with db.atomic():
        db["sources"].insert({
            "kind": kind, "location": url, "name": name, "enabled": int(enabled),
            "full_text": int(full_text), "consecutive_failures": 0,
            "created_at": utc_now_iso(),
        })
    return Feed.from_row(find_source(db, url))


def update_feed(db: Database, feed_id: int, changes: dict) -> None:
    with db.atomic():
        db["sources"].update(feed_id, changes)


def get_feed(db: Database, url_or_id: str | int) -> Feed:
    """A feed by its URL or its id (as shown by ``tracker feeds list``)."""
    row = find_source(db, str(url_or_id).strip())
    if row is None and str(url_or_id).strip().isdigit():
        row = next(db["sources"].rows_where("id = ?", [int(url_or_id)], limit=1), None)
    if row is None or row["kind"] != "feed":
        raise FeedNotFound(f"no feed {url_or_id!r} (see tracker feeds list)")
    return Feed.from_row(row)


def list_feeds(db: Database) -> list[Feed]:
    return [Feed.from_row(r) for r in db["sources"].rows_where("kind = 'feed'", order_by="id")]


def feed_health(db: Database) -> list[dict]:
    """One row per feed with its health (the ``feeds`` view)."""
    return [dict(r) for r in db.query("select * from feeds")]


def due_feeds(db: Database, now: dt.datetime, force: bool = False) -> list[Feed]:
    """Enabled feeds whose ``next_fetch_at`` has come (all enabled feeds with ``force``)."""
    where = "kind = 'feed' and enabled = 1"
    params: list = []
    if not force:
        where += " and (next_fetch_at is null or next_fetch_at <= ?)"
        params.append(to_iso(now))
    return [Feed.from_row(r) for r in db["sources"].rows_where(where, params, order_by="id")]


def feed_file_source(db: Database, path: Path, name: str | None = None) -> Feed:
    """The ``sources`` row (kind ``feed-file``) of a local feed document; ``name`` is
    where it was found (the ingest root as given, then the path inside it)."""
    location = name or str(path)
    row = find_source(db, location)
    if row is None:
        # An earlier version stored the absolute file URI: rename that row.
        legacy = find_source(db, path.resolve().as_uri())
        if legacy is not None and legacy["kind"] == "feed-file":
            update_feed(db, legacy["id"], {"location": location, "name": None})
            row = find_source(db, location)
    if row is None:
        # No name: the document's own title is its articles' outlet.
        return insert_feed(db, location, None, kind="feed-file")
    return Feed.from_row(row)


def resolve_feed_errors(db: Database, url: str) -> None:
    """A feed no longer fetched has no open errors (its history stays in ``fetches``)."""
    with db.atomic():
        for stage in Stage:
            resolve_error(db, url, stage)


def move_feed(db: Database, feed: Feed, new_url: str, status_code: int | None) -> Feed:
    """A permanent redirect: the feed's stored URL follows, and the move is recorded in
    ``feed_moves``. If another feed already has the new URL, this one is disabled."""
    now = utc_now_iso()
    with db.atomic():
        db["feed_moves"].insert({"source_id": feed.id, "old_url": feed.url, "new_url": new_url,
                                 "status_code": status_code, "moved_at": now})
        if find_source(db, new_url) is not None:
            db["sources"].update(feed.id, {
                "enabled": 0, "next_fetch_at": None,
                "disabled_reason": f"moved to {new_url}, which is already followed"})
        else:
            db["sources"].update(feed.id, {"location": new_url})
    return Feed.from_row(next(db["sources"].rows_where("id = ?", [feed.id])))


def delete_feed(db: Database, feed_id: int, url: str, delete_articles: bool) -> int:
    """Remove a feed's ``sources`` row, its fetches and moves; its articles are deleted
    (with their tags, event memberships and cached vectors) or kept without a source."""
    from tracker.store.articles import delete_articles as delete

    ids = [row[0] for row in db.execute("select id from articles where source_id = ?",
                                        [feed_id])]
    with db.atomic():
        if delete_articles:
            delete(db, ids)
        else:
            db.execute("update articles set source_id = null where source_id = ?", [feed_id])
        db.execute("delete from fetches where source_id = ?", [feed_id])
        db.execute("delete from feed_moves where source_id = ?", [feed_id])
        db.execute("delete from sources where id = ?", [feed_id])
        for stage in Stage:
            resolve_error(db, url, stage)
    return len(ids) if delete_articles else 0


def delete_old_fetches(db: Database, cutoff: str) -> int:
    """Fetch log rows older than ``cutoff``."""
    with db.atomic():
        return db.execute("delete from fetches where started_at < ?", [cutoff]).rowcount


# -- storing a fetch -------------------------------------------------------------


def identifying_link(url: str | None, site_url: str | None) -> str | None:
    """The link that identifies an article, or None for links that point at no one
    article: the feed's own site (home page) or a site root."""
    if not url:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return None
    if site_url and url.rstrip("/") == site_url.rstrip("/"):
        return None
    return url


def prepare_articles(db: Database, feed: Feed, articles: list[Article],
                     site_url: str | None = None) -> tuple[list[Article], int]:
    """Apply the dedupe rules: ``(articles this feed may write, duplicates)``.

    One canonical link is one article, whatever GUIDs it comes with: in the same
    document (the first entry with the link stands for the rest) and across feeds
    (the article stored first owns it). Links to a home page identify nothing
    (:func:`identifying_link`)."""
    to_save: list[Article] = []
    duplicates = 0
    seen_links: set[str] = set()
    for article in articles:
        article.source_id = feed.id
        link = identifying_link(article.url, site_url)
        if link and link in seen_links:
            duplicates += 1  # the same article again in this document, under another GUID
            continue
        if link:
            seen_links.add(link)
        existing = get_article(db, article.id)
        if existing is None and link:
            existing = first_article_with_url(db, link)
            if existing is not None:
                article.id = existing["id"]
                article.guid = existing["guid"]
        if existing is not None:
            if existing["source_id"] != feed.id:
                duplicates += 1
                continue
            if article.date_source == "fetched" and existing["published"]:
                article.published = existing["published"]
                article.published_date = existing["published_date"]
                article.date_source = existing["date_source"]
        to_save.append(article)
    return to_save, duplicates


def article_text(db: Database, article_id: str) -> str | None:
    row = get_article(db, article_id)
    return row["text"] if row else None


def pages_fetched(db: Database, urls: list[str]) -> set[str]:
    """Which of ``urls`` already had their linked page fetched and extracted."""
    if not urls:
        return set()
    marks = ",".join("?" for _ in urls)
    return {
        row["url"] for row in db.query(
            f"select distinct url from fetches where kind = 'page' and outcome = 'ok' "
            f"and url in ({marks})", urls)
    }


def record_fetch(db: Database, feed: Feed, result: FetchResult | None, outcome: FeedOutcome,
                 kind: str = "feed", url: str | None = None) -> None:
    db["fetches"].insert({
        "source_id": feed.id,
        "kind": kind,
        "url": url or feed.url,
        "started_at": result.started_at if result else to_iso(dt.datetime.now(dt.timezone.utc)),
        "status_code": result.status_code if result else None,
        "outcome": outcome.outcome,
        "bytes": result.bytes_read if result else None,
        "duration_ms": result.duration_ms if result else None,
        "new_entries": outcome.new,
        "updated_entries": outcome.updated,
        "bozo": int(outcome.bozo),
        "error": outcome.error,
    })


def mark_success(db: Database, feed: Feed, result: FetchResult | None, outcome: FeedOutcome,
                 config: FetchConfig, now: dt.datetime, parsed: ParsedFeed | None = None,
                 content: bytes | None = None) -> None:
    changes = {
        "last_fetched_at": to_iso(now),
        "last_success_at": to_iso(now),
        "last_status": outcome.outcome,
        "last_error": None,
        "consecutive_failures": 0,
    }
    wait = next_fetch_minutes(
        config,
        max_age_s=cache_lifetime_s(result.headers) if result is not None else None,
        ttl_minutes=parsed.ttl_minutes if parsed is not None else None,
    )
    changes["next_fetch_at"] = to_iso(now + dt.timedelta(minutes=wait))
    if result is not None:
        # A 304 may omit the validators; keep the stored ones then.
        if result.etag or outcome.outcome == "ok":
            changes["etag"] = result.etag
        if result.last_modified or outcome.outcome == "ok":
            changes["last_modified"] = result.last_modified
    if parsed is not None:
        changes.update(feed_title=parsed.title, site_url=parsed.site_url)
    if content is not None:
        changes["body_hash"] = body_hash(content)
    db["sources"].update(feed.id, changes)
    for stage in (Stage.READ, Stage.FETCH, Stage.PARSE, Stage.STORE):
        resolve_error(db, feed.url, stage)


def mark_failure(db: Database, feed: Feed, outcome: FeedOutcome, config: FetchConfig,
                 now: dt.datetime, retry_after_s: float | None = None) -> None:
    """Back off exponentially; disable after ``max_consecutive_failures`` (at once
    for ``410 Gone``, which says the feed will not come back), saying why."""
    failures = feed.consecutive_failures + 1
    delay = backoff_minutes(failures, config, retry_after_s)
    changes = {
        "last_fetched_at": to_iso(now),
        "last_status": "error",
        "last_error": f"{outcome.stage}: {outcome.error}",
        "consecutive_failures": failures,
        "next_fetch_at": to_iso(now + dt.timedelta(minutes=delay)),
    }
    if outcome.status_code == 410:
        changes.update(enabled=0, next_fetch_at=None,
                       disabled_reason=f"the server says the feed is gone: {outcome.error}")
        outcome.disabled = True
    elif failures >= config.max_consecutive_failures:
        changes.update(
            enabled=0, next_fetch_at=None,
            disabled_reason=f"disabled after {failures} consecutive failures; last: "
                            f"{outcome.stage}: {outcome.error}",
        )
        outcome.disabled = True
    db["sources"].update(feed.id, changes)
    if outcome.disabled:
        # Not fetched any more: the reason is in disabled_reason, nothing is "open".
        for stage in Stage:
            resolve_error(db, feed.url, stage)
    else:
        record_error(db, feed.url, outcome.stage or Stage.FETCH, outcome.error or "unknown error")


def store_failure(db: Database, feed: Feed, result: FetchResult | None, outcome: FeedOutcome,
                  config: FetchConfig, now: dt.datetime) -> FeedOutcome:
    outcome.outcome = "error"
    with db.atomic():
        record_fetch(db, feed, result, outcome)
        mark_failure(db, feed, outcome, config, now,
                     result.retry_after_s if result is not None else None)
    return outcome


def ingest_document(
    db: Database,
    feed: Feed,
    content: bytes,
    *,
    config: FetchConfig,
    fetched_at: dt.datetime,
    headers: dict[str, str] | None = None,
    result: FetchResult | None = None,
    enrich: Enricher | None = None,
) -> FeedOutcome:
    """Parse feed bytes and store them: the I/O-free way in, also used by refresh.

    Not a feed -> recorded as a ``parse`` failure (with backoff, like a fetch
    failure); otherwise its entries, a ``fetches`` row and the feed's health
    are written in one transaction. ``result`` is the HTTP response, if any.
    """
    outcome = FeedOutcome(feed_id=feed.id, url=feed.url, outcome="ok",
                          status_code=result.status_code if result else None)
    base_url = (result.final_url if result and result.final_url else None) or feed.url
    try:
        parsed = parse_feed(content, url=base_url, headers=headers, fetched_at=fetched_at,
                            outlet=feed.name)
    except FeedParseError as exc:
        outcome.stage, outcome.error = Stage.PARSE, str(exc)
        return store_failure(db, feed, result, outcome, config, fetched_at)
    outcome.entries = parsed.entries
    outcome.skipped = parsed.skipped
    outcome.bozo = parsed.bozo
    articles, outcome.duplicates = prepare_articles(db, feed, parsed.articles, parsed.site_url)
    if enrich is not None:
        enrich(articles, parsed.summary_only)
    try:
        with db.atomic():
            # Again inside the write transaction (the enricher fetched pages meanwhile):
            # another refresh may have stored one of these links since.
            articles, late_duplicates = prepare_articles(db, feed, articles, parsed.site_url)
            outcome.duplicates += late_duplicates
            saved = save_articles(db, articles)
            outcome.new, outcome.updated, outcome.unchanged = (
                saved.new, saved.updated, saved.unchanged)
            # Not errors, but worth seeing beside the fetch in Datasette.
            notes = []
            if parsed.bozo:
                notes.append(f"not well-formed, parsed anyway: {parsed.bozo_reason}")
            if parsed.skipped:
                notes.append(f"{len(parsed.skipped)} entries skipped ({parsed.skipped[0]}, ...)")
            outcome.error = "; ".join(notes) or None
            record_fetch(db, feed, result, outcome)
            mark_success(db, feed, result, outcome, config, fetched_at, parsed, content)
    except sqlite3.DatabaseError as exc:
        # The transaction was rolled back: none of this feed's entries are stored.
        outcome.new = outcome.updated = outcome.unchanged = 0
        outcome.stage, outcome.error = Stage.STORE, describe(exc)
        return store_failure(db, feed, result, outcome, config, fetched_at)
    return outcome


def store_unchanged(db: Database, feed: Feed, result: FetchResult | None, config: FetchConfig,
                    now: dt.datetime) -> FeedOutcome:
    """A 304, or a body byte-identical to the last one stored: no parsing."""
    modified = result is None or result.outcome != "not_modified"
    outcome = FeedOutcome(feed_id=feed.id, url=feed.url,
                          status_code=result.status_code if result else None,
                          outcome="unchanged" if modified else "not_modified")
    with db.atomic():
        record_fetch(db, feed, result, outcome)
        mark_success(db, feed, result, outcome, config, now)
    return outcome


def ingest_feed_file(db: Database, path: Path, config: FetchConfig,
                     name: str | None = None) -> FeedOutcome:
    """A local RSS/Atom document (``tracker ingest``): parsed and stored like a fetched
    feed, under a ``feed-file`` source; an unchanged file is not parsed again."""
    feed = feed_file_source(db, path, name)
    now = dt.datetime.now(dt.timezone.utc)
    try:
        content = read_regular_file(path, config.max_bytes)
    except OSError as exc:
        outcome = FeedOutcome(feed_id=feed.id, url=feed.url, outcome="error", stage=Stage.READ,
                              error=describe(exc))
        return store_failure(db, feed, None, outcome, config, now)
    if len(content) > config.max_bytes:
        outcome = FeedOutcome(feed_id=feed.id, url=feed.url, outcome="error", stage=Stage.READ,
                              error=f"file larger than max_bytes={config.max_bytes}")
        return store_failure(db, feed, None, outcome, config, now)
    if feed.body_hash == body_hash(content):
        return store_unchanged(db, feed, None, config, now)
    return ingest_document(db, feed, content, config=config, fetched_at=now)

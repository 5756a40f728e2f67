"""Job: fetch every feed that is due and store its new and changed entries.

Network and storage are apart: :class:`tracker.sources.fetch.Fetcher` runs up to
``[fetch] concurrency`` requests at once on its own thread, and this thread
(which owns the SQLite connection) stores each feed as its response arrives,
in one transaction per feed (:mod:`tracker.store.feeds`). A feed that fails --
timeout, HTTP error, oversized or garbage body, even a bug -- is recorded with
its reason and backed off; the other feeds still ingest.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field

from sqlite_utils import Database

from tracker.config import Config
from tracker.domain import Article, Feed
from tracker.errors import Stage, describe
from tracker.feeds import sync_config_feeds
from tracker.shutdown import should_stop
from tracker.sources.fetch import PAGE_ACCEPT, FetchRequest, FetchResult, Fetcher
from tracker.store.errors import record_error, resolve_error
from tracker.store.feeds import (
    FeedOutcome, article_text, body_hash, due_feeds, get_feed, ingest_document, move_feed,
    pages_fetched, record_fetch, store_failure, store_unchanged,
)
from tracker.timeutil import utc_now


@dataclass
class RefreshSummary:
    feeds: int = 0  # feeds fetched (due, or asked for)
    ok: int = 0  # answered with a feed that was parsed and stored
    not_modified: int = 0  # 304, or a body identical to the last one: no parsing
    failed: int = 0
    disabled: int = 0  # feeds disabled in this run after too many failures
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0  # entries already stored from another feed
    skipped_entries: int = 0
    bozo: int = 0  # feeds that were not well-formed but parsed
    pages: int = 0  # linked pages fetched for full_text feeds
    pages_failed: int = 0
    failures: list[str] = field(default_factory=list)  # "url: stage: reason"
    stopped_early: bool = False  # shutdown or time limit: the remaining feeds stay due

    def add(self, outcome: FeedOutcome) -> None:
        if outcome.outcome == "error":
            self.failed += 1
            self.disabled += outcome.disabled
            self.failures.append(f"{outcome.url}: {outcome.stage}: {outcome.error}")
            return
        if outcome.outcome == "ok":
            self.ok += 1
        else:
            self.not_modified += 1
        self.new += outcome.new
        self.updated += outcome.updated
        self.unchanged += outcome.unchanged
        self.duplicates += outcome.duplicates
        self.skipped_entries += len(outcome.skipped)
        self.bozo += outcome.bozo


def run_refresh(db: Database, config: Config, feeds: list[str] | None = None,
                force: bool = False) -> RefreshSummary:
    """Fetch the feeds that are due (or ``feeds``, by URL or id, due or not) and store them.

    ``force`` fetches every enabled feed regardless of ``next_fetch_at``.
    Disabled feeds are never fetched; ``tracker feeds enable`` brings one back.
    When ``should_stop()`` says so (shutdown, time limit), the job stops between
    feeds: requests still in flight are cancelled and those feeds stay due.
    """
    summary = RefreshSummary()
    sync = sync_config_feeds(db, config.feeds, config.fetch)
    for url, reason in sync.invalid:
        summary.failed += 1
        summary.failures.append(f"{url}: config: {reason}")
        record_error(db, url, Stage.CONFIG, reason)
    now = utc_now()
    if feeds:
        selected = [feed for feed in (get_feed(db, f) for f in feeds) if feed.enabled]
    else:
        selected = due_feeds(db, now, force=force)
    summary.feeds = len(selected)
    if not selected:
        return summary
    with Fetcher(config.fetch) as fetcher:
        pending = {
            fetcher.submit(FetchRequest(feed.url, feed.etag, feed.last_modified)): feed
            for feed in selected
        }
        for future in concurrent.futures.as_completed(pending):
            if should_stop():
                summary.stopped_early = True
                break  # leaving the with-block cancels the requests still running
            feed = pending[future]
            result = None
            try:
                result = future.result()
                outcome = store_result(db, config, fetcher, feed, result, summary)
            except Exception as exc:  # noqa: BLE001 - a bug for one feed must not stop the rest
                outcome = FeedOutcome(feed_id=feed.id, url=feed.url, outcome="error",
                                      stage=Stage.FETCH if result is None else Stage.STORE,
                                      error=describe(exc))
                store_failure(db, feed, result, outcome, config.fetch, utc_now())
            summary.add(outcome)
    return summary


def store_result(db: Database, config: Config, fetcher: Fetcher, feed: Feed,
                 result: FetchResult, summary: RefreshSummary) -> FeedOutcome:
    """Store one feed's fetch result; see :mod:`tracker.feedstore` for the rules."""
    now = utc_now()
    if result.permanent_url and result.permanent_url != feed.url:
        # Moved for good (301/308): the stored URL follows, the move is recorded.
        feed = move_feed(db, feed, result.permanent_url, result.redirects[0])
    if result.outcome == "error":
        outcome = FeedOutcome(feed_id=feed.id, url=feed.url, outcome="error", stage=Stage.FETCH,
                              error=result.error, status_code=result.status_code)
        return store_failure(db, feed, result, outcome, config.fetch, now)
    # A byte-identical body is skipped too (for servers without ETag/Last-Modified),
    # except on full_text feeds, whose pages may still be waiting to be fetched.
    if result.outcome == "not_modified" or (
        not feed.full_text and feed.body_hash == body_hash(result.content)
    ):
        return store_unchanged(db, feed, result, config.fetch, now)
    enrich = None
    if feed.full_text:
        def enrich(articles: list[Article], summary_only: set[str]) -> None:
            fetch_full_text(db, config, fetcher, feed, articles, summary_only, summary)
    return ingest_document(db, feed, result.content, config=config.fetch, fetched_at=now,
                           headers=result.headers, result=result, enrich=enrich)


def fetch_full_text(db: Database, config: Config, fetcher: Fetcher, feed: Feed,
                    articles: list[Article], summary_only: set[str],
                    summary: RefreshSummary) -> None:
    """Replace summaries with the linked pages' text (trafilatura), politely.

    Each page is fetched once (a page already extracted keeps its stored
    text); at most ``full_text_max_pages`` per feed and refresh, the rest wait
    for the next refresh; a 429/503 stops page fetching for this feed.
    """
    candidates = [a for a in articles if a.id in summary_only and a.url]
    done = pages_fetched(db, [a.url for a in candidates])
    todo = []
    for article in candidates:
        if article.url not in done:
            todo.append(article)
            continue
        stored = article_text(db, article.id)
        if stored is not None and len(stored) > len(article.text):
            article.text = stored
    todo = todo[: config.fetch.full_text_max_pages]
    futures = [(a, fetcher.submit(FetchRequest(a.url, accept=PAGE_ACCEPT))) for a in todo]
    stop = False
    for article, future in futures:
        stop = stop or should_stop()
        if stop:
            future.cancel()
            continue
        result = future.result()
        outcome = FeedOutcome(feed_id=feed.id, url=article.url, outcome=result.outcome,
                              status_code=result.status_code, error=result.error)
        summary.pages += 1
        if result.outcome == "ok":
            from tracker.sources.fulltext import extract_page_text  # trafilatura: only when needed

            text = extract_page_text(result.content, result.final_url or article.url)
            if text and len(text) > len(article.text):
                article.text = text
            elif not text:
                outcome.error = "no article text found on the page; the summary is kept"
        else:
            summary.pages_failed += 1
            stop = result.status_code in (429, 503)
        with db.atomic():
            record_fetch(db, feed, result, outcome, kind="page", url=article.url)
            if result.outcome == "ok":
                resolve_error(db, article.url, Stage.FULLTEXT)
            else:
                record_error(db, article.url, Stage.FULLTEXT, result.error or "fetch failed")

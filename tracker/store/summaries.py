"""The summary tables the timeline reads (``summary_*``) and the per-event statistics
on ``events``: rebuilding them from the articles, and checking that the
incrementally maintained copies agree with a rebuild.

Incrementally, the summary tables follow ``articles`` by their triggers
(declared in ``db/summaries.py``), and ``events`` statistics are rewritten by
the jobs that change them (:func:`tracker.store.stance_tags.save_tags`,
:func:`tracker.store.events.write_grouping`,
:func:`tracker.store.articles.delete_articles`) in their own transactions.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from sqlite_utils import Database
from tracker_db import summaries as schema

from tracker.store.events import event_ids, event_stats, stored_event_stats, update_event_stats

# The event columns that are statistics of its articles (not its identity or time).
EVENT_STAT_COLUMNS = ["article_count", "outlet_count", "favor", "against", "neutral",
                      "unrelated", "stance", "mean_favor", "mean_against", "mean_neutral",
                      "first_seen", "last_seen", "first_date", "evidence"]


@dataclass
class SummaryCheck:
    """Rows that differ between the stored summaries and a rebuild, per table."""

    differences: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # rows each table holds

    @property
    def ok(self) -> bool:
        return not any(self.differences.values())


@contextmanager
def read_snapshot(db: Database) -> Iterator[None]:
    """One read transaction: every query inside sees the same state of the file.
    (``db.atomic()`` would take the write lock: tracker_db opens BEGIN IMMEDIATE.)"""
    db.execute("begin deferred")
    try:
        yield
    finally:
        db.execute("commit")


def rebuild(db: Database) -> dict[str, int]:
    """Recompute every summary table and every event's statistics, in one transaction.
    Returns the rows of each table afterwards."""
    with db.atomic():
        schema.rebuild_summaries(db)
        update_event_stats(db, event_ids(db))
    return table_rows(db)


def table_rows(db: Database) -> dict[str, int]:
    counts = {table: db[table].count for table in schema.SUMMARY_TABLES}
    counts["events"] = db["events"].count
    return counts


def _stored(db: Database, summary: schema.Summary) -> set[tuple]:
    """This summary's stored rows (``summary_values`` holds several summaries)."""
    columns = [*summary.keys, *summary.counts]
    key_filter = " and ".join(
        f"{column} = {expr}" for column, expr in summary.keys.items() if expr.startswith("'"))
    return {tuple(row) for row in db.execute(
        f"select {', '.join(columns)} from {summary.table} where {key_filter or 1}")}


def check(db: Database) -> SummaryCheck:
    """Compare the stored summaries and event statistics with what a rebuild would
    write (read-only; one read transaction, so jobs writing meanwhile do not matter)."""
    result = SummaryCheck(rows=table_rows(db))
    with read_snapshot(db):
        for summary in schema.SUMMARIES:
            fresh = {tuple(row) for row in db.execute(summary.rebuild_select())}
            stored = _stored(db, summary)
            result.differences[summary.table] = (result.differences.get(summary.table, 0)
                                                 + len(fresh ^ stored))
        events_with = {row[0]: row[1] for row in db.execute(
            "select outlet, count(*) from summary_outlet_events group by outlet")}
        stored_events = {row[0]: row[1] for row in db.execute(
            "select outlet, events from summary_outlets where events > 0")}
        result.differences["summary_outlets"] += len(set(events_with.items())
                                                     ^ set(stored_events.items()))
        stored = stored_event_stats(db, EVENT_STAT_COLUMNS)
        fresh = {row["id"]: row for row in event_stats(db, event_ids(db))}
        result.differences["events"] = sum(
            1 for eid in stored.keys() | fresh.keys()
            if eid not in stored or eid not in fresh
            or any(stored[eid][c] != fresh[eid][c] for c in EVENT_STAT_COLUMNS))
    return result

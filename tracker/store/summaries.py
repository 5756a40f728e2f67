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


# -- facets of the articles table from the summaries --------------------------------

# Facets of the whole table, and of articles of one stance ({stance} filters).
VALUE_COLUMNS = ("stance", "language", "date_source")  # counted in summary_values
VALUES_FACET = """select value, sum(articles) as n from summary_values
                  where column_name = ? {stance} group by value order by n desc, value limit ?"""
WHOLE_TABLE_FACETS = {
    "outlet": ("select outlet, articles from summary_outlets where outlet != '' and articles > 0 "
               "order by articles desc, outlet limit ?"),
    "published_date": "select date, articles from summary_daily order by articles desc, date limit ?",
}
FILTERABLE = {"stance", "outlet", "published_date"}  # the dimensions of summary_outlet_daily
STANCE_COUNT_COLUMNS = ("favor", "against", "neutral", "unrelated")


def summary_facet(db: Database, column: str, filters: dict[str, str],
                  limit: int) -> list[tuple[str, int]] | None:
    """The values of ``column`` with their article counts, among articles whose
    columns equal ``filters``, most frequent first (at most ``limit``) -- as
    Datasette's column facet would count them, from the summary tables. None
    when the summaries cannot answer (another column or filter, a label they do
    not count); the caller then counts the articles themselves."""
    if "" in filters.values():
        return None  # '' stands for NULL in the summaries
    if column in VALUE_COLUMNS and set(filters) <= {"stance"}:
        stance = "and stance = ?" if filters else ""
        return [tuple(row) for row in db.execute(VALUES_FACET.format(stance=stance),
                                                 [column, *filters.values(), limit])]
    if not filters:
        sql = WHOLE_TABLE_FACETS.get(column)
        return None if sql is None else [tuple(row) for row in db.execute(sql, [limit])]
    if not set(filters) <= FILTERABLE or column not in FILTERABLE:
        return None
    label = filters.get("stance")
    if label is not None and label not in STANCE_COUNT_COLUMNS:
        return None
    counted = label or "articles"
    if set(filters) == {"stance"}:
        # Per stance, the outlet and day summaries hold the counts already (40 and
        # 1,826 rows, where the outlet x day cube holds 73,000).
        table, key = (("summary_outlets", "outlet") if column == "outlet" else
                      ("summary_daily", "date") if column == "published_date" else (None, None))
        if table:
            return [tuple(row) for row in db.execute(
                f"select {key}, {counted} from {table} where {key} != '' and {counted} > 0 "
                f"order by {counted} desc, {key} limit ?", [limit])]
    keys = {"outlet": "outlet", "published_date": "date"}  # articles -> summary column
    where = " and ".join(["1"] + [f"{keys[c]} = ?" for c in keys if c in filters])
    params = [filters[c] for c in keys if c in filters]
    if column == "stance":
        labels = [label] if label else list(STANCE_COUNT_COLUMNS)
        row = db.execute(
            f"select {', '.join(f'sum({c})' for c in labels)}, sum(articles - favor - against "
            f"- neutral - unrelated - untagged) from summary_outlet_daily where {where}",
            params).fetchone()
        if not label and row[-1]:
            return None  # labels the summaries do not count by name (unsupported_language)
        counts = [(lab, n) for lab, n in zip(labels, row) if n]
        return sorted(counts, key=lambda pair: (-pair[1], pair[0]))[:limit]
    key = "outlet" if column == "outlet" else "date"
    return [tuple(row) for row in db.execute(
        f"""select {key}, sum({counted}) as n from summary_outlet_daily
            where {where} and {key} != '' group by {key} having n > 0
            order by n desc, {key} limit ?""", [*params, limit])]

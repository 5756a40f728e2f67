"""Keeping a months-long database small and fast, and counting what is in it."""

from __future__ import annotations

from sqlite_utils import Database
from tracker_db.summaries import drop_summary_triggers, rebuild_summaries

COUNTED_TABLES = ["sources", "articles", "stance_tags", "events", "fetches", "job_runs"]


def database_file(db: Database) -> str | None:
    """The database's file path; None for an in-memory database."""
    row = db.execute("pragma database_list").fetchone()
    return row[2] if row and row[2] else None


def table_counts(db: Database) -> dict[str, int]:
    return {table: db[table].count if db[table].exists() else 0 for table in COUNTED_TABLES}


def fts_tables(db: Database) -> list:
    """Tables with a full-text index (each once)."""
    found, seen = [], set()
    for table in db.tables:
        fts = table.detect_fts()
        if fts and fts not in seen:
            seen.add(fts)
            found.append(table)
    return found


def optimize_fts(table) -> str:
    """Merge the full-text index segments of one table; returns the index's name."""
    table.optimize()
    return table.detect_fts()


def checkpoint_wal(db: Database) -> tuple[int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)``: (busy, pages checkpointed); then refresh the
    query planner's statistics."""
    busy, _log_pages, checkpointed = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    db.execute("PRAGMA optimize")
    return busy, checkpointed


def bulk_insert(db: Database, rows_by_table: dict[str, list[dict]], batch_size: int = 2000) -> None:
    """Load prepared rows into several tables in one transaction (synthetic data for
    benchmarks and tests; the jobs write through the other store modules).

    The summary tables are counted once at the end instead of by their triggers
    row by row (half the time of loading 100,000 articles)."""
    with db.atomic():
        drop_summary_triggers(db)
        for table, rows in rows_by_table.items():
            db[table].insert_all(rows, batch_size=batch_size)
        rebuild_summaries(db)  # and creates the triggers again


def max_id(db: Database, table: str) -> int:
    return db.execute(f"select max(id) from [{table}]").fetchone()[0] or 0

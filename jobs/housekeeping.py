"""Job: keep a months-long database small and fast.

Merges full-text index segments, deletes fetch logs and job runs past their
retention (``[housekeeping]`` in the config; the latest run of each job is
always kept, so ``job_status`` never loses a job), checkpoints the WAL so the
``-wal`` file does not grow without bound while Datasette keeps readers open,
and lets SQLite refresh its query-planner statistics. No ``VACUUM``: it
rewrites the whole file and would block every writer and reader meanwhile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlite_utils import Database

from tracker.config import Config
from tracker.shutdown import should_stop
from tracker.timeutil import to_iso, utc_now


@dataclass
class HousekeepingSummary:
    fts_optimized: list[str] = field(default_factory=list)
    fetches_deleted: int = 0
    job_runs_deleted: int = 0
    # From PRAGMA wal_checkpoint(TRUNCATE): 1 if a reader kept it from finishing.
    wal_checkpoint_busy: int = 0
    wal_pages_checkpointed: int = 0


def _cutoff(days: float) -> str:
    return to_iso(utc_now() - dt.timedelta(days=days))


def delete_old_fetches(db: Database, keep_days: float) -> int:
    if not db["fetches"].exists():
        return 0
    with db.atomic():
        return db.execute("delete from fetches where started_at < ?",
                          [_cutoff(keep_days)]).rowcount


def delete_old_job_runs(db: Database, keep_days: float) -> int:
    # Never the latest run of a job, and never a run that is still going.
    with db.atomic():
        return db.execute(
            """
            delete from job_runs
            where started_at < ? and status != 'running'
              and id not in (select max(id) from job_runs group by job)
            """,
            [_cutoff(keep_days)],
        ).rowcount


def run_housekeeping(db: Database, config: Config) -> HousekeepingSummary:
    """Optimize FTS indexes, delete old fetches and job runs, checkpoint the WAL."""
    summary = HousekeepingSummary()
    for table in db.tables:
        if should_stop():
            return summary
        fts = table.detect_fts()
        # db.tables lists the FTS table itself too; optimize each index once.
        if fts and fts not in summary.fts_optimized:
            table.optimize()
            summary.fts_optimized.append(fts)
    if should_stop():
        return summary
    summary.fetches_deleted = delete_old_fetches(db, config.housekeeping.keep_fetches_days)
    summary.job_runs_deleted = delete_old_job_runs(db, config.housekeeping.keep_job_runs_days)
    if should_stop():
        return summary
    busy, _log_pages, checkpointed = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    summary.wal_checkpoint_busy, summary.wal_pages_checkpointed = busy, checkpointed
    db.execute("PRAGMA optimize")
    return summary

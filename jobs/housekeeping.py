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
from tracker.store import maintenance
from tracker.store.feeds import delete_old_fetches
from tracker.store.runs import delete_old_job_runs
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


def run_housekeeping(db: Database, config: Config) -> HousekeepingSummary:
    """Optimize FTS indexes, delete old fetches and job runs, checkpoint the WAL."""
    summary = HousekeepingSummary()
    for table in maintenance.fts_tables(db):
        if should_stop():
            return summary
        summary.fts_optimized.append(maintenance.optimize_fts(table))
    if should_stop():
        return summary
    summary.fetches_deleted = delete_old_fetches(db, _cutoff(config.housekeeping.keep_fetches_days))
    summary.job_runs_deleted = delete_old_job_runs(
        db, _cutoff(config.housekeeping.keep_job_runs_days))
    if should_stop():
        return summary
    summary.wal_checkpoint_busy, summary.wal_pages_checkpointed = maintenance.checkpoint_wal(db)
    return summary

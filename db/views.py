"""SQL views, re-created on every open (``replace=True``) so they track the code."""

from __future__ import annotations

from sqlite_utils import Database

VIEWS: dict[str, str] = {
    # The latest run of every job.
    "job_status": """
        select job, max(started_at) as last_started, status, finished_at, duration_s,
               counts, error
        from job_runs
        group by job
        order by job
    """,
    # Inputs that are failing now (not yet resolved by a later success).
    "open_errors": """
        select input, stage, reason, first_seen, last_seen, occurrences
        from ingest_errors
        where resolved_at is null
        order by last_seen desc
    """,
}


def create_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)

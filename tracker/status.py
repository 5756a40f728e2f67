"""What ``tracker status`` reports: counts and the latest run of each job."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

COUNTED_TABLES = ["sources", "articles", "stance_tags", "events", "fetches", "job_runs"]


@dataclass
class Status:
    counts: dict[str, int] = field(default_factory=dict)
    open_errors: int = 0
    stance: dict[str, int] = field(default_factory=dict)
    last_runs: list[dict] = field(default_factory=list)


def read_status(db: Database) -> Status:
    status = Status()
    for table in COUNTED_TABLES:
        status.counts[table] = db[table].count if db[table].exists() else 0
    status.open_errors = db.execute(
        "select count(*) from ingest_errors where resolved_at is null"
    ).fetchone()[0]
    status.stance = {
        row["label"] or "error": row["n"]
        for row in db.query("select label, count(*) as n from stance_tags group by label")
    }
    status.last_runs = list(
        db.query(
            """
            select job, status, started_at, finished_at, duration_s, counts, error
            from job_runs where id in (select max(id) from job_runs group by job)
            order by job
            """
        )
    )
    return status

"""What ``tracker status`` reports: counts and the latest run of each job."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from tracker.jobruns import process_alive

COUNTED_TABLES = ["sources", "articles", "stance_tags", "events", "fetches", "job_runs"]


@dataclass
class Status:
    counts: dict[str, int] = field(default_factory=dict)
    open_errors: int = 0
    stance: dict[str, int] = field(default_factory=dict)
    last_runs: list[dict] = field(default_factory=list)
    # The `tracker run` service: its state row plus "alive" (its pid still exists).
    service: dict | None = None
    # Per job: its schedule and next run, as last written by the service.
    schedule: list[dict] = field(default_factory=list)


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
    if db["service_state"].exists():
        status.service = next(db.query("select * from service_state where id = 1"), None)
        if status.service is not None:
            status.service["alive"] = (status.service["state"] == "running"
                                       and process_alive(status.service["pid"]))
    if db["schedule"].exists():
        status.schedule = list(db.query(
            "select job, schedule, timezone, enabled, timeout_minutes, next_run_at "
            "from schedule order by job"))
    return status


def service_line(status: Status) -> str:
    """One line about the `tracker run` service for ``tracker status``."""
    service = status.service
    if not service:
        return "Service: never started (tracker run)"
    if service["alive"]:
        serving = f", serving {service['serving']}" if service["serving"] else ""
        return f"Service: running (pid {service['pid']}) since {service['started_at']}{serving}"
    if service["state"] == "running":
        return f"Service: not running (pid {service['pid']} ended without a clean stop)"
    return f"Service: not running ({service['note'] or 'stopped'} at {service['stopped_at']})"


def next_run_text(status: Status, job: str) -> str | None:
    """``next 2026-01-01T10:00:00Z (every 15 min)`` while the service runs."""
    row = next((r for r in status.schedule if r["job"] == job), None)
    if row is None:
        return None
    if not row["enabled"]:
        return "disabled in [schedule]"
    if not (status.service and status.service["alive"]) or not row["next_run_at"]:
        return f"not scheduled: service not running ({row['schedule']})"
    return f"next {row['next_run_at']} ({row['schedule']})"

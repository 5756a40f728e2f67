"""What ``tracker status`` reports: counts, open errors, the service and each job's runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from tracker.store import maintenance, runs
from tracker.store.errors import open_error_count
from tracker.store.stance_tags import label_counts


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
    return Status(
        counts=maintenance.table_counts(db),
        open_errors=open_error_count(db),
        stance=label_counts(db),
        last_runs=runs.last_runs(db),
        service=runs.service_state(db),
        schedule=runs.schedule_rows(db),
    )


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

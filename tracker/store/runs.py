"""``job_runs``, ``schedule`` and ``service_state``: what ran, what runs next, the service.

Every run of every job, however it was started, is a ``job_runs`` row
(:func:`record_job`); the running ``tracker run`` writes ``schedule`` and
``service_state`` so that ``tracker status`` and Datasette can show when each
job runs next and whether the service is up.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Iterator

from sqlite_utils import Database

from tracker.errors import describe
from tracker.lock import process_alive
from tracker.timeutil import utc_now_iso

log = logging.getLogger("tracker.jobs")

# Runs that count as "the job ran" when deciding whether a slot was missed.
SUCCESS_STATUSES = ("ok", "partial")


@dataclass
class JobRun:
    id: int
    job: str
    counts: Any = field(default_factory=dict)  # a dict or a summary dataclass
    status: str = "ok"
    # Why a run that did not raise still did not finish (e.g. its time limit).
    note: str | None = None


@contextmanager
def record_job(db: Database, job: str, trigger: str = "cli") -> Iterator[JobRun]:
    """Record a job run: a ``running`` row first, then its outcome and counts.

    The body may set ``run.counts`` (a dict, or the job's summary dataclass,
    stored as JSON either way) and ``run.status = "partial"`` when some
    inputs failed, with ``run.note`` saying why when it is not an exception.
    An exception marks the run ``error`` (its one-line description is stored;
    the traceback goes to the log at debug level) and is re-raised;
    Ctrl-C / SystemExit mark it ``interrupted``.
    """
    started = time.monotonic()
    with db.atomic():
        row_id = db["job_runs"].insert(
            {"job": job, "trigger": trigger, "started_at": utc_now_iso(),
             "status": "running", "pid": os.getpid()}
        ).last_pk
    run = JobRun(id=row_id, job=job)
    error = None
    try:
        yield run
    except (KeyboardInterrupt, SystemExit):
        run.status = "interrupted"
        raise
    except BaseException as exc:
        run.status = "error"
        error = describe(exc)
        log.debug("job %s failed:\n%s", job, traceback.format_exc())
        raise
    finally:
        counts = asdict(run.counts) if is_dataclass(run.counts) else run.counts
        with db.atomic():
            db["job_runs"].update(
                row_id,
                {"finished_at": utc_now_iso(), "duration_s": round(time.monotonic() - started, 3),
                 "status": run.status, "counts": json.dumps(counts, default=str),
                 "error": error or run.note},
            )


def mark_abandoned_runs(db: Database) -> int:
    """Runs left ``running`` by a process that no longer exists are marked ``interrupted``."""
    abandoned = []
    for row in db.query("select id, pid from job_runs where status = 'running'"):
        pid = row["pid"]
        if pid != os.getpid() and not process_alive(pid):
            abandoned.append(row["id"])
    with db.atomic():
        for run_id in abandoned:
            db["job_runs"].update(run_id, {"status": "interrupted", "finished_at": utc_now_iso(),
                                           "error": "process ended before the run finished"})
    return len(abandoned)


def last_success(db: Database, job: str) -> dt.datetime | None:
    """When ``job`` last finished a run that counts (any trigger: CLI, cron, service)."""
    row = db.execute(
        f"select max(finished_at) from job_runs where job = ? "
        f"and status in ({', '.join('?' * len(SUCCESS_STATUSES))})",
        [job, *SUCCESS_STATUSES],
    ).fetchone()
    return dt.datetime.fromisoformat(row[0]) if row and row[0] else None


def last_runs(db: Database) -> list[dict]:
    """The latest run of each job."""
    return list(db.query(
        """
        select job, status, started_at, finished_at, duration_s, counts, error
        from job_runs where id in (select max(id) from job_runs group by job)
        order by job
        """
    ))


def delete_old_job_runs(db: Database, cutoff: str) -> int:
    """Runs started before ``cutoff``; never the latest run of a job, never a running one."""
    with db.atomic():
        return db.execute(
            """
            delete from job_runs
            where started_at < ? and status != 'running'
              and id not in (select max(id) from job_runs group by job)
            """,
            [cutoff],
        ).rowcount


def write_schedule(db: Database, rows: list[dict]) -> None:
    """Replace the ``schedule`` table: one row per registered job, jobs no longer
    registered leave it."""
    names = [row["job"] for row in rows]
    with db.atomic():
        db.execute(f"delete from schedule where job not in ({', '.join('?' * len(names))})",
                   names)
        if rows:
            db["schedule"].upsert_all(rows, pk="job")


def write_service_started(db: Database, serving: str | None) -> None:
    with db.atomic():
        db["service_state"].upsert(
            {"id": 1, "pid": os.getpid(), "state": "running", "started_at": utc_now_iso(),
             "stopped_at": None, "serving": serving, "note": None}, pk="id")


def write_service_stopped(db: Database, note: str) -> None:
    with db.atomic():
        db["service_state"].upsert(
            {"id": 1, "state": "stopped", "stopped_at": utc_now_iso(), "note": note}, pk="id")


def service_state(db: Database) -> dict | None:
    """The service's row plus ``alive`` (its pid still exists), or None if it never ran."""
    row = next(db.query("select * from service_state where id = 1"), None)
    if row is not None:
        row["alive"] = row["state"] == "running" and process_alive(row["pid"])
    return row


def schedule_rows(db: Database) -> list[dict]:
    return list(db.query(
        "select job, schedule, timezone, enabled, timeout_minutes, next_run_at "
        "from schedule order by job"))

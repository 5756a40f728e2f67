"""The ``job_runs`` log: every run of every job, however it was started."""

from __future__ import annotations

import json
import os
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any, Iterator

from sqlite_utils import Database

from tracker.timeutil import utc_now_iso


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
    An exception marks the run ``error`` and is re-raised;
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
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
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


def process_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


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

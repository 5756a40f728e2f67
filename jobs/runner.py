"""The job registry and the one way every caller runs a job.

``JOBS`` is in dependency order: ingest and refresh bring articles, tag needs
articles, events need tags, housekeeping tidies up. ``run_job`` records the
run in ``job_runs`` whether it is called by the scheduler, the CLI or a test.
"""

from __future__ import annotations

from typing import Any, Callable

from sqlite_utils import Database

from jobs.events import run_events
from jobs.housekeeping import run_housekeeping
from jobs.ingest import run_ingest
from jobs.refresh import run_refresh
from jobs.tag import run_tag
from tracker.config import Config
from tracker.jobruns import record_job
from tracker.shutdown import job_scope, stop_requested, stopped_early

JobFunction = Callable[[Database, Config], Any]

JOBS: dict[str, JobFunction] = {
    "ingest": run_ingest,
    "refresh": run_refresh,
    "tag": run_tag,
    # After tagging: events leave out articles tagged unrelated.
    "events": run_events,
    # Keep housekeeping last: it tidies up after the jobs above.
    "housekeeping": run_housekeeping,
}


def run_job(db: Database, config: Config, name: str, trigger: str = "cli", *,
            timeout_minutes: float | None = None, **kwargs) -> Any:
    """Run job ``name`` once and record it; returns the job's summary.

    ``timeout_minutes`` is a cooperative time limit (see tracker/shutdown.py):
    a job that then sees ``should_stop()`` is recorded as ``timeout``, and one
    stopped by a shutdown as ``interrupted``, each with the reason.
    """
    function = JOBS[name]
    with record_job(db, name, trigger) as run, job_scope(timeout_minutes):
        summary = function(db, config, **kwargs)
        run.counts = summary or {}
        if getattr(summary, "failed", 0):
            run.status = "partial"
        notice = stopped_early()
        if notice:
            run.status, run.note = notice.status, notice.reason
    return summary


def run_all_once(db: Database, config: Config, trigger: str = "once") -> dict[str, Any]:
    """Every enabled job once, in dependency order, each within its time limit; a
    failing job is recorded and the rest still run; none starts after a stop request."""
    results: dict[str, Any] = {}
    for name in JOBS:
        schedule = config.schedule.jobs.get(name)
        if stop_requested() or (schedule is not None and not schedule.enabled):
            continue
        try:
            results[name] = run_job(db, config, name, trigger,
                                    timeout_minutes=schedule.timeout_minutes if schedule else None)
        except Exception as exc:  # recorded in job_runs by run_job
            results[name] = exc
    return results

"""The job registry and the one way every caller runs a job.

``JOBS`` is in dependency order: ingest and refresh bring articles, tag needs
articles, events need tags, housekeeping tidies up. ``run_job`` records the
run in ``job_runs`` whether it is called by the scheduler, the CLI or a test.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, Callable

from sqlite_utils import Database

from jobs.ingest import run_ingest
from tracker.config import Config
from tracker.jobruns import record_job

JobFunction = Callable[[Database, Config], Any]

JOBS: dict[str, JobFunction] = {
    "ingest": run_ingest,
}


def run_job(db: Database, config: Config, name: str, trigger: str = "cli", **kwargs) -> Any:
    """Run job ``name`` once and record it; returns the job's summary."""
    function = JOBS[name]
    with record_job(db, name, trigger) as run:
        summary = function(db, config, **kwargs)
        run.counts = asdict(summary) if is_dataclass(summary) else (summary or {})
        if getattr(summary, "failed", 0):
            run.status = "partial"
    return summary


def run_all_once(db: Database, config: Config, trigger: str = "once") -> dict[str, Any]:
    """Every job once, in dependency order; a failing job is recorded and the rest still run."""
    results: dict[str, Any] = {}
    for name in JOBS:
        try:
            results[name] = run_job(db, config, name, trigger)
        except Exception as exc:  # recorded in job_runs by run_job
            results[name] = exc
    return results

"""The job registry and the one way every caller runs a job.

``JOBS`` is in dependency order: ingest and refresh bring articles, tag needs
articles, events need tags, housekeeping tidies up. Each job has its default
schedule here; ``[schedule.<job>]`` in the config changes it
(:func:`job_schedules`). ``run_job`` records the run in ``job_runs`` whether it
is called by the scheduler, the CLI or a test.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from tracker.config import Config, JobSchedule
from tracker.errors import ConfigError
from tracker.shutdown import job_scope, stop_requested, stopped_early

if TYPE_CHECKING:
    from sqlite_utils import Database

JobFunction = Callable[..., Any]


@dataclass(frozen=True)
class Job:
    # "module:function", imported when the job first runs: the registry is cheap to
    # import, so `tracker --help` does not load every job's libraries (torch among them).
    target: str | JobFunction
    schedule: JobSchedule  # the default; [schedule.<job>] overrides it

    @property
    def run(self) -> JobFunction:
        if callable(self.target):
            return self.target
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


JOBS: dict[str, Job] = {
    "ingest": Job("jobs.ingest:run_ingest", JobSchedule(interval_minutes=15)),
    "refresh": Job("jobs.refresh:run_refresh", JobSchedule(interval_minutes=30)),
    "tag": Job("jobs.tag:run_tag", JobSchedule(interval_minutes=10)),
    # After tagging: events leave out articles tagged unrelated.
    "events": Job("jobs.events:run_events", JobSchedule(interval_minutes=15)),
    # Keep housekeeping last: it tidies up after the jobs above.
    "housekeeping": Job("jobs.housekeeping:run_housekeeping", JobSchedule(cron="17 3 * * *")),
}


def job_schedules(config: Config) -> dict[str, JobSchedule]:
    """Each registered job's schedule: its default with the config's keys laid over it.

    Raises :class:`ConfigError` for a ``[schedule.<job>]`` that names no job.
    """
    unknown = sorted(set(config.schedule.jobs) - set(JOBS))
    if unknown:
        raise ConfigError(f"[schedule.{unknown[0]}]: no such job (jobs: {', '.join(JOBS)})")
    schedules = {}
    for name, job in JOBS.items():
        table = dict(config.schedule.jobs.get(name, {}))
        # A job given a cron expression loses its default interval, and the reverse.
        if "cron" in table:
            table.setdefault("interval_minutes", None)
        if "interval_minutes" in table:
            table.setdefault("cron", None)
        schedules[name] = dataclasses.replace(job.schedule, **table)
    return schedules


def run_job(db: "Database", config: Config, name: str, trigger: str = "cli", *,
            timeout_minutes: float | None = None, **kwargs) -> Any:
    """Run job ``name`` once and record it; returns the job's summary.

    ``timeout_minutes`` is a cooperative time limit (see tracker/shutdown.py):
    a job that then sees ``should_stop()`` is recorded as ``timeout``, and one
    stopped by a shutdown as ``interrupted``, each with the reason.
    """
    from tracker.store.runs import record_job

    function = JOBS[name].run
    with record_job(db, name, trigger) as run, job_scope(timeout_minutes):
        summary = function(db, config, **kwargs)
        run.counts = summary or {}
        if getattr(summary, "failed", 0):
            run.status = "partial"
        notice = stopped_early()
        if notice:
            run.status, run.note = notice.status, notice.reason
    return summary


def run_all_once(db: "Database", config: Config, trigger: str = "once") -> dict[str, Any]:
    """Every enabled job once, in dependency order, each within its time limit; a
    failing job is recorded and the rest still run; none starts after a stop request."""
    results: dict[str, Any] = {}
    for name, schedule in job_schedules(config).items():
        if stop_requested() or not schedule.enabled:
            continue
        try:
            results[name] = run_job(db, config, name, trigger,
                                    timeout_minutes=schedule.timeout_minutes)
        except Exception as exc:  # recorded in job_runs by run_job
            results[name] = exc
    return results

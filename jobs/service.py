"""The background service behind ``tracker run``: when each job runs, and how it stops.

The scheduler only decides *when*; every run goes through ``run_job`` (so it
is recorded in ``job_runs``) on its own SQLite connection, because a
connection must not be shared across threads.

- One APScheduler job per entry of ``JOBS`` (explicit id = the job name),
  ``max_instances=1``, ``coalesce=True`` and a generous misfire grace time, in
  a thread pool with a thread per job, so one slow or hung job never holds up
  the others.
- The job store is in memory; what happened before a restart is read from
  ``job_runs``: a job whose last successful run is older than one period (or
  that never ran) runs once at start-up, in dependency order, not once per
  missed slot; the others keep their cadence.
- Time limits and shutdown are cooperative (tracker/shutdown.py): a thread
  cannot be killed, so a job stops taking new items when asked, commits and
  returns. On SIGTERM/SIGINT no new job starts, Datasette stops and the
  process exits 0 once the running jobs have returned; a second signal exits
  at once (the item in flight is rolled back by SQLite).
- ``schedule`` and ``service_state`` tables tell ``tracker status`` and
  Datasette when each job runs next and whether the service is up.
- Memory (tracker/memory.py, ``[memory]``): the allocator is tuned before any
  thread starts, caches get their configured sizes, and after each run the
  memory the run freed is handed back to the system; each "finished" line
  in the log says the process's resident memory (RSS).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlite_utils import Database

from jobs.runner import JOBS, job_schedules, run_all_once, run_job
from tracker.config import Config, JobSchedule
from tracker.errors import ServiceError, describe
from tracker import memory
from tracker.lock import ServiceLock
from tracker.store import runs
from tracker.shutdown import (
    clear_stop,
    request_stop,
    stop_reason,
    stop_requested,
    stopped_early,
    wait_for_stop,
)
from tracker.timeutil import to_iso, utc_now_iso
from tracker_db import open_db

log = logging.getLogger("tracker.service")

# A run that is late (the machine slept, the pool was busy) still runs if it is
# less than this late; later than that, it waits for its next slot.
MISFIRE_GRACE_SECONDS = 3600
CATCH_UP_JOB_ID = "catch-up"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Standard log lines on stderr (journald adds its own timestamps, harmlessly)."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    # APScheduler says "Running job"/"executed successfully" for every run; our
    # own started/finished lines say more, so its chatter is kept for debug.
    if level.upper() != "DEBUG":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Model-loading progress bars are not log lines; keep them out of the journal.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()


def describe_schedule(schedule: JobSchedule) -> str:
    if schedule.cron:
        return f"cron {schedule.cron}"
    return f"every {schedule.interval_minutes:g} min"


def time_zone(config: Config) -> ZoneInfo:
    try:
        return ZoneInfo(config.schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ServiceError(f"[schedule] timezone: unknown time zone {config.schedule.timezone!r}") from exc


def build_trigger(name: str, schedule: JobSchedule, tz: ZoneInfo) -> BaseTrigger:
    if schedule.cron:
        try:
            return CronTrigger.from_crontab(schedule.cron, timezone=tz)
        except ValueError as exc:
            raise ServiceError(f"[schedule.{name}] cron {schedule.cron!r}: {exc}") from exc
    if not schedule.interval_minutes or schedule.interval_minutes <= 0:
        raise ServiceError(f"[schedule.{name}] interval_minutes must be positive")
    return IntervalTrigger(seconds=schedule.interval_minutes * 60, timezone=tz)


@dataclass
class PlannedJob:
    name: str
    schedule: JobSchedule
    trigger: BaseTrigger | None  # None when disabled
    run_at_start: bool = False
    next_run_time: dt.datetime | None = None  # first scheduled run after start-up


def check_schedules(config: Config) -> dict[str, JobSchedule]:
    """Every job's schedule; raises for a bad time zone, job name or cron expression,
    before anything starts."""
    tz = time_zone(config)
    schedules = job_schedules(config)
    for name, schedule in schedules.items():
        if schedule.enabled:
            build_trigger(name, schedule, tz)
    return schedules


def plan_jobs(db: Database, config: Config, names: list[str], now: dt.datetime) -> list[PlannedJob]:
    """Decide, from ``job_runs``, which jobs missed a slot while the service was
    down (they run once at start-up) and when each job runs next."""
    tz = time_zone(config)
    now = now.astimezone(tz)
    schedules = job_schedules(config)
    plans = []
    for name in names:
        schedule = schedules[name]
        if not schedule.enabled:
            plans.append(PlannedJob(name, schedule, None))
            continue
        trigger = build_trigger(name, schedule, tz)
        last = runs.last_success(db, name)
        if schedule.interval_minutes is not None:
            period = dt.timedelta(minutes=schedule.interval_minutes)
            due = last is None or last + period <= now
            # Keep the cadence across restarts: next slot is one period after the last run.
            next_run = now + period if due else (last + period).astimezone(tz)
        else:
            due = last is None or trigger.get_next_fire_time(None, last.astimezone(tz)) <= now
            next_run = trigger.get_next_fire_time(None, now)
        plans.append(PlannedJob(name, schedule, trigger, due, next_run))
    return plans


class Service:
    """The scheduler over ``JOBS`` (or the registered jobs ``names``); :meth:`start`
    returns, the jobs run in threads."""

    def __init__(self, config: Config, names: list[str] | None = None):
        self.config = config
        self.names = list(names if names is not None else JOBS)
        self.scheduler: BackgroundScheduler | None = None
        self.plans: list[PlannedJob] = []
        self.serving: str | None = None
        # One run of a job at a time, whether from its schedule or the start-up catch-up.
        self._running = {name: threading.Lock() for name in self.names}
        self._started: dict[str, float] = {}  # monotonic start of each job's current run

    # -- lifecycle -------------------------------------------------------

    def start(self, serving: str | None = None) -> None:
        tz = time_zone(self.config)
        self.serving = serving
        db = open_db(self.config.db_path)
        try:
            abandoned = runs.mark_abandoned_runs(db)
            if abandoned:
                log.warning("%d job run(s) left 'running' by a process that ended are now "
                            "marked interrupted", abandoned)
            self.plans = plan_jobs(db, self.config, self.names, dt.datetime.now(tz))
            self.scheduler = BackgroundScheduler(
                timezone=tz,
                executors={"default": ThreadPoolExecutor(max_workers=len(self.names) + 1)},
                job_defaults={"coalesce": True, "max_instances": 1,
                              "misfire_grace_time": MISFIRE_GRACE_SECONDS},
            )
            self.scheduler.add_listener(self._on_event,
                                        EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            for plan in self.plans:
                if plan.trigger is None:
                    log.info("job %s is disabled", plan.name)
                    continue
                self.scheduler.add_job(self._scheduled_run, plan.trigger, args=[plan.name],
                                       id=plan.name, name=plan.name,
                                       next_run_time=plan.next_run_time)
                log.info("job %s: %s, next run %s", plan.name, describe_schedule(plan.schedule),
                         plan.next_run_time.isoformat())
            due = [plan.name for plan in self.plans if plan.run_at_start]
            if due:
                log.info("missed or never run, running once now: %s", ", ".join(due))
                self.scheduler.add_job(self._catch_up, "date", args=[due], id=CATCH_UP_JOB_ID,
                                       name="start-up catch-up", run_date=dt.datetime.now(tz))
            self.scheduler.start()
            self._write_state(db, state="running")
        finally:
            db.close()

    def stop(self, note: str = "stopped") -> None:
        """No new job starts; wait for the running ones to return, then record the stop."""
        request_stop(note)
        if self.scheduler is not None and self.scheduler.running:
            log.info("waiting for running jobs to finish their current item")
            self.scheduler.shutdown(wait=True)
        try:
            db = open_db(self.config.db_path, migrate=False)
            try:
                self._write_state(db, state="stopped", note=note)
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            log.error("the service's state could not be written: %s", describe(exc))
        log.info("service stopped (%s)", note)

    # -- running jobs ----------------------------------------------------

    def _catch_up(self, names: list[str]) -> None:
        for name in names:
            if stop_requested():
                return
            self.run_now(name, trigger="startup")

    def _scheduled_run(self, name: str) -> None:
        self.run_now(name, trigger="schedule")

    def run_now(self, name: str, trigger: str) -> None:
        """Run one job on a connection of its own; errors are recorded and logged, never raised."""
        if stop_requested():
            return
        running = self._running[name]
        if not running.acquire(blocking=False):
            self._still_running(name)
            return
        try:
            db = open_db(self.config.db_path, migrate=False)
            try:
                self._write_state(db)
                plan = next(p for p in self.plans if p.name == name)
                log.info("job %s started (%s)", name, trigger)
                self._started[name] = time.monotonic()
                try:
                    summary = run_job(db, self.config, name, trigger,
                                      timeout_minutes=plan.schedule.timeout_minutes)
                except Exception as exc:  # already recorded in job_runs by run_job
                    # One line, as in job_runs (which Datasette publishes); the full
                    # traceback only in the log, for whoever runs the service.
                    log.error("job %s failed: %s (see job_runs); the service goes on", name,
                              describe(exc))
                    log.info("job %s traceback:\n%s", name, traceback.format_exc())
                else:
                    notice = stopped_early()
                    if notice:
                        log.warning("job %s %s: %s", name, notice.status, notice.reason)
                    log.info("job %s finished: %s (RSS %s)", name, summary, self._release())
                self._write_state(db)
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:  # not a database, a newer schema...: next slot
            log.error("job %s could not run: %s", name, describe(exc))
        except Exception:  # anything else: log, retry at the next slot
            log.exception("job %s could not run", name)
        finally:
            running.release()

    def _release(self) -> str:
        """Hand the memory the run freed back to the system (glibc keeps it otherwise:
        RSS grew ~20 MB a minute under load, bench/soak.py); the RSS, for the log."""
        if self.config.memory.release_after_jobs:
            memory.release()
        rss = memory.rss_mb()
        return "unknown" if rss is None else f"{rss:.0f} MB"

    def _still_running(self, name: str) -> None:
        """A slot came while the job's previous run still goes on: it is skipped."""
        minutes = (time.monotonic() - self._started.get(name, time.monotonic())) / 60
        plan = next((p for p in self.plans if p.name == name), None)
        limit = plan.schedule.timeout_minutes if plan else None
        if limit and minutes > limit:
            # The limit is cooperative: a job past it is stuck in one item (a call
            # without a timeout?) or never asks should_stop(). Only it is held up.
            log.warning("job %s has run %.1f min, past its time limit of %g min; "
                        "this slot is skipped", name, minutes, limit)
        else:
            log.info("job %s is still running (%.1f min); this slot is skipped", name, minutes)

    def _on_event(self, event: JobSubmissionEvent | JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            self._still_running(event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its slot at %s by more than %ss; it runs at the next one",
                        event.job_id, event.scheduled_run_time, MISFIRE_GRACE_SECONDS)
        elif event.code == EVENT_JOB_ERROR:
            log.error("job %s raised outside run_job: %r", event.job_id, event.exception)

    # -- what status and Datasette show -----------------------------------

    def _write_state(self, db: Database, state: str | None = None, note: str | None = None) -> None:
        now = utc_now_iso()
        rows = []
        for plan in self.plans:
            job = self.scheduler.get_job(plan.name) if self.scheduler and self.scheduler.running else None
            next_run = job.next_run_time if job is not None and state != "stopped" else None
            rows.append({"job": plan.name, "schedule": describe_schedule(plan.schedule),
                         "timezone": self.config.schedule.timezone,
                         "enabled": int(plan.schedule.enabled),
                         "timeout_minutes": plan.schedule.timeout_minutes,
                         "next_run_at": to_iso(next_run) if next_run else None,
                         "updated_at": now})
        runs.write_schedule(db, rows)
        if state == "running":
            runs.write_service_started(db, self.serving)
        elif state == "stopped":
            runs.write_service_stopped(db, note or "stopped")


# -- the two ways `tracker run` runs ---------------------------------------


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM / SIGINT ask for a graceful stop; a second one exits at once."""

    def handle(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if stop_requested():
            log.warning("%s again: exiting now; the item in flight is rolled back", name)
            os._exit(1)
        log.info("%s received: finishing the current item, starting no new job", name)
        request_stop(name)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_datasette(config: Config, host: str, port: int) -> tuple[Any, threading.Thread]:
    """Datasette on uvicorn in a thread of its own: the ``uvicorn.Server`` and its
    thread, once it listens. In a thread, uvicorn leaves signal handling to us."""
    import uvicorn

    from tracker.publish import build_datasette

    datasette = build_datasette(config.db_path, config.server.metadata, public=config.server.public,
                                counts_seconds=config.memory.table_counts_seconds)
    asyncio.run(datasette.invoke_startup())
    debug = logging.getLogger().isEnabledFor(logging.DEBUG)
    server = uvicorn.Server(uvicorn.Config(
        datasette.app(), host=host, port=port, lifespan="on", log_config=None,
        log_level="debug" if debug else "warning", access_log=debug,
    ))
    thread = threading.Thread(target=server.run, name="datasette", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    if not server.started:
        raise ServiceError(f"could not serve on http://{host}:{port}/ (is the port in use?)")
    return server, thread


def prepare_memory(config: Config) -> None:
    """Before any thread starts (arenas are per thread): allocator settings, cache sizes."""
    settings = config.memory
    memory.configure(settings)
    if not memory.tune_allocator(settings.malloc_arena_max, settings.mmap_threshold_kb * 1024):
        log.info("allocator settings of [memory] not applied (not glibc)")


def run_service(config: Config, serve: bool = True, port: int | None = None,
                host: str | None = None) -> None:
    """``tracker run``: schedule the jobs (and serve Datasette) until SIGTERM/SIGINT."""
    clear_stop()
    check_schedules(config)
    prepare_memory(config)
    host = host or config.server.host
    port = port or config.server.port
    with ServiceLock(config.db_path):
        service = Service(config)
        server = thread = None
        with stop_signals():
            if serve:
                open_db(config.db_path).close()  # migrate before Datasette reads the schema
                server, thread = start_datasette(config, host, port)
                log.info("serving %s on http://%s:%s/", config.db_path, host, port)
            try:
                service.start(serving=f"http://{host}:{port}/" if serve else None)
                while not wait_for_stop(1.0):
                    if thread is not None and not thread.is_alive():
                        raise ServiceError("Datasette stopped unexpectedly")
            finally:
                note = "stopped by " + (stop_reason() or "an error")
                if server is not None:
                    server.should_exit = True
                    thread.join(30)
                service.stop(note)


def run_once(config: Config) -> dict[str, Any]:
    """``tracker run --once``: every job once in dependency order (for system cron)."""
    clear_stop()
    prepare_memory(config)
    with ServiceLock(config.db_path), stop_signals():
        db = open_db(config.db_path)
        try:
            runs.mark_abandoned_runs(db)
            return run_all_once(db, config)
        finally:
            db.close()

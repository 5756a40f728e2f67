"""The background service: `tracker run` as a real process, on short schedules.

Every wait polls the database (or the process) until a condition holds, with a
generous deadline for a loaded 2-core machine; no test asserts on wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from jobs.runner import JOBS, Job, run_job
from jobs.service import Service, plan_jobs
from tracker.cli import cli
from tracker.config import Config, JobSchedule
from tracker.lock import LockError, ServiceLock
from tracker.shutdown import clear_stop, request_stop
from tracker.timeutil import to_iso
from tracker_db import open_db

from tracker.testing import ROOT, SEEDS, free_port, wait_for_http
from tracker.testing.feedserver import FeedServer, Route, rss

DEADLINE = 120.0  # seconds; only ever reached when something is wrong


def wait_until(condition, what: str, process: subprocess.Popen | None = None,
               timeout: float = DEADLINE):
    """Poll ``condition()`` until it returns something truthy; fail if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"tracker exited with {process.returncode} before {what}:\n"
                                 f"{process.log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def query(db_path: Path, sql: str, params=()) -> list[tuple]:
    """A fresh read-only look at the database the service is writing."""
    if not db_path.exists():
        return []
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:  # schema not created yet
        if "no such table" in str(exc):
            return []
        raise
    finally:
        connection.close()


def scalar(db_path: Path, sql: str, params=()) -> int:
    """One number from the database; 0 while the service has not created it yet."""
    rows = query(db_path, sql, params)
    return rows[0][0] if rows else 0


def write_config(tmp_path: Path, paths: list[Path], extra: str = "", **intervals: float) -> Path:
    """A config that runs only the jobs given (name=interval in minutes); ``extra`` is
    more TOML (feeds, fetch settings)."""
    lines = [f"[ingest]\npaths = [{', '.join(repr(str(p)) for p in paths)}]\n",
             extra, "[schedule]\ntimezone = \"UTC\"\n"]
    for name in JOBS:
        if name in intervals:
            lines.append(f"[schedule.{name}]\ninterval_minutes = {intervals[name]}\n")
        else:
            lines.append(f"[schedule.{name}]\nenabled = false\n")
    path = tmp_path / "service.toml"
    path.write_text("\n".join(lines).replace("'", '"'))
    return path


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """A test that fails half-way must not leave a service running behind it."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def start_tracker(config: Path, db_path: Path, *args: str) -> subprocess.Popen:
    """``tracker run`` in a process of its own; its log goes to a file (a pipe
    nobody reads could fill up and block a long-running service)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB", "TRACKER_CONFIG")}
    log = config.parent / f"tracker-{time.monotonic_ns()}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "run", "--config", str(config),
             "--db", str(db_path), *args],
            cwd=config.parent, stdout=subprocess.DEVNULL, stderr=stderr,
            env={**env, "HF_HUB_OFFLINE": "1"},
        )
    process.log = log
    STARTED.append(process)
    return process


def finish(process: subprocess.Popen, timeout: float = DEADLINE) -> tuple[int, str]:
    """Wait for the process to exit; its exit code and log."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"tracker did not exit:\n{process.log.read_text()}")
    return process.returncode, process.log.read_text()


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(sig)
    return finish(process)


def many_articles(folder: Path, n: int = 1500, sentences: int = 40) -> Path:
    """``n`` distinct articles (the folder's name is in each text: two folders made
    with this hold different articles)."""
    folder.mkdir()
    body = "Icebreakers moved cargo along the Northern Sea Route this week. " * sentences
    for i in range(n):
        (folder / f"a{i:04d}.txt").write_text(
            f"Arctic shipping report number {i} on the sea route\n\n{body}\n"
            f"Report {i} from {folder.name}.\n")
    return folder


def assert_consistent(db_path: Path) -> None:
    assert query(db_path, "pragma integrity_check") == [("ok",)]
    connection = sqlite3.connect(db_path)
    try:
        # Raises if the full-text index disagrees with the articles table.
        connection.execute("insert into articles_fts(articles_fts) values('integrity-check')")
    finally:
        connection.close()
    total, ids = query(db_path, "select count(*), count(distinct id) from articles")[0]
    assert total == ids
    for key in ("path", "guid"):  # the same file or feed entry stored twice
        assert query(db_path, f"select {key} from articles where {key} is not null "
                              f"group by {key} having count(*) > 1") == [], f"duplicate {key}"
    assert query(db_path, "select count(*) from articles_fts") == [(total,)]
    assert query(db_path, "select count(*) from job_runs where status = 'running'") == [(0,)]


# -- the scheduling decisions, without a process --------------------------------


def insert_run(db, job: str, finished: dt.datetime, status: str = "ok") -> None:
    db["job_runs"].insert({"job": job, "trigger": "schedule", "status": status,
                           "started_at": to_iso(finished - dt.timedelta(seconds=5)),
                           "finished_at": to_iso(finished)})


def test_missed_slots_run_once_at_start_and_cadence_is_kept(db, config):
    now = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.timezone.utc)
    config.schedule.jobs = {
        "ingest": {"interval_minutes": 15},     # last ok 2 h ago: 8 slots missed
        "refresh": {"interval_minutes": 30},    # last ok 10 min ago
        "tag": {"interval_minutes": 10},        # only failed since: due
        "events": {"cron": "17 3 * * *"},       # daily, last ran yesterday
        "housekeeping": {"cron": "17 5 * * *"},  # daily, ran after the last slot
    }
    insert_run(db, "ingest", now - dt.timedelta(hours=2))
    insert_run(db, "refresh", now - dt.timedelta(minutes=10))
    insert_run(db, "tag", now - dt.timedelta(hours=3))
    insert_run(db, "tag", now - dt.timedelta(minutes=2), status="error")
    insert_run(db, "events", now - dt.timedelta(days=1, minutes=30))
    insert_run(db, "housekeeping", now - dt.timedelta(hours=20))
    plans = {p.name: p for p in plan_jobs(db, config, list(config.schedule.jobs), now)}
    assert {n for n, p in plans.items() if p.run_at_start} == {"ingest", "tag", "events"}
    assert plans["ingest"].next_run_time == now + dt.timedelta(minutes=15)
    assert plans["refresh"].next_run_time == now + dt.timedelta(minutes=20)
    assert plans["events"].next_run_time == dt.datetime(2026, 3, 11, 3, 17, tzinfo=dt.timezone.utc)
    assert plans["housekeeping"].next_run_time == dt.datetime(2026, 3, 10, 5, 17,
                                                              tzinfo=dt.timezone.utc)


def test_time_limit_stops_a_job_between_items(db, config, tmp_path):
    folder = many_articles(tmp_path / "many", 30)
    summary = run_job(db, config, "ingest", paths=[str(folder)], timeout_minutes=1e-9)
    assert summary.files == 0
    run = next(db.query("select status, error from job_runs order by id desc limit 1"))
    assert run["status"] == "timeout" and "time limit" in run["error"]
    assert run_job(db, config, "ingest", paths=[str(folder)], timeout_minutes=30).new == 30
    assert db["job_runs"].get(2)["status"] == "ok"


def test_second_lock_on_the_same_database_is_refused(db_path):
    with ServiceLock(db_path):
        with pytest.raises(LockError, match=rf"another tracker run \(pid {os.getpid()}\)"):
            ServiceLock(db_path).acquire()
    with ServiceLock(db_path):  # released, so it can be taken again
        pass


@contextmanager
def service_running(db_path: Path, **schedules: dict) -> Iterator[Service]:
    """An in-process service over the registered jobs named in ``schedules`` (each a
    ``[schedule.<job>]`` table)."""
    config = Config(db_path=str(db_path), ingest_paths=[str(SEEDS)])
    config.schedule.jobs = schedules
    service = Service(config, names=list(schedules))
    service.start()
    try:
        yield service
    finally:
        service.stop("test over")
        clear_stop()


def ok_runs_after(db_path: Path, job: str, first_id: int) -> int:
    return scalar(db_path, "select count(*) from job_runs where job = ? and status = 'ok' "
                           "and id > ?", [job, first_id])


def test_a_job_that_raises_is_recorded_and_the_service_goes_on(db, db_path, monkeypatch, caplog):
    def explode(db, config):
        raise RuntimeError("feed server on fire")

    monkeypatch.setitem(JOBS, "explode", Job(explode, JobSchedule(interval_minutes=60)))
    caplog.set_level(logging.INFO, logger="tracker.service")
    with service_running(db_path, ingest={"interval_minutes": 0.01},
                         explode={"interval_minutes": 0.01}):
        second_error = wait_until(
            lambda: (query(db_path, "select id from job_runs where job = 'explode' "
                                    "and status = 'error' order by id limit 1 offset 1")
                     or [[None]])[0][0],
            "two failed runs")
        wait_until(lambda: ok_runs_after(db_path, "ingest", second_error),
                   "a good ingest run after them")
    error = query(db_path, "select error from job_runs where job = 'explode'")[0][0]
    # One line in job_runs (it is published); the traceback is in the service's log.
    assert error == "RuntimeError: feed server on fire"
    assert any("Traceback" in r.getMessage() for r in caplog.records if r.levelname == "INFO")
    failure = next(r for r in caplog.records if r.levelname == "ERROR")
    assert failure.getMessage() == ("job explode failed: RuntimeError: feed server on fire "
                                    "(see job_runs); the service goes on")
    assert not failure.exc_info
    assert query(db_path, "select state, note from service_state") == [("stopped", "test over")]
    assert_consistent(db_path)


def test_a_newer_tracker_migrating_the_database_stops_this_ones_writes(db, db_path, caplog):
    """A newer version migrates the database under a running service: each job of this
    one then refuses the file, in one log line, and writes nothing more to it."""
    caplog.set_level(logging.INFO, logger="tracker.service")
    with service_running(db_path, ingest={"interval_minutes": 0.01}):
        wait_until(lambda: ok_runs_after(db_path, "ingest", 0), "a first ingest run")
        with sqlite3.connect(db_path, timeout=30) as conn:
            conn.execute("insert into _sqlite_migrations (migration_set, name, applied_at) "
                         "values ('tracker', '9999_from_the_future', '2030-01-01')")
        conn.close()
        runs = scalar(db_path, "select count(*) from job_runs")
        refused = ("job ingest could not run: NewerSchemaError: written by a newer version of "
                   "the tracker (schema 9999_from_the_future); install that version or newer "
                   "to use it")
        wait_until(lambda: [r for r in caplog.records if r.getMessage() == refused],
                   "a refused ingest run")
    assert scalar(db_path, "select count(*) from job_runs") == runs
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_a_hung_job_holds_up_only_itself(db, db_path, monkeypatch, caplog):
    released = threading.Event()

    def hang(db, config):
        released.wait(DEADLINE)  # a call that never returns and never asks should_stop()
        return {}

    monkeypatch.setitem(JOBS, "hang", Job(hang, JobSchedule(interval_minutes=60)))
    caplog.set_level(logging.INFO, logger="tracker.service")
    try:
        with service_running(db_path, ingest={"interval_minutes": 0.01},
                             hang={"interval_minutes": 0.01, "timeout_minutes": 0.001}):
            hung = wait_until(lambda: scalar(db_path, "select id from job_runs where job = 'hang' "
                                                      "and status = 'running'"), "the hung run")
            wait_until(lambda: ok_runs_after(db_path, "ingest", hung) >= 3,
                       "ingest runs while the other job hangs")
            wait_until(lambda: "past its time limit of 0.001 min" in caplog.text,
                       "a warning about the hung job")
            assert scalar(db_path, "select count(*) from job_runs where job = 'hang'") == 1
            request_stop("test over")  # before the release, so no new hang run starts
            released.set()
    finally:
        released.set()
    assert query(db_path, "select status from job_runs where job = 'hang'") == [("ok",)]


# -- `tracker run` as a real process ---------------------------------------------


def test_service_runs_jobs_on_schedule_and_refuses_a_second_instance(tmp_path, db_path):
    config = write_config(tmp_path, [SEEDS], ingest=0.02, housekeeping=60)
    # Housekeeping finished 5 minutes ago: not due at start, and it keeps its cadence.
    db = open_db(db_path)
    last = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=5)
    insert_run(db, "housekeeping", last)
    db.close()
    process = start_tracker(config, db_path, "--no-serve")
    try:
        wait_until(lambda: scalar(db_path, "select count(*) from job_runs where job = 'ingest' "
                                           "and trigger = 'schedule' and status = 'ok'") >= 3,
                   "three scheduled ingest runs", process)
        # While it runs: a second service, and a cron-style --once, are refused.
        code, err = finish(start_tracker(config, db_path, "--no-serve"))
        assert code == 1
        assert f"Error: another tracker run (pid {process.pid}) is using" in err
        code, err = finish(start_tracker(config, db_path, "--once"))
        assert code == 1 and "another tracker run" in err

        status = subprocess.run(
            [sys.executable, "-m", "tracker", "status", "--db", str(db_path)],
            capture_output=True, text=True, check=True, cwd=tmp_path).stdout
        assert f"Service: running (pid {process.pid})" in status
        assert "next " in status and "(every 0.02 min)" in status
    finally:
        code, err = stop(process)
    assert code == 0, err
    runs = query(db_path, "select job, trigger, status from job_runs order by id")
    assert runs[1] == ("ingest", "startup", "ok")  # never ran before: runs at start-up
    assert [r for r in runs if r[0] == "housekeeping"] == [("housekeeping", "schedule", "ok")]
    # A scheduled ingest may have been under way when SIGTERM came: then it stopped early.
    assert {r[2] for r in runs} <= {"ok", "interrupted"}
    assert query(db_path, "select next_run_at from schedule where job = 'housekeeping'") == [
        (None,)]  # cleared on stop; while running it was:
    assert (f"job housekeeping: every 60 min, next run "
            f"{(last + dt.timedelta(hours=1)).isoformat()}") in err
    assert query(db_path, "select state, note from service_state") == [
        ("stopped", "stopped by SIGTERM")]
    assert "SIGTERM received" in err and " INFO tracker.service: " in err
    # Each run's line says the resident memory after the run released what it freed.
    assert re.search(r"job ingest finished: .* \(RSS \d+ MB\)\n", err), err
    assert_consistent(db_path)


def start_long_ingest(tmp_path: Path, db_path: Path) -> tuple[Path, subprocess.Popen]:
    """A service whose start-up ingest of 1500 files is under way (its config, process)."""
    config = write_config(tmp_path, [many_articles(tmp_path / "many")], ingest=60)
    process = start_tracker(config, db_path, "--no-serve")
    wait_until(lambda: scalar(db_path, "select count(*) from articles") >= 50,
               "the ingest to be under way", process)
    return config, process


def test_sigterm_mid_job_finishes_the_item_commits_and_exits_0(tmp_path, db_path):
    _, process = start_long_ingest(tmp_path, db_path)
    code, err = stop(process, signal.SIGTERM)
    assert code == 0, err
    status, error, counts = query(
        db_path, "select status, error, counts from job_runs where job = 'ingest'")[0]
    assert status == "interrupted" and "SIGTERM" in error
    saved = query(db_path, "select count(*) from articles")[0][0]
    assert 50 <= saved < 1500
    assert f'"new": {saved},' in counts  # every file the run counted is committed
    assert_consistent(db_path)


def test_sigterm_during_tagging_commits_the_batch_and_exits_0(tmp_path, db_path, tiny_nli):
    folder = many_articles(tmp_path / "many", 300, sentences=2)  # short: a batch takes seconds
    model = tiny_nli
    db = open_db(db_path)
    run_job(db, Config(db_path=str(db_path)), "ingest", paths=[str(folder)])
    db.close()
    config = write_config(tmp_path, [folder], extra=f'[tagger]\nmodel = "{model}"\n', tag=60)
    process = start_tracker(config, db_path, "--no-serve")
    wait_until(lambda: scalar(db_path, "select count(*) from stance_tags"),
               "the first batch of tags", process)
    code, err = stop(process, signal.SIGTERM)
    assert code == 0, err
    status, error, counts = query(
        db_path, "select status, error, counts from job_runs where job = 'tag'")[0]
    assert status == "interrupted" and "SIGTERM" in error, err
    tags = scalar(db_path, "select count(*) from stance_tags")
    assert 0 < tags < 300
    done = json.loads(counts)
    assert done["tagged"] + done["reused"] == tags  # the batch in hand was finished and committed
    # Each committed tag reached its article in the same transaction.
    assert scalar(db_path, "select count(*) from stance_tags t join articles a on a.id = "
                           "t.article_id where a.stance is t.label") == tags
    assert_consistent(db_path)


def test_sigkill_mid_job_restarts_into_a_consistent_database(tmp_path, db_path):
    config, process = start_long_ingest(tmp_path, db_path)
    stop(process, signal.SIGKILL)
    before = query(db_path, "select count(*) from articles")[0][0]
    assert before < 1500
    status = CliRunner().invoke(cli, ["status", "--db", str(db_path)]).output
    assert f"Service: not running (pid {process.pid} ended without a clean stop)" in status
    # The lock died with the process: a restart is not refused.
    code, err = finish(start_tracker(config, db_path, "--once"))
    assert code == 0, err
    runs = query(db_path, "select trigger, status, error, counts from job_runs "
                          "where job = 'ingest' order by id")
    assert [r[:2] for r in runs] == [("startup", "interrupted"), ("once", "ok")]
    assert "process ended" in runs[0][2]
    assert f'"new": {1500 - before},' in runs[1][3]
    assert query(db_path, "select count(*) from articles") == [(1500,)]
    assert_consistent(db_path)


def test_sigkill_mid_refresh_restarts_into_a_consistent_database(tmp_path, db_path):

    feeds, per_feed = 120, 5
    with FeedServer() as server:
        for i in range(feeds):
            entries = [{"title": f"Arctic shipping story {j} from feed {i}",
                        "link": f"https://news.example.org/{i}/{j}",
                        "guid": f"https://news.example.org/?p={i}-{j}",
                        "pubDate": "Mon, 03 Feb 2025 10:00:00 GMT",
                        "description": f"<p>Report {j} of feed {i} on the Northern Sea Route.</p>"}
                       for j in range(per_feed)]
            # A little server time per feed, so the kill lands while feeds are still coming.
            server.routes[f"/feed{i}"] = Route(rss(entries, title=f"Feed {i}"), delay=0.05)
        extra = "".join(f'[[feeds]]\nurl = "{server.url(f"/feed{i}")}"\n' for i in range(feeds))
        extra += ("[fetch]\nconcurrency = 2\nconnect_timeout = 5.0\nread_timeout = 5.0\n"
                  "allow_private_addresses = true\n")
        config = write_config(tmp_path, [], extra=extra, refresh=60)
        process = start_tracker(config, db_path, "--no-serve")
        wait_until(lambda: scalar(db_path, "select count(*) from articles") >= 50,
                   "the refresh to be under way", process)
        stop(process, signal.SIGKILL)
        before = scalar(db_path, "select count(*) from articles")
        assert before < feeds * per_feed
        code, err = finish(start_tracker(config, db_path, "--once"))
        assert code == 0, err
        assert not server.errors, server.errors  # the killed client only hung up
    runs = query(db_path, "select trigger, status from job_runs where job = 'refresh' order by id")
    assert runs == [("startup", "interrupted"), ("once", "ok")]
    # Every entry exactly once: the feeds stored before the kill are not fetched
    # again, the feed in flight was rolled back as a whole and fetched on restart.
    assert query(db_path, "select count(*), count(distinct guid) from articles") == [
        (feeds * per_feed, feeds * per_feed)]
    assert query(db_path, "select count(*) from sources where kind = 'feed'") == [(feeds,)]
    assert_consistent(db_path)


def test_once_runs_every_job_once_in_order(tmp_path, db_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    for seed in SEEDS.iterdir():
        (folder / seed.name).write_bytes(seed.read_bytes())
    config = tmp_path / "once.toml"
    config.write_text(f'[ingest]\npaths = ["{folder}"]\n')
    code, err = finish(start_tracker(config, db_path, "--once"), timeout=600)
    runs = query(db_path, "select job, trigger, status from job_runs order by id")
    assert [r[0] for r in runs] == list(JOBS)
    assert {r[1] for r in runs} == {"once"}
    failed = [r[0] for r in runs if r[2] == "error"]
    assert code == (1 if failed else 0), err
    assert query(db_path, "select count(*) from articles") == [(5,)]


def test_systemd_unit_runs_a_valid_tracker_command():
    unit = (ROOT / "deploy" / "tracker.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/tracker") and argv[1] == "run"
    # Parses with the real CLI (an unknown option would raise).
    cli.commands["run"].make_context("run", argv[2:])
    assert "KillSignal=SIGTERM" in unit and "TimeoutStopSec=" in unit
    # The safety net: a memory ceiling, and a restart when it is crossed (or on a crash).
    settings = dict(line.split("=", 1) for line in unit.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["Restart"] == "on-failure" and settings["MemoryMax"].endswith("G")
    assert int(settings["MemoryHigh"].rstrip("M")) < 1024 * int(settings["MemoryMax"].rstrip("G"))


def test_two_jobs_can_write_at_the_same_time(db_path, tmp_path):
    """The service runs jobs in parallel threads, each on its own connection:
    a read-then-write transaction must wait for the other writer, not fail."""

    folders = [many_articles(tmp_path / f"folder{k}", 200) for k in range(2)]
    open_db(db_path).close()
    errors = []

    def ingest_twice(folder: Path) -> None:
        db = open_db(db_path, migrate=False)
        try:
            for _ in range(2):
                run_job(db, Config(db_path=str(db_path)), "ingest", paths=[str(folder)])
        except sqlite3.OperationalError as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=ingest_twice, args=(f,)) for f in folders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert query(db_path, "select count(*) from articles") == [(400,)]
    assert_consistent(db_path)


def test_run_serves_datasette_while_jobs_refresh_it(tmp_path, db_path):
    import socket


    config = write_config(tmp_path, [SEEDS], ingest=60, housekeeping=60)
    port = free_port()
    process = start_tracker(config, db_path, "--port", str(port))
    try:
        def five_articles():
            response = wait_for_http(
                f"http://127.0.0.1:{port}/tracker/articles.json?_shape=array", process=process)
            return response.status_code == 200 and len(response.json()) == 5

        wait_until(five_articles, "Datasette to show the ingested seeds", process)
        state = wait_for_http(f"http://127.0.0.1:{port}/tracker/service_state.json?_shape=array")
        assert state.json()[0]["serving"] == f"http://127.0.0.1:{port}/"
        # The port is taken now: a service on another database cannot serve there.
        code, err = finish(start_tracker(config, tmp_path / "other.db", "--port", str(port)))
        assert code == 1 and f"could not serve on http://127.0.0.1:{port}/" in err
    finally:
        code, err = stop(process, signal.SIGINT)
    assert code == 0, err
    with socket.socket() as sock:  # Datasette let go of the port
        sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize("schedule, message", [
    ('[schedule]\ntimezone = "Mars/Olympus"', "Error: [schedule] timezone: unknown time zone 'Mars/Olympus'"),
    ('[schedule.housekeeping]\ncron = "61 3 * * *"',
     "Error: [schedule.housekeeping] cron: '61 3 * * *' is not a crontab expression: "),
])
def test_a_bad_schedule_is_a_one_line_error_before_anything_starts(tmp_path, db_path, schedule,
                                                                  message):
    config = tmp_path / "bad.toml"
    config.write_text(schedule + "\n")
    result = CliRunner().invoke(cli, ["run", "--no-serve", "--config", str(config),
                                      "--db", str(db_path)])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1, result.output
    assert not db_path.exists()

"""Soak: `tracker run` for a while under a steady stream of news, measured every minute.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/soak.py [--minutes 25] [--no-serve]
        [--malloc-arena-max 2] [--source DIR] [--keep DIR] [--json FILE]

A loopback feed server (tracker/testing/newsstream.py) serves ``--feeds`` RSS
feeds that each gain 1-3 items every ``--tick`` seconds (40 feeds every 30 s:
about 160 new articles a minute, one in ten about the topic; news time runs 6
hours a tick-minute, so a 25-minute soak holds about six days of news and
its events can span days). `tracker run` runs as a real process with short
schedules (refresh every 0.5 min, tag every 0.5, events every 1, housekeeping
every 5) and serves Datasette, unless ``--no-serve``.

Measured, from outside the process:

* every second: its resident memory (RSS), so that each job run's change in
  RSS can be read off (jobs overlap, so it is indicative);
* every minute: RSS, anonymous RSS, threads, file descriptors, WAL and
  database size, articles, the tag backlog (articles untagged for more than 2
  minutes), events (count, largest), and the latency of the site's pages
  (a page every second, round robin, while serving);
* every 5 minutes: ``PRAGMA integrity_check``; at the end, after SIGTERM: the
  exit code and time, the full-text index check, duplicates, job runs, the
  ERROR lines of the log, the events' sizes and spans, and the events job's
  run times.

It prints the RSS at minutes 5, 15 and 25 (where the run is that long), the
slope of RSS over minutes 8-20 (MB/min) and over the last two thirds of the
run (MB/hour), and the other figures. Nothing here asserts; it is bounded by
``--minutes`` (plus a minute to stop). Run one soak at a time: two would
measure each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

from tracker.testing import ROOT, free_port, wait_for_http
from tracker.testing.feedserver import FeedServer
from tracker.testing.newsstream import NewsStream
from tracker.testing.procstats import percentile, process_stats, slope

MB = 1024 * 1024
PAGES = [
    "/", "/tracker", "/tracker/articles", "/tracker/articles?_search=Arctic",
    "/tracker/events", "/tracker/timeline", "/tracker/article_stance",
    "/tracker/stance_daily", "/tracker/stance_weekly", "/tracker/stance_by_outlet",
    "/tracker/feeds", "/tracker/job_status", "/tracker/timeline_between?start=&end=",
    "/tracker/stance_over_time?start=&end=&period=week", "/tracker/search?q=Bering",
    "/tracker/articles_in_event?event_id=1", "/-/dashboards/timeline",
]


def write_config(folder: Path, urls: list[str], args: argparse.Namespace) -> Path:
    lines = ['[ingest]\npaths = []\n',
             "[fetch]\nallow_private_addresses = true\ninterval_minutes = 0.5\n"
             "concurrency = 4\nconnect_timeout = 10.0\nread_timeout = 20.0\n"]
    lines += [f'[[feeds]]\nurl = "{url}"\n' for url in urls]
    lines.append('[schedule]\ntimezone = "UTC"\n[schedule.ingest]\nenabled = false\n')
    for job, minutes in (("refresh", 0.5), ("tag", 0.5), ("events", 1), ("housekeeping", 5)):
        lines.append(f"[schedule.{job}]\ninterval_minutes = {minutes}\ntimeout_minutes = 5\n")
    path = folder / "soak.toml"
    path.write_text("\n".join(lines) + "\n" + args.extra_config)
    return path


class Readonly:
    """Short read-only looks at the database the service writes."""

    def __init__(self, path: Path):
        self.path = path

    def query(self, sql: str, params=()) -> list[tuple]:
        if not self.path.exists():
            return []
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            connection.close()

    def scalar(self, sql: str, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PageProbe(threading.Thread):
    """Requests the site's pages round robin, one a second, and records each latency."""

    def __init__(self, base: str, stop: threading.Event):
        super().__init__(name="page-probe", daemon=True)
        self.base, self.stop = base, stop
        self.results: list[tuple[float, str, float, int]] = []  # (time, page, seconds, status)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            index = 0
            while not self.stop.wait(1.0):
                page = PAGES[index % len(PAGES)]
                index += 1
                started = time.monotonic()
                try:
                    status = client.get(self.base + page).status_code
                except httpx.HTTPError:
                    status = 0
                self.results.append((started, page, time.monotonic() - started, status))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--tick", type=float, default=30, help="seconds between new items")
    parser.add_argument("--news-hours-per-tick", type=float, default=3.0)
    parser.add_argument("--relevant-share", type=float, default=0.1)
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--malloc-arena-max", type=int, default=None,
                        help="run the service with MALLOC_ARENA_MAX set")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more environment for the service (repeatable)")
    parser.add_argument("--source", type=Path, default=None,
                        help="run the service from this checkout (e.g. an older commit)")
    parser.add_argument("--extra-config", default="", help="TOML appended to the soak's config")
    parser.add_argument("--keep", type=Path, default=None, help="keep the database and log here")
    parser.add_argument("--json", type=Path, default=None, help="write every sample here")
    args = parser.parse_args()

    folder = Path(args.keep or tempfile.mkdtemp(prefix="soak-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "tracker.db"
    log_path = folder / "tracker.log"
    for stale in folder.glob("tracker.db*"):
        stale.unlink()

    news_minutes = args.minutes + 2
    ticks = int(news_minutes * 60 / args.tick)
    stream = NewsStream(
        args.feeds, seed=7, relevant_share=args.relevant_share,
        news_start=dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        - dt.timedelta(hours=args.news_hours_per_tick * ticks),
        news_hours_per_tick=args.news_hours_per_tick)
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(args.tick):
            stream.tick()

    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB", "TRACKER_CONFIG")}
    env["HF_HUB_OFFLINE"] = "1"
    if args.malloc_arena_max is not None:
        env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
    for pair in args.env:
        name, _, value = pair.partition("=")
        env[name] = value
    if args.source:
        env["PYTHONPATH"] = str(args.source.resolve())

    port = free_port()
    rss_trace: list[tuple[float, int]] = []  # (monotonic, rss) every second
    minutes: list[dict] = []
    integrity: list[tuple[float, str]] = []
    ro = Readonly(db_path)

    with FeedServer() as server:
        urls = stream.serve(server)
        stream.tick()
        config = write_config(folder, urls, args)
        threading.Thread(target=ticker, name="ticker", daemon=True).start()
        command = [sys.executable, "-m", "tracker", "run", "--config", str(config),
                   "--db", str(db_path)]
        command += ["--no-serve"] if args.no_serve else ["--port", str(port)]
        with log_path.open("w") as log:
            process = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL,
                                       stderr=log, env=env)
        started = time.monotonic()
        probe = None
        try:
            if not args.no_serve:
                wait_for_http(f"http://127.0.0.1:{port}/", timeout=120, process=process)
                probe = PageProbe(f"http://127.0.0.1:{port}", stop)
                probe.start()
            deadline = started + args.minutes * 60
            next_minute = started + 60
            next_check = started + 300
            while time.monotonic() < deadline and process.poll() is None:
                stats = process_stats(process.pid)
                now = time.monotonic()
                if stats:
                    rss_trace.append((now, stats.rss))
                if now >= next_minute and stats:
                    minutes.append(sample(now - started, stats, ro, db_path, probe, now))
                    print(format_sample(minutes[-1]), flush=True)
                    next_minute += 60
                if now >= next_check:
                    integrity.append((now - started, ro.scalar("pragma integrity_check")))
                    next_check += 300
                time.sleep(1.0)
        finally:
            stop.set()
            stopping = time.monotonic()
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
            exit_seconds = time.monotonic() - stopping
    report(args, folder, db_path, log_path, started, rss_trace, minutes, integrity, probe,
           code, exit_seconds, stream)
    if server_errors := server.error_report():
        sys.exit(server_errors)


def sample(elapsed: float, stats, ro: Readonly, db_path: Path, probe: PageProbe | None,
           now: float) -> dict:
    wal = Path(f"{db_path}-wal")
    two_minutes_ago = iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=2))
    latencies = [r[2] for r in (probe.results if probe else []) if now - 60 <= r[0] < now]
    sizes = ro.query("select count(*), max(article_count) from events")
    return {
        "minute": round(elapsed / 60, 2),
        "rss_mb": stats.rss / MB, "anon_mb": stats.anon / MB,
        "threads": stats.threads, "fds": stats.fds,
        "wal_mb": wal.stat().st_size / MB if wal.exists() else 0.0,
        "db_mb": db_path.stat().st_size / MB if db_path.exists() else 0.0,
        "articles": ro.scalar("select count(*) from articles") or 0,
        "backlog": ro.scalar(
            "select count(*) from articles a left join stance_tags t on t.article_id = a.id "
            "where t.article_id is null and a.ingested_at < ?", [two_minutes_ago]) or 0,
        "events": sizes[0][0] if sizes else 0,
        "largest_event": (sizes[0][1] or 0) if sizes else 0,
        "page_p50": percentile(latencies, 0.5), "page_p95": percentile(latencies, 0.95),
    }


def format_sample(s: dict) -> str:
    pages = ("" if s["page_p50"] is None else
             f" pages p50 {s['page_p50']:.2f}s p95 {s['page_p95']:.2f}s")
    return (f"min {s['minute']:5.1f}: RSS {s['rss_mb']:7.1f} MB (anon {s['anon_mb']:7.1f}) "
            f"threads {s['threads']:3d} fds {s['fds']:3d} WAL {s['wal_mb']:5.1f} MB "
            f"DB {s['db_mb']:6.1f} MB articles {s['articles']:6d} backlog {s['backlog']:4d} "
            f"events {s['events']:5d} largest {s['largest_event']:5d}{pages}")


def rss_at(trace: list[tuple[float, int]], started: float, minute: float) -> float | None:
    near = [rss for t, rss in trace if abs((t - started) / 60 - minute) <= 0.5]
    return statistics.median(near) / MB if near else None


def rss_slope(trace, started: float, first: float, last: float) -> float | None:
    """MB per minute over [first, last] minutes, least squares on the per-second samples."""
    points = [((t - started) / 60, rss / MB) for t, rss in trace
              if first <= (t - started) / 60 <= last]
    return slope(points)


def parse_time(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def report(args, folder, db_path, log_path, started, trace, minutes, integrity, probe, code,
           exit_seconds, stream) -> None:
    ro = Readonly(db_path)
    duration = (trace[-1][0] - started) / 60 if trace else 0.0
    print(f"\n== soak: {duration:.1f} min, {args.feeds} feeds, serve={not args.no_serve}, "
          f"MALLOC_ARENA_MAX={args.malloc_arena_max}, source={args.source or ROOT}")
    print(f"stream: {stream.total} items ({stream.relevant} about the topic) in {stream.ticks} "
          f"ticks; news time {stream.news_start:%Y-%m-%d %H:%M} .. {stream.news_time():%Y-%m-%d %H:%M}")
    for minute in (5, 15, 25, 40, 60):
        if minute <= duration + 0.25:
            print(f"RSS at minute {minute}: {rss_at(trace, started, minute):.1f} MB")
    if duration >= 20:
        print(f"RSS slope, minutes 8-20: {rss_slope(trace, started, 8, 20):+.2f} MB/min")
    if duration >= 6:
        tail = rss_slope(trace, started, duration / 3, duration)
        print(f"RSS slope, minutes {duration / 3:.0f}-{duration:.0f}: {tail:+.2f} MB/min "
              f"({tail * 60:+.0f} MB/hour)")
    if trace:
        print(f"RSS peak {max(r for _, r in trace) / MB:.1f} MB, last {trace[-1][1] / MB:.1f} MB")
    if minutes:
        for key in ("threads", "fds", "wal_mb", "db_mb"):
            values = [m[key] for m in minutes]
            print(f"{key}: min {min(values):.1f} max {max(values):.1f} last {values[-1]:.1f}")
        print(f"tag backlog (untagged > 2 min): max {max(m['backlog'] for m in minutes)}, "
              f"last {minutes[-1]['backlog']}")

    # Job runs, and what each job's runs did to RSS (jobs overlap: indicative).
    runs = ro.query("select job, status, started_at, finished_at, counts from job_runs "
                    "where finished_at is not null order by id")
    wall0 = time.time() - (time.monotonic() - started)
    by_job: dict[str, list] = defaultdict(list)
    for job, status, start, finish, counts in runs:
        by_job[job].append((status, parse_time(start) - wall0, parse_time(finish) - wall0,
                            json.loads(counts or "{}")))

    def rss_near(offset: float) -> int | None:
        moment = started + offset
        candidates = [r for t, r in trace if abs(t - moment) <= 1.5]
        return candidates[0] if candidates else None

    print("job runs:", ", ".join(f"{job} {Counter(r[0] for r in rs).most_common()}"
                                 for job, rs in by_job.items()))
    for job, rs in by_job.items():
        deltas = [(rss_near(f) or 0) - (rss_near(s) or 0) for _, s, f, _ in rs
                  if rss_near(s) and rss_near(f)]
        seconds = [f - s for _, s, f, _ in rs]
        print(f"  {job:12s} {len(rs):4d} runs, seconds p50 {statistics.median(seconds):6.2f} "
              f"max {max(seconds):6.2f}; RSS change during runs: sum {sum(deltas) / MB:+8.1f} MB, "
              f"largest {max(deltas, default=0) / MB:+7.1f} MB")
    events_runs = by_job.get("events", [])
    if events_runs:
        half = len(events_runs) // 2
        for label, part in (("first half", events_runs[:half]), ("second half", events_runs[half:])):
            if part:
                secs = [f - s for _, s, f, _ in part]
                regrouped = [c.get("regrouped", 0) for *_, c in part]
                print(f"events job, {label}: {len(part)} runs, seconds p50 "
                      f"{statistics.median(secs):.2f} max {max(secs):.2f}; articles regrouped "
                      f"p50 {statistics.median(regrouped):.0f} max {max(regrouped)}")
    sizes = [r[0] for r in ro.query("select article_count from events order by article_count desc")]
    spans = [r[0] for r in ro.query(
        "select (julianday(last_seen) - julianday(first_seen)) from events "
        "where first_seen is not null order by 1 desc limit 1")]
    relevant = ro.scalar("select count(*) from event_articles") or 0
    print(f"events: {len(sizes)} holding {relevant} articles; largest {sizes[:5]}; "
          f"longest span {spans[0] if spans else 0:.1f} days")

    if probe is not None:
        by_page: dict[str, list[float]] = defaultdict(list)
        failed = Counter()
        for _, page, seconds, status in probe.results:
            by_page[page].append(seconds)
            if status != 200:
                failed[page] += 1
        every = [r[2] for r in probe.results]
        print(f"pages: {len(every)} requests, p50 {percentile(every, .5):.3f}s "
              f"p95 {percentile(every, .95):.3f}s max {max(every):.3f}s; not 200: "
              f"{sum(failed.values())}")
        for page, values in sorted(by_page.items(), key=lambda kv: -percentile(kv[1], .95)):
            print(f"  {page:55s} p50 {percentile(values, .5):.3f}s p95 "
                  f"{percentile(values, .95):.3f}s max {max(values):.3f}s"
                  + (f"  ({failed[page]} not 200)" if failed[page] else ""))

    print(f"integrity checks: {integrity}")
    checks = final_checks(db_path)
    print(f"after stop: exit {code} in {exit_seconds:.1f}s; {checks}")
    log = log_path.read_text(errors="replace")
    errors = Counter(re.sub(r"\d+", "N", line.split(" ERROR ", 1)[-1])[:120]
                     for line in log.splitlines() if " ERROR " in line or line.startswith("ERROR"))
    print(f"ERROR lines in the log: {sum(errors.values())}")
    for line, count in errors.most_common(8):
        print(f"  {count:4d} x {line}")
    print(f"database and log: {folder}")
    if args.json:
        args.json.write_text(json.dumps({"minutes": minutes, "rss_trace": [
            (round(t - started, 1), r) for t, r in trace]}, indent=1))


def final_checks(db_path: Path) -> dict:
    connection = sqlite3.connect(db_path)
    try:
        result = {"integrity": connection.execute("pragma integrity_check").fetchone()[0]}
        try:
            connection.execute("insert into articles_fts(articles_fts) values('integrity-check')")
            result["fts"] = "ok"
        except sqlite3.DatabaseError as exc:
            result["fts"] = str(exc)
        result["duplicate_guids"] = connection.execute(
            "select count(*) from (select guid from articles where guid is not null "
            "group by guid having count(*) > 1)").fetchone()[0]
        result["articles"] = connection.execute("select count(*) from articles").fetchone()[0]
        result["running_jobs"] = connection.execute(
            "select count(*) from job_runs where status = 'running'").fetchone()[0]
        return result
    finally:
        connection.close()


if __name__ == "__main__":
    main()

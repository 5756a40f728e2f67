#!/usr/bin/env python
"""Crash safety, measured: SIGKILL a service that refreshes ~50 loopback feeds at random
moments, restart it each time, and check the database after every restart.

    .venv/bin/python bench/crash_safety.py --feeds 50 --kills 8

Each round: `tracker run --no-serve` (only the refresh job) is killed with SIGKILL
after a random delay while it fetches and stores feeds (the feed server adds a
little delay per feed, so the kill lands mid-refresh); then the next round starts a
new service on the same database, which goes on where the last one stopped. After
each kill it checks ``PRAGMA integrity_check``, foreign keys, the full-text index
against ``articles``, and that no GUID or URL is stored twice; it prints the counts.
At the end one clean `tracker run --once` must bring every entry in exactly once.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracker.testing.feedserver import FeedServer, Route, rss


def check(db_path: Path) -> dict:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        one = lambda sql: connection.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "integrity": one("pragma integrity_check"),
            "foreign_key_errors": len(connection.execute("pragma foreign_key_check").fetchall()),
            "articles": one("select count(*) from articles"),
            "fts_rows": one("select count(*) from articles_fts"),
            "duplicate_guids": one("select count(*) from (select guid from articles where guid "
                                   "is not null group by guid having count(*) > 1)"),
            "duplicate_urls": one("select count(*) from (select url from articles where url "
                                  "is not null group by url having count(*) > 1)"),
            "runs_left_running": one("select count(*) from job_runs where status = 'running'"),
        }
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    total = args.feeds * args.entries
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        tmp = Path(tmp)
        for i in range(args.feeds):
            entries = [{"title": f"Arctic story {j} of feed {i}", "guid": f"urn:{i}:{j}",
                        "link": f"https://news.example.org/{i}/{j}",
                        "description": f"Report {j} of feed {i} on the Northern Sea Route."}
                       for j in range(args.entries)]
            server.routes[f"/feed{i}"] = Route(rss(entries, title=f"Feed {i}"), delay=0.03)
        config = tmp / "tracker.toml"
        config.write_text(
            "".join(f'[[feeds]]\nurl = "{server.url(f"/feed{i}")}"\n' for i in range(args.feeds))
            + "[fetch]\nallow_private_addresses = true\nconcurrency = 4\n"
            + "[ingest]\npaths = []\n"
            + "".join(f"[schedule.{job}]\nenabled = false\n"
                      for job in ("ingest", "tag", "events", "housekeeping"))
            + "[schedule.refresh]\ninterval_minutes = 0.05\n")
        db_path = tmp / "tracker.db"
        command = [sys.executable, "-m", "tracker", "run", "--no-serve", "--config", str(config),
                   "--db", str(db_path), "--log-level", "warning"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        print(f"{args.feeds} feeds x {args.entries} entries = {total}; {args.kills} SIGKILLs")
        print("round  killed after  articles  fts  dup guid  dup url  integrity  fk errors")
        bad = 0
        for round_ in range(1, args.kills + 1):
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, cwd=tmp)
            delay = rng.uniform(0.5, 4.0)
            time.sleep(delay)  # a random moment: the point of the benchmark
            process.send_signal(signal.SIGKILL)
            process.wait()
            result = check(db_path) if db_path.exists() else {}
            ok = (result.get("integrity") == "ok" and not result["foreign_key_errors"]
                  and result["articles"] == result["fts_rows"]
                  and not result["duplicate_guids"] and not result["duplicate_urls"])
            bad += not ok
            print(f"{round_:>5}  {delay:>10.2f} s  {result.get('articles', 0):>8}  "
                  f"{result.get('fts_rows', 0):>3}  {result.get('duplicate_guids', 0):>8}  "
                  f"{result.get('duplicate_urls', 0):>7}  {result.get('integrity', '-'):>9}  "
                  f"{result.get('foreign_key_errors', 0):>9}")
        once = subprocess.run([*command[:3], "run", "--once", *command[5:]], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=600)
        final = check(db_path)
        print(f"after a clean --once (exit {once.returncode}): {final}")
        complete = final["articles"] == total and final["runs_left_running"] == 0
        print(f"rounds with a problem: {bad} of {args.kills}; every entry exactly once: {complete}")
        server_errors = server.error_report()
        if server_errors:
            print(server_errors)
        sys.exit(0 if not bad and complete and not server_errors else 1)


if __name__ == "__main__":
    main()

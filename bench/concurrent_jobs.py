"""Benchmark: two jobs writing the same database at once, as the service runs them.

    .venv/bin/python bench/concurrent_jobs.py [--files 300] [--rounds 3]

Two threads, each on its own connection (as the service gives every job),
ingest their own folder of N text files into one SQLite file, side by side in
three modes:

* ``one after the other``: no concurrency (what a single-worker scheduler does);
* ``concurrent, BEGIN IMMEDIATE``: what ``tracker_db.open_db`` does; a writer
  waits (busy_timeout) for the other's transaction instead of failing;
* ``concurrent, plain BEGIN``: sqlite-utils' default deferred transactions; a
  read-then-write transaction fails with "database is locked" when the other
  connection committed in between (SQLITE_BUSY_SNAPSHOT, no waiting).

It prints the median time per round, its speed relative to the sequential
mode, how many job runs failed (over all rounds) and how many of the files
the worst round stored (a failed run stores only the files before its failure). Numbers depend on
the machine and its load; only the ratios of one run mean much.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

import tracker_db
from jobs.runner import run_job
from tracker.config import Config
from tracker_db import open_db

BODY = "Icebreakers moved cargo along the Northern Sea Route this week. " * 20


def make_folder(root: Path, name: str, files: int) -> Path:
    folder = root / name
    folder.mkdir()
    for i in range(files):
        (folder / f"a{i:04d}.txt").write_text(f"Arctic report {name} {i} on the route\n\n{BODY}{i}\n")
    return folder


def ingest(db_path: Path, folder: Path, failures: list[str]) -> None:
    db = open_db(db_path, migrate=False)
    try:
        run_job(db, Config(db_path=str(db_path)), "ingest", "cli", paths=[str(folder)])
    except sqlite3.OperationalError as exc:
        failures.append(str(exc))
    finally:
        db.close()


def one_round(root: Path, folders: list[Path], concurrent: bool) -> tuple[float, list[str], int]:
    """Seconds, failures and the number of articles stored."""
    db_path = root / f"bench-{time.monotonic_ns()}.db"
    open_db(db_path).close()
    failures: list[str] = []
    started = time.perf_counter()
    if concurrent:
        threads = [threading.Thread(target=ingest, args=(db_path, f, failures)) for f in folders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for folder in folders:
            ingest(db_path, folder, failures)
    seconds = time.perf_counter() - started
    db = open_db(db_path, migrate=False)
    stored = db["articles"].count
    db.close()
    return seconds, failures, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="files per job")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    immediate_execute = tracker_db._Connection.execute
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = [make_folder(root, name, args.files) for name in ("a", "b")]
        modes = {"one after the other": (False, immediate_execute),
                 "concurrent, BEGIN IMMEDIATE": (True, immediate_execute),
                 "concurrent, plain BEGIN": (True, sqlite3.Connection.execute)}
        results: dict[str, tuple[float, int, int]] = {}
        for mode, (concurrent, execute) in modes.items():
            tracker_db._Connection.execute = execute  # plain BEGIN: sqlite-utils' default
            try:
                rounds = [one_round(root, folders, concurrent) for _ in range(args.rounds)]
            finally:
                tracker_db._Connection.execute = immediate_execute
            results[mode] = (statistics.median(r[0] for r in rounds),
                             sum(len(r[1]) for r in rounds), min(r[2] for r in rounds))
    base = results["one after the other"][0]
    total = 2 * args.files
    print(f"{total} files per round (2 jobs x {args.files}), median of {args.rounds} rounds")
    for mode, (seconds, failed, stored) in results.items():
        print(f"  {mode:<28} {seconds:6.2f} s  x{base / seconds:4.2f}  "
              f"failed job runs: {failed}/{2 * args.rounds}, "
              f"articles stored (worst round): {stored}/{total}")


if __name__ == "__main__":
    main()

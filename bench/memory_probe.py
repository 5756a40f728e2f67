"""Where does the service's memory go? Each job run in-process, measured between runs.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/memory_probe.py [--rounds 30] [--feeds 40]
        [--serve] [--tracemalloc] [--plain] [--jobs refresh,tag,events]

The same stream as bench/soak.py (tracker/testing/newsstream.py), but driven
round by round in one process, with no scheduler: each round the feeds gain
items, then ``refresh``, ``tag`` and ``events`` run one after the other through
``run_job`` (as the service runs them), each on a connection of its own and in
a worker thread of its own like the service's. After each job it records the
process's RSS and, with ``--tracemalloc``, the memory Python allocated
(tracemalloc's traced total): the change per job tells which job keeps memory,
and RSS growing while the traced total stays flat tells that the growth is
outside Python objects (native libraries, or the C allocator holding on to
freed memory). With ``--tracemalloc`` it prints the allocation sites that grew
most between the end of the warm-up and the last round.

``--serve`` runs Datasette in the same process, as `tracker run` does, with a
thread requesting pages all the time. Unless ``--plain``, the allocator is set
up and freed memory released after each job as `tracker run` does it
(tracker/memory.py, ``[memory]``); with ``--plain`` glibc keeps its defaults,
and environment variables such as ``MALLOC_ARENA_MAX=2`` compare other settings.

Measured with it (one core, 20 feeds, 10 rounds after 4 of warm-up, 569 items):
glibc's defaults: tag +83 MB, refresh +7 MB, events +7 MB (RSS 1,057 MB at the
end, still climbing) while the memory Python traced did not grow;
``MALLOC_ARENA_MAX=2`` alone: tag +61 MB; a fixed 1 MiB mmap threshold alone:
+10 MB in all; release after each job: -34 MB in all (flat at 709 MB).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import httpx

from jobs.runner import run_job
from tracker.config import Config, FetchConfig, FeedConfig
from tracker.testing import free_port
from tracker.testing.feedserver import FeedServer
from tracker.testing.newsstream import NewsStream
from tracker.testing.procstats import process_stats
from tracker_db import open_db

MB = 1024 * 1024
PAGES = ["/", "/tracker", "/tracker/articles", "/tracker/events", "/tracker/timeline",
         "/tracker/article_stance", "/tracker/stance_daily", "/tracker/search?q=Bering"]


def rss_mb() -> float:
    return process_stats(os.getpid()).rss / MB


def traced_mb() -> float:
    return tracemalloc.get_traced_memory()[0] / MB if tracemalloc.is_tracing() else 0.0


def serve_and_probe(config: Config, stop: threading.Event) -> None:
    from jobs.service import start_datasette

    port = free_port()
    server, thread = start_datasette(config, "127.0.0.1", port)

    def probe() -> None:
        with httpx.Client(timeout=30) as client:
            index = 0
            while not stop.wait(0.5):
                client.get(f"http://127.0.0.1:{port}{PAGES[index % len(PAGES)]}")
                index += 1
        server.should_exit = True

    threading.Thread(target=probe, name="probe", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="rounds before the comparison")
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--jobs", default="refresh,tag,events")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--plain", action="store_true",
                        help="glibc's defaults: no allocator settings, no release after jobs")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    jobs = args.jobs.split(",")
    if args.tracemalloc:
        tracemalloc.start(8)

    from jobs.service import prepare_memory
    from tracker import memory

    stream = NewsStream(args.feeds, seed=7, news_hours_per_tick=3.0)
    stop = threading.Event()
    # One worker thread per job, like the service's pool: each job's thread (and
    # its allocator arena) is reused from run to run.
    pools = {job: concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=job)
             for job in jobs}
    growth: dict[str, list[float]] = defaultdict(list)
    traced_growth: dict[str, list[float]] = defaultdict(list)
    baseline = None
    with tempfile.TemporaryDirectory() as folder, FeedServer() as server:
        urls = stream.serve(server)
        config = Config(db_path=str(Path(folder) / "tracker.db"), ingest_paths=[],
                        fetch=FetchConfig(allow_private_addresses=True, interval_minutes=0.01),
                        feeds=[FeedConfig(url=u) for u in urls])
        open_db(config.db_path).close()
        if not args.plain:
            prepare_memory(config)
        if args.serve:
            serve_and_probe(config, stop)
        print(f"start: RSS {rss_mb():.1f} MB, traced {traced_mb():.1f} MB")
        for number in range(1, args.rounds + 1):
            stream.tick()
            line = [f"round {number:3d}:"]
            for job in jobs:
                before, traced_before = rss_mb(), traced_mb()

                def run(job=job) -> None:
                    db = open_db(config.db_path, migrate=False)
                    try:
                        run_job(db, config, job, "probe", force=True) if job == "refresh" \
                            else run_job(db, config, job, "probe")
                    finally:
                        db.close()
                    if not args.plain:
                        memory.release()

                started = time.perf_counter()
                pools[job].submit(run).result()
                seconds = time.perf_counter() - started
                after, traced_after = rss_mb(), traced_mb()
                if number > args.warmup:
                    growth[job].append(after - before)
                    traced_growth[job].append(traced_after - traced_before)
                line.append(f"{job} {seconds:5.1f}s RSS {after:7.1f} ({after - before:+6.1f})"
                            + (f" traced {traced_after:6.1f}" if args.tracemalloc else ""))
            print(" ".join(line), flush=True)
            if number == args.warmup:
                baseline = (rss_mb(), traced_mb(),
                            tracemalloc.take_snapshot() if args.tracemalloc else None)
        stop.set()
        for pool in pools.values():
            pool.shutdown()
        rounds = args.rounds - args.warmup
        print(f"\nafter the warm-up ({args.warmup} rounds), over {rounds} rounds "
              f"({stream.total} items, {stream.relevant} on the topic):")
        for job in jobs:
            print(f"  {job:8s} RSS {sum(growth[job]):+7.1f} MB in total "
                  f"({sum(growth[job]) / max(rounds, 1):+.2f} MB a run)"
                  + (f", traced {sum(traced_growth[job]):+7.1f} MB" if args.tracemalloc else ""))
        if baseline:
            print(f"  whole process: RSS {rss_mb() - baseline[0]:+.1f} MB, "
                  f"traced {traced_mb() - baseline[1]:+.1f} MB")
        if args.tracemalloc and baseline and baseline[2] is not None:
            snapshot = tracemalloc.take_snapshot()
            print("\nallocation sites that grew most since the warm-up:")
            for stat in snapshot.compare_to(baseline[2], "traceback")[: args.top]:
                frame = next((f for f in reversed(stat.traceback)
                              if "site-packages" not in f.filename), stat.traceback[0])
                print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                      f"{stat.traceback[0].filename.split('site-packages/')[-1]}:"
                      f"{stat.traceback[0].lineno}  (via {Path(frame.filename).name}:{frame.lineno})")
    if server_errors := server.error_report():
        sys.exit(server_errors)


if __name__ == "__main__":
    main()

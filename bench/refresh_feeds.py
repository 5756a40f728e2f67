"""Benchmark: refresh N feeds served on loopback, with and without conditional GET.

    .venv/bin/python bench/refresh_feeds.py [--feeds 500] [--entries 20] [--rounds 3]

A real HTTP server on 127.0.0.1 serves N RSS feeds (each with an ETag); a
real SQLite file holds them. After a first, cold refresh, every round changes
a few feeds (new entries, new ETag) and then refreshes all N feeds in three
modes, side by side:

* ``conditional``: If-None-Match sent; unchanged feeds answer 304, nothing parsed;
* ``no-conditional``: conditional GET off; every feed sends its full body, but a
  byte-identical body is still recognised by its hash and not parsed;
* ``no-conditional, no body hash``: every body downloaded and parsed (what a
  reader with neither shortcut does).

It prints feeds/s and new entries/s per mode (median over rounds) and the
ratios. Numbers depend on the machine; only the ratios measured in one run mean much.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from tracker.testing.feedserver import FeedServer, Route, rss

from jobs.refresh import run_refresh
from tracker.config import Config, FetchConfig
from tracker.feeds import add_feed
from tracker_db import open_db

PARAGRAPH = ("<p>Officials from the United States and Russia met again to discuss Arctic "
             "shipping, fisheries and search-and-rescue cooperation along the Northern Sea "
             "Route; analysts were divided on what the talks could achieve.</p>")


def feed_body(feed: int, version: int, entries: int) -> bytes:
    """Feed ``feed`` at ``version``: each version adds two entries at the top."""
    items = []
    for n in range(version * 2 + entries, version * 2, -1):
        items.append({
            "title": f"Feed {feed} story {n}",
            "link": f"https://outlet{feed}.example/story/{n}?utm_source=rss",
            "guid": f"https://outlet{feed}.example/?p={n}",
            "pubDate": f"Mon, 0{1 + n % 9} Feb 2025 10:00:00 GMT",
            "description": PARAGRAPH * 3,
        })
    return rss(items, title=f"Outlet {feed}")


def serve_version(server: FeedServer, feed: int, version: int, entries: int) -> None:
    server.routes[f"/feed/{feed}"] = Route(feed_body(feed, version, entries),
                                           etag=f'"{feed}-{version}"')


def timed_refresh(db, config: Config) -> tuple[float, object, int]:
    """(seconds, summary, body bytes downloaded) of one forced refresh of every feed."""
    last_fetch = db.execute("select coalesce(max(id), 0) from fetches").fetchone()[0]
    started = time.perf_counter()
    summary = run_refresh(db, config, force=True)
    elapsed = time.perf_counter() - started
    downloaded = db.execute("select coalesce(sum(bytes), 0) from fetches where id > ?",
                            [last_fetch]).fetchone()[0]
    return elapsed, summary, downloaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=20, help="entries per feed")
    parser.add_argument("--changed", type=float, default=0.05,
                        help="share of feeds with new entries in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=FetchConfig().concurrency)
    args = parser.parse_args()

    modes = ["conditional", "no-conditional", "no-conditional, no body hash"]
    results: dict[str, list[tuple[float, int, int, int]]] = {mode: [] for mode in modes}
    versions = [0] * args.feeds
    changed_per_round = max(1, int(args.feeds * args.changed))
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        db = open_db(Path(tmp) / "bench.db")
        # The feed server is on loopback: private addresses allowed, as in a test.
        fetch = FetchConfig(concurrency=args.concurrency, allow_private_addresses=True)
        for feed in range(args.feeds):
            serve_version(server, feed, 0, args.entries)
            add_feed(db, server.url(f"/feed/{feed}"), fetch=fetch)
        config = Config(db_path=str(Path(tmp) / "bench.db"), fetch=fetch)
        cold, summary, _ = timed_refresh(db, config)
        assert summary.failed == 0, summary.failures
        print(f"cold refresh: {args.feeds} feeds, {summary.new} entries in {cold:.2f}s "
              f"({args.feeds / cold:.0f} feeds/s, {summary.new / cold:.0f} entries/s)")
        cursor = 0
        for _ in range(args.rounds):
            for mode in modes:
                # The same amount of news for every mode: a few feeds gain two entries.
                for _ in range(changed_per_round):
                    feed = cursor % args.feeds
                    cursor += 1
                    versions[feed] += 1
                    serve_version(server, feed, versions[feed], args.entries)
                fetch.conditional_get = mode == "conditional"
                if mode.endswith("no body hash"):
                    db.execute("update sources set body_hash = null")
                elapsed, summary, downloaded = timed_refresh(db, config)
                assert summary.failed == 0, summary.failures
                parsed = summary.new + summary.updated + summary.unchanged + summary.duplicates
                results[mode].append((elapsed, summary.new, parsed, downloaded))
        requests = len(server.requests)
        db.close()
    if server_errors := server.error_report():
        sys.exit(server_errors)

    print(f"\n{args.feeds} feeds, {args.entries} entries each, {changed_per_round} feeds with "
          f"2 new entries per refresh, concurrency {args.concurrency}, median of "
          f"{args.rounds} rounds ({requests} requests served):")
    medians = {}
    for mode in modes:
        elapsed = statistics.median(r[0] for r in results[mode])
        new = statistics.median(r[1] for r in results[mode])
        parsed = statistics.median(r[2] for r in results[mode])
        downloaded = statistics.median(r[3] for r in results[mode])
        medians[mode] = elapsed
        print(f"  {mode:<30} {elapsed:6.2f}s {args.feeds / elapsed:6.0f} feeds/s "
              f"{new / elapsed:6.0f} new entries/s {parsed / elapsed:6.0f} entries parsed/s "
              f"{downloaded / 1e6:6.2f} MB downloaded")
    base = medians["conditional"]
    for mode in modes[1:]:
        print(f"time of {mode!r} / time of 'conditional': {medians[mode] / base:.2f}")


if __name__ == "__main__":
    main()

"""Time the timeline canned queries and views through Datasette on 100,000 articles.

    .venv/bin/python bench/timeline_queries.py [--articles 100000] [--years 5] [--repeat 7]

Builds a synthetic database (bench/synthetic.py: articles over five years,
their stance tags and events) in a temporary folder, then requests every
timeline canned query, view and dashboard chart query through Datasette's
in-process client (the same ASGI app ``tracker serve`` runs) and prints the
median of ``--repeat`` requests each, as milliseconds and as a share of
Datasette's default 1 s time limit (``sql_time_limit_ms``).

Side by side, the same requests on a copy of the database without the
covering indexes of migration 0004_events, to show what they buy.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from datasette_dashboards import replace_opts_in_query

from tracker.testing.synthetic import build_synthetic
from tracker.publish import build_datasette, load_metadata
from tracker_db import open_db

INDEXES_0004 = [
    "idx_articles_published_date_stance",
    "idx_articles_outlet_stance_published_date_event_id",
    "idx_events_stance",
]


def requests_to_time(db_name: str, metadata: dict) -> list[tuple[str, str]]:
    """(label, path) for each canned query, view and chart query."""
    base = f"/{db_name}"
    paths = [
        ("timeline_between (one year)", f"{base}/timeline_between.json?start=2023-01-01&end=2023-12-31&_shape=array"),
        ("timeline_between (all)", f"{base}/timeline_between.json?start=&end=&_shape=array"),
        ("stance_over_time (weekly, all)", f"{base}/stance_over_time.json?start=&end=&period=&_shape=array"),
        ("stance_over_time (daily, one year)", f"{base}/stance_over_time.json?start=2024-01-01&end=2024-12-31&period=day&_shape=array"),
        ("articles_in_event", f"{base}/articles_in_event.json?event_id=1234&_shape=array"),
        ("search", f"{base}/search.json?q=icebreaker&_shape=array"),
        ("view timeline (first page)", f"{base}/timeline.json?_shape=array"),
        ("view stance_daily (first page)", f"{base}/stance_daily.json?_shape=array"),
        ("view stance_weekly (first page)", f"{base}/stance_weekly.json?_shape=array"),
        ("view stance_by_outlet", f"{base}/stance_by_outlet.json?_shape=array"),
        ("events table, newest first + facets", f"{base}/events.json?_shape=objects"),
        ("articles table, newest first + facets", f"{base}/articles.json?_shape=objects"),
        ("articles table, search", f"{base}/articles.json?_search=icebreaker&_shape=objects"),
    ]
    charts = metadata["plugins"]["datasette-dashboards"]["timeline"]["charts"]
    for name, chart in charts.items():
        for label, options in (("all", {}), ("one year", {"date_start": "2024-01-01", "date_end": "2024-12-31"})):
            sql = replace_opts_in_query(chart["query"], options)
            query = urllib.parse.urlencode({"sql": sql, **options, "_shape": "objects"})
            paths.append((f"chart {name} ({label})", f"{base}.json?{query}"))
    return paths


def time_requests(db_path: Path, repeat: int) -> dict[str, float]:
    datasette = build_datasette(db_path)
    metadata = load_metadata(db_path)
    results = {}

    async def run() -> None:
        for label, path in requests_to_time(db_path.stem, metadata):
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = await datasette.client.get(path)
                timings.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
            results[label] = statistics.median(timings)

    asyncio.run(run())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        indexed = Path(folder) / "tracker.db"
        started = time.perf_counter()
        db = open_db(indexed)
        counts = build_synthetic(db, args.articles, days=365 * args.years)
        db.execute("analyze")
        db.close()
        print(f"built {counts['articles']:,} articles, {counts['events']:,} events, "
              f"{counts['tags']:,} tags over {args.years} years in {time.perf_counter() - started:.1f}s")

        bare = Path(folder) / "bare" / "tracker.db"
        bare.parent.mkdir()
        shutil.copy(indexed, bare)
        db = open_db(bare)
        for index in INDEXES_0004:
            db.execute(f"drop index if exists {index}")
        db.execute("analyze")
        db.close()

        with_indexes = time_requests(indexed, args.repeat)
        without = time_requests(bare, args.repeat)

    print(f"\nmedian of {args.repeat} requests through Datasette (default time limit 1000 ms)")
    print(f"{'request':<42} {'ms':>8} {'of 1 s':>7} {'no 0004 idx':>12} {'speed-up':>9}")
    for label, seconds in with_indexes.items():
        print(f"{label:<42} {seconds * 1000:8.1f} {seconds:7.1%} {without[label] * 1000:10.1f}ms "
              f"{without[label] / seconds:8.1f}x")
    worst = max(with_indexes, key=with_indexes.get)
    print(f"\nslowest: {worst} at {with_indexes[worst] * 1000:.0f} ms "
          f"({'under' if with_indexes[worst] < 1 else 'OVER'} the 1 s limit)")


if __name__ == "__main__":
    main()

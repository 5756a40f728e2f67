"""Time every timeline page, view, canned query and chart through Datasette.

    .venv/bin/python bench/timeline_queries.py [--articles 100000] [--years 5] [--repeat 5]
                                               [--db PATH] [--public]

Builds a synthetic database (tracker/testing/synthetic.py: articles over
five years, their stance tags and events) -- in a temporary folder, or at
``--db PATH`` to keep it; an existing ``--db`` is used as it is. Then it
requests every canned query, view, table page, dashboard chart query, the
story, event and article pages and the Atom feeds through Datasette's
in-process client (the same ASGI app ``tracker serve`` runs) and prints the
median of ``--repeat`` requests each, in milliseconds, beside its target
(issue 17: 100 ms for the stance views, the charts and the story page, 300 ms
for everything else, at a million articles). ``--public`` times the public
mode (1 s SQL time limit, no arbitrary SQL: the chart queries are skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path

from datasette_dashboards import replace_opts_in_query

from tracker.publish import build_datasette, load_metadata
from tracker.testing.synthetic import build_synthetic
from tracker_db import open_db

FAST = 100  # ms: stance views, dashboard charts, the story page
OTHER = 300  # ms: every other request


def sample_ids(db_path: Path) -> dict[str, str]:
    """An event with many articles and one of its articles, for the pages that take ids."""
    db = open_db(db_path)
    event = db.execute("select id, representative_article_id from events "
                       "order by article_count desc limit 1").fetchone()
    db.close()
    return {"event": str(event[0]), "article": event[1]}


def requests_to_time(db_name: str, metadata: dict, ids: dict[str, str],
                     public: bool) -> list[tuple[str, str, int]]:
    """(label, path, target ms) for each request."""
    base = f"/{db_name}"
    paths = [
        ("story page (home)", "/", FAST),
        ("event page (largest event)", f"/event/{ids['event']}", OTHER),
        ("article page", f"/article/{ids['article']}", OTHER),
        ("atom: new events", f"{base}/new_events.atom", OTHER),
        ("atom: stance shifts", f"{base}/stance_shifts.atom", OTHER),
        ("timeline_between (one year)", f"{base}/timeline_between.json?start=2023-01-01&end=2023-12-31&_shape=array", OTHER),
        ("timeline_between (all)", f"{base}/timeline_between.json?start=&end=&_shape=array", OTHER),
        ("stance_over_time (weekly, all)", f"{base}/stance_over_time.json?start=&end=&period=&_shape=array", FAST),
        ("stance_over_time (daily, one year)", f"{base}/stance_over_time.json?start=2024-01-01&end=2024-12-31&period=day&_shape=array", FAST),
        ("articles_in_event", f"{base}/articles_in_event.json?event_id={ids['event']}&_shape=array", OTHER),
        ("search (canned)", f"{base}/search.json?q=icebreaker&_shape=array", OTHER),
        ("view timeline (first page)", f"{base}/timeline.json?_shape=array", OTHER),
        ("view stance_daily (first page)", f"{base}/stance_daily.json?_shape=array", FAST),
        ("view stance_weekly (first page)", f"{base}/stance_weekly.json?_shape=array", FAST),
        ("view stance_by_outlet", f"{base}/stance_by_outlet.json?_shape=array", FAST),
        ("events table, newest first + facets", f"{base}/events.json?_shape=objects", OTHER),
        ("articles table, newest first + facets", f"{base}/articles.json?_shape=objects", OTHER),
        ("articles table, one stance + facets", f"{base}/articles.json?stance=against&_shape=objects", OTHER),
        ("articles table, search", f"{base}/articles.json?_search=icebreaker&_shape=objects", OTHER),
        ("a chart bar's articles (a month) + facets", f"{base}/article_stance.json?published_date__gte=2024-03-01"
         f"&published_date__lte=2024-03-31&stance__in=favor,against,neutral&_shape=objects", OTHER),
        ("articles page (HTML)", f"{base}/articles", OTHER),
        ("article_stance page (HTML)", f"{base}/article_stance", OTHER),
        ("timeline page (HTML)", f"{base}/timeline", OTHER),
        ("events page (HTML)", f"{base}/events", OTHER),
    ]
    if public:
        return paths  # the chart queries are arbitrary SQL, which public mode refuses
    charts = metadata["plugins"]["datasette-dashboards"]["timeline"]["charts"]
    for name, chart in charts.items():
        for label, options in (("all", {}), ("one year", {"date_start": "2024-01-01", "date_end": "2024-12-31"})):
            sql = replace_opts_in_query(chart["query"], options)
            query = urllib.parse.urlencode({"sql": sql, **options, "_shape": "objects"})
            paths.append((f"chart {name} ({label})", f"{base}.json?{query}", FAST))
    return paths


def time_requests(db_path: Path, repeat: int, public: bool) -> list[tuple[str, float, int]]:
    datasette = build_datasette(db_path, public=public)
    metadata = load_metadata(db_path)
    ids = sample_ids(db_path)
    results = []

    async def run() -> None:
        await datasette.invoke_startup()
        for label, path, target in requests_to_time(db_path.stem, metadata, ids, public):
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                response = await datasette.client.get(path)
                timings.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
            results.append((label, statistics.median(timings) * 1000, target))

    asyncio.run(run())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="keep the synthetic database here (reused if it exists)")
    parser.add_argument("--public", action="store_true", help="time the public mode")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = args.db or Path(folder) / "tracker.db"
        db = open_db(path)
        if db["articles"].count == 0:
            started = time.perf_counter()
            counts = build_synthetic(db, args.articles, days=365 * args.years)
            db.execute("analyze")
            print(f"built {counts['articles']:,} articles, {counts['events']:,} events, "
                  f"{counts['tags']:,} tags over {args.years} years in "
                  f"{time.perf_counter() - started:.1f}s")
        else:
            print(f"using {path}: {db['articles'].count:,} articles, {db['events'].count:,} events")
        db.close()
        results = time_requests(path, args.repeat, args.public)

    mode = "public mode, 1 s time limit" if args.public else "default mode"
    print(f"\nmedian of {args.repeat} requests through Datasette ({mode})")
    print(f"{'request':<42} {'ms':>8} {'target':>7}")
    for label, ms, target in results:
        print(f"{label:<42} {ms:8.1f} {target:>5} ms{'' if ms < target else '  OVER'}")
    worst = max(results, key=lambda r: r[1])
    over = [label for label, ms, target in results if ms >= target]
    print(f"\nslowest: {worst[0]} at {worst[1]:.0f} ms; "
          + (f"over target: {', '.join(over)}" if over else "every request within its target"))


if __name__ == "__main__":
    main()

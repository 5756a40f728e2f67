"""What keeping the summary tables up to date costs the jobs that write articles.

    .venv/bin/python bench/summary_writes.py --db /tmp/s100k.db [--articles 5000]

On two copies of a database (e.g. the one bench/timeline_queries.py --db
keeps), side by side in one run: ingest ``--articles`` new articles
(save_articles), tag them (save_tags, which also refreshes their events) and
delete them (delete_articles) -- once with the summary triggers, once with
them dropped. Prints the time of each step and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from tracker.domain import Article, StanceTag
from tracker.store.articles import delete_articles, save_articles
from tracker.store.stance_tags import save_tags, tag_row
from tracker_db import open_db
from tracker_db.summaries import drop_summary_triggers

LABELS = ("favor", "against", "neutral", "unrelated")


def run(path: Path, count: int) -> dict[str, float]:
    db = open_db(path, migrate=False)
    articles = [Article(id=f"bench{n}", title=f"Arctic shipping report {n}",
                        text=f"Arctic shipping report {n}. Officials met in Anchorage.",
                        kind="file", outlet=f"Outlet {n % 40:02d}",
                        published=f"2025-06-{1 + n % 28:02d}T08:00:00Z",
                        published_date=f"2025-06-{1 + n % 28:02d}") for n in range(count)]
    timings = {}
    started = time.perf_counter()
    for start in range(0, count, 500):  # ingest commits a batch of files at a time
        save_articles(db, articles[start:start + 500])
    timings["ingest (save_articles)"] = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, count, 64):  # the tag job's batch
        save_tags(db, [tag_row({"id": a.id, "content_hash": a.content_hash},
                               StanceTag(label=LABELS[n % 4], scores={"favor": 0.5}, confidence=0.5),
                               "m", "mh", "ch", "hybrid", "2025-06-30T00:00:00Z")
                       for n, a in enumerate(articles[start:start + 64])])
    timings["tag (save_tags)"] = time.perf_counter() - started
    started = time.perf_counter()
    delete_articles(db, [a.id for a in articles])
    timings["delete (delete_articles)"] = time.perf_counter() - started
    db.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a database to copy (not changed)")
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with_triggers, without = Path(folder) / "with.db", Path(folder) / "without.db"
        shutil.copy(args.db, with_triggers)
        shutil.copy(args.db, without)
        db = open_db(without)
        with db.atomic():
            drop_summary_triggers(db)
        db.close()
        kept = run(with_triggers, args.articles)
        bare = run(without, args.articles)
    print(f"{args.articles:,} articles into a copy of {args.db}")
    print(f"{'step':<28} {'with summaries':>15} {'without':>9} {'ratio':>6}")
    for step, seconds in kept.items():
        print(f"{step:<28} {seconds:14.2f}s {bare[step]:8.2f}s {seconds / bare[step]:5.2f}x")


if __name__ == "__main__":
    main()

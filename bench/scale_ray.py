#!/usr/bin/env python
"""Tagging locally vs on Ray actors, side by side in one run, on the same stream.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale_ray.py                   # 600 articles
    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale_ray.py --articles 2000 --small 16
    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale_ray.py --memory-articles 100000
    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale_ray.py --writes 20000

Every variant runs the real tag job (``jobs.tag.run_tag``: read a batch from SQLite,
score it, write it back) on its own copy of one database holding the stream of
bench_tagger.py (real-length news, 5% on topic), with the transformer screen
*without* the keyword prefilter so the model work dominates:

* local: in this process, torch on all cores;
* ray, 1 actor: one actor with every core (``cpus_per_actor`` = cores);
* ray, 2 actors: two actors with one core each.

Ray's fixed cost is measured apart: starting a private Ray instance and its
actors (they load the models), then a small run (``--small`` articles) with the
actors already up, next to the same small run locally. ``--memory-articles N``
measures the driver's memory for a tag run over N untagged articles instead
(the candidate list plus one batch of texts; no model work); ``--writes N`` how fast
the one SQLite writer stores N articles and N tags.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tagger import build_stream  # noqa: E402
from jobs.tag import run_tag  # noqa: E402
from tracker.analysis import workers  # noqa: E402
from tracker.config import Config, ScaleConfig  # noqa: E402
from tracker.domain import Article, StanceTag  # noqa: E402
from tracker.store import stance_tags  # noqa: E402
from tracker.store.articles import save_articles, texts  # noqa: E402
from tracker_db import open_db  # noqa: E402


def make_db(path: Path, stream: list[tuple[str | None, str]]) -> None:
    db = open_db(path)
    save_articles(db, [Article(id=f"a{i:07d}", title=title or "", text=text, kind="file",
                               outlet=f"outlet {i % 40}")
                       for i, (title, text) in enumerate(stream)])
    db.close()


def timed_run(template: Path, folder: Path, name: str, config: Config) -> tuple[float, int]:
    path = folder / f"{name}.db"
    shutil.copy(template, path)
    db = open_db(path)
    config = dataclasses.replace(config, db_path=str(path))
    started = time.perf_counter()
    summary = run_tag(db, config)
    seconds = time.perf_counter() - started
    db.close()
    return seconds, summary.tagged + summary.reused


def driver_memory(count: int, folder: Path) -> None:
    """Peak Python memory of the driver's side of a tag run over ``count`` articles."""
    stream = build_stream(min(count, 2000), round(min(count, 2000) * 0.05))
    path = folder / "memory.db"
    db = open_db(path)
    for start in range(0, count, 5000):
        save_articles(db, [Article(id=f"m{i:08d}", title=(stream[i % len(stream)][0] or "") + f" {i}",
                                   text=stream[i % len(stream)][1] + f" ({i})", kind="file",
                                   outlet=f"outlet {i % 40}")
                           for i in range(start, min(count, start + 5000))])
    size_mb = path.stat().st_size / 2**20
    tracemalloc.start()
    candidates = stance_tags.articles_to_tag(db, "model", "config", False)
    listed_mb = tracemalloc.get_traced_memory()[0] / 2**20
    batch = texts(db, [a["id"] for a in candidates[:ScaleConfig().batch_size]])
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    in_flight = ScaleConfig().actors * ScaleConfig().batches_in_flight
    print(f"driver memory for {len(candidates):,} untagged articles ({size_mb:.0f} MB database): "
          f"candidate list {listed_mb:.1f} MB; with one batch of {len(batch)} texts "
          f"{current / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB); at most {in_flight} "
          f"batches are out at once with the default [scale]")
    db.close()


def writer_rate(count: int, folder: Path) -> None:
    """How fast the one SQLite writer stores articles and tags (no model work)."""
    db = open_db(folder / "writes.db")
    text = " ".join(["The Arctic talks went on between the two delegations."] * 40)
    started = time.perf_counter()
    for start in range(0, count, 1000):
        save_articles(db, [Article(id=f"w{i:08d}", title=f"Talks {i}", text=f"{text} {i}",
                                   kind="file", outlet="outlet")
                           for i in range(start, min(count, start + 1000))])
    ingest = count / (time.perf_counter() - started)
    tag = StanceTag(label="favor", confidence=0.7, relevance=0.9, evidence=text[:50],
                    scores={"favor": 0.7, "against": 0.1, "neutral": 0.1, "unrelated": 0.1})
    rows = [{"id": f"w{i:08d}", "content_hash": f"h{i}"} for i in range(count)]
    size = ScaleConfig().batch_size
    started = time.perf_counter()
    for start in range(0, count, size):
        stance_tags.save_tags(db, [
            stance_tags.tag_row(row, tag, "model", "mh", "ch", "hybrid", "2026-01-01T00:00:00Z")
            for row in rows[start : start + size]])
    tags = count / (time.perf_counter() - started)
    print(f"SQLite writer, {count:,} rows: articles {ingest:,.0f}/s (1,000 per transaction, "
          f"full-text index included); tags {tags:,.0f}/s ({size} per transaction, as the "
          f"tag job writes them)")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--small", type=int, default=16, help="articles of the small run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--memory-articles", type=int, default=0)
    parser.add_argument("--writes", type=int, default=0,
                        help="measure the SQLite writer on this many rows instead")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.memory_articles:
            driver_memory(args.memory_articles, folder)
            return
        if args.writes:
            writer_rate(args.writes, folder)
            return
        import torch

        stream = build_stream(args.articles, round(args.articles * 0.05))
        words = sum(len(t.split()) for _, t in stream) / len(stream)
        make_db(folder / "stream.db", stream)
        make_db(folder / "small.db", stream[: args.small])
        base = Config()
        base.tagger = dataclasses.replace(base.tagger, prefilter_terms=[])
        print(f"stream: {len(stream)} articles, {words:.0f} words on average; {cores} cores; "
              f"transformer screen without the keyword prefilter; batch {args.batch_size}")

        rows: list[tuple[str, float, int]] = []
        local = dataclasses.replace(base, scale=ScaleConfig(engine="local",
                                                            batch_size=args.batch_size))
        torch.set_num_threads(cores)
        timed_run(folder / "small.db", folder, "warm", local)  # loads the models here
        small_local = timed_run(folder / "small.db", folder, "small-local", local)[0]
        seconds, done = timed_run(folder / "stream.db", folder, "local", local)
        rows.append(("local (this process)", seconds, done))

        overheads: list[tuple[str, float, float]] = []
        for actors in (1, 2):
            scale = ScaleConfig(engine="ray", address="local", actors=actors,
                                batch_size=args.batch_size, cpus_per_actor=cores // actors)
            config = dataclasses.replace(base, scale=scale)
            started = time.perf_counter()
            timed_run(folder / "small.db", folder, f"start-{actors}", config)  # Ray + actors up
            start_seconds = time.perf_counter() - started
            small_seconds = timed_run(folder / "small.db", folder, f"small-{actors}", config)[0]
            overheads.append((f"ray, {actors} actor{'s' if actors > 1 else ''}",
                              start_seconds, small_seconds))
            seconds, done = timed_run(folder / "stream.db", folder, f"ray-{actors}", config)
            rows.append((f"ray, {actors} actor{'s' if actors > 1 else ''} "
                         f"× {cores // actors} core{'s' if cores // actors > 1 else ''}",
                         seconds, done))
            workers.shutdown()  # the next variant starts its own instance

    local_rate = rows[0][2] / rows[0][1]
    print()
    print("| where | articles | seconds | articles/s | vs local |")
    print("|---|---|---|---|---|")
    for name, seconds, done in rows:
        rate = done / seconds
        print(f"| {name} | {done} | {seconds:.1f} | {rate:.2f} | {rate / local_rate:.2f}× |")
    print()
    print(f"| fixed cost | seconds |")
    print("|---|---|")
    print(f"| local, {args.small} articles, models loaded | {small_local:.2f} |")
    for name, start_seconds, small_seconds in overheads:
        print(f"| {name}: start Ray + actors (models load), then {args.small} articles "
              f"| {start_seconds:.1f} |")
        print(f"| {name}: {args.small} articles, actors up | {small_seconds:.2f} "
              f"({small_seconds / small_local:.1f}× local) |")
    print(f"\npeak RSS of this driver process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

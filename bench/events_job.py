"""Time the events job at scale: an incremental run beside a full rebuild.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/events_job.py [--articles 100000] [--new 200]

Builds the synthetic database of bench/synthetic.py and gives every article a
cached vector (its event's random centre plus noise, so reports of one event
are similar, as real ones are) -- embedding 100,000 texts would take most of
an hour on two cores, and it is the same work either way. Then it times:

* a full rebuild (``rebuild=True``) from the cached vectors;
* an incremental run after ``--new`` articles arrive (vectors cached too);
* the embedding model itself on ``--new`` real headline+leads, which is what
  an incremental run adds when the vectors are not cached yet.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from tracker.testing.synthetic import build_synthetic
from jobs.events import embedding_model_key, run_events
from tracker.config import Config
from tracker.analysis.models import get_embedder
from tracker.analysis.events import grouping_text
from tracker_db import open_db

DIMS = 384


def fake_vectors(db, model_key: str, rng: np.random.Generator, where: str = "1") -> int:
    centres: dict[int, np.ndarray] = {}
    rows = []
    for row in db.query(f"select id, event_id, content_hash from articles where {where}"):
        key = row["event_id"] if row["event_id"] is not None else hash(row["id"])
        if key not in centres:
            centres[key] = rng.normal(size=DIMS)
        vector = centres[key] + rng.normal(scale=0.35, size=DIMS)
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        rows.append({"article_id": row["id"], "content_hash": row["content_hash"], "model": model_key,
                     "dims": DIMS, "vector": vector.tobytes(), "embedded_at": "2025-01-01T00:00:00Z"})
    db["article_embeddings"].upsert_all(rows, pk="article_id", batch_size=2000)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    config = Config()
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "tracker.db")
        build_synthetic(db, args.articles, days=5 * 365)
        model_key = embedding_model_key(config.events)
        fake_vectors(db, model_key, rng)

        started = time.perf_counter()
        rebuilt = run_events(db, config, rebuild=True)
        rebuild_s = time.perf_counter() - started
        print(f"full rebuild: {rebuild_s:.1f}s for {rebuilt.articles:,} relevant articles "
              f"-> {rebuilt.events:,} events")

        # New articles of the last days arrive (synthetic ids differ by seed).
        build_synthetic(db, args.new, days=5, start=datetime.date(2025, 12, 27), seed=99,
                        with_events=False)
        fake_vectors(db, model_key, rng, where="id not in (select article_id from article_embeddings)")
        started = time.perf_counter()
        incremental = run_events(db, config)
        incremental_s = time.perf_counter() - started
        print(f"incremental run: {incremental_s:.2f}s for {incremental.new} new articles "
              f"({incremental.regrouped} regrouped) -> {incremental.events:,} events")
        print(f"rebuild / incremental: {rebuild_s / incremental_s:.1f}x")

        texts = [grouping_text(r["title"], r["text"], config.events.lead_words)
                 for r in db.query("select title, text from articles limit ?", [args.new])]
        embedder = get_embedder(config.events.embedding_model)
        embedder.encode(texts[:8])  # warm-up
        started = time.perf_counter()
        embedder.encode(texts)
        embed_s = time.perf_counter() - started
        print(f"embedding {len(texts)} headline+leads: {embed_s:.2f}s "
              f"({embed_s / len(texts) * 1000:.1f} ms per article)")
        db.close()


if __name__ == "__main__":
    main()

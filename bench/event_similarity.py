"""How well does each similarity separate reports of one development from others?

    HF_HUB_OFFLINE=1 .venv/bin/python bench/event_similarity.py

Positives: the ten pairs of the five seed articles (syndicated, rewritten
copies of one Bloomberg report). Negatives: every other pair among the seeds
and the twelve hand-written reports of other developments of the same two
days in tests/data/events/ (Istanbul embassy talks, Greenland, Rosatom,
Norway's licensing round, ... -- mostly Arctic or US-Russia news, so hard
negatives). For each representation the script prints the smallest positive
and the largest negative similarity: a threshold between them separates the
two, and the wider the gap, the safer. MinHash (datasketch, if installed) on
word 3-shingles is printed beside the embeddings for comparison.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from jobs.ingest import run_ingest
from tracker.config import Config
from tracker.analysis.models import get_embedder
from tracker.analysis.events import grouping_text
from tracker_db import open_db


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = open_db(Path(folder) / "t.db")
        run_ingest(db, Config(), paths=[str(ROOT / "seeds"), str(ROOT / "tests" / "data" / "events")])
        rows = list(db.query("select title, text, path from articles order by path"))
    seed = ["/seeds/" in row["path"] for row in rows]
    pairs = list(itertools.combinations(range(len(rows)), 2))
    positive = [(i, j) for i, j in pairs if seed[i] and seed[j]]
    negative = [(i, j) for i, j in pairs if not (seed[i] and seed[j])]
    print(f"{len(rows)} articles: {len(positive)} same-event pairs, {len(negative)} other pairs\n")
    print(f"{'representation':<28} {'same event min':>14} {'mean':>6} {'others max':>10} {'mean':>6} {'gap':>6}")

    embedder = get_embedder()
    representations = {f"headline + {n} words": (lambda r, n=n: grouping_text(r["title"], r["text"], n))
                       for n in (20, 40, 60, 80, 120)}
    representations["headline only"] = lambda r: r["title"]
    representations["whole text (256 tokens)"] = lambda r: f"{r['title']}. {r['text']}"
    for name, make in representations.items():
        vectors = embedder.encode([make(r) for r in rows])
        sims = vectors @ vectors.T
        report(name, [sims[i, j] for i, j in positive], [sims[i, j] for i, j in negative])
    try:
        from datasketch import MinHash
    except ImportError:
        print("(datasketch not installed: MinHash not measured)")
        return
    hashes = []
    for row in rows:
        words = re.findall(r"\w+", f"{row['title']} {row['text']}".lower())
        minhash = MinHash(num_perm=128)
        for k in range(len(words) - 2):
            minhash.update(" ".join(words[k : k + 3]).encode())
        hashes.append(minhash)
    report("MinHash Jaccard, 3-shingles", [hashes[i].jaccard(hashes[j]) for i, j in positive],
           [hashes[i].jaccard(hashes[j]) for i, j in negative])


def report(name: str, same: list[float], other: list[float]) -> None:
    gap = min(same) - max(other)
    print(f"{name:<28} {min(same):14.3f} {np.mean(same):6.3f} {max(other):10.3f} {np.mean(other):6.3f} {gap:6.3f}")


if __name__ == "__main__":
    main()

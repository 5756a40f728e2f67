"""The stance dev set: what the tagger's thresholds are chosen on and measured with.

Three parts, all real text, none of it ever used to train a model:

* ``bench/stance_dev.jsonl`` — short news-style passages written for this
  project, balanced over favor / against / neutral / unrelated; the unrelated
  ones are mostly hard near-misses (Arctic news without US–Russia, US–Russia
  news without the Arctic). Each row has ``split``: ``tune`` or ``test``.
* the five articles in ``seeds/`` (read from there; labels below), in ``test``;
* off-topic texts (VAST comments and SemEval tweets, test splits) drawn at run
  time from ``../shared/data/stance`` as ``unrelated``, alternating tune/test.

Thresholds and biases are chosen on ``tune`` only; numbers are reported on ``test``.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_FILE = ROOT / "bench" / "stance_dev.jsonl"
SHARED_STANCE = ROOT.parent / "shared" / "data" / "stance" / "semeval2016_vast.jsonl.gz"
LABELS = ["favor", "against", "neutral", "unrelated"]

# The seeds are all on topic. Labels by the definitions in STANCE_LABELS.md:
# 003 foregrounds NATO's concerns and strained ties (headline, a whole section);
# the others report the talks with both the opportunity and the allies' alarm.
SEED_LABELS = {
    "000_ebb09eebd93bad53.txt": "neutral",
    "001_699049e6b406c3fa.txt": "neutral",
    "002_4307505dd1a9bba4.txt": "neutral",
    "003_52a1ab70afa7ee06.txt": "against",
    "004_b41653021b6a95b4.txt": "neutral",
}


@dataclass
class DevExample:
    id: str
    text: str
    label: str
    split: str  # tune / test
    kind: str  # written / near_miss_arctic / near_miss_us_russia / off_topic / seed / shared_off_topic
    title: str | None = None


def read_shared_off_topic(n: int, seed: int = 7) -> list[str]:
    """``n`` texts from the VAST and SemEval test splits (none is about the Arctic)."""
    with gzip.open(SHARED_STANCE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    texts = sorted({r["text"].strip() for r in rows if r["split"] == "test"
                    and "arctic" not in r["text"].lower() and len(r["text"].split()) >= 8})
    return random.Random(seed).sample(texts, n)


def load_dev_set(shared_off_topic: int = 40, seeds: bool = True) -> list[DevExample]:
    from tracker.sources.textfiles import parse_text_file

    examples = []
    for line in DEV_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            examples.append(DevExample(row["id"], row["text"], row["label"], row["split"],
                                       row["kind"], row.get("title")))
    if seeds:
        for name, label in SEED_LABELS.items():
            article = parse_text_file(ROOT / "seeds" / name)
            examples.append(DevExample(f"seed-{name[:3]}", article.text, label, "test", "seed",
                                       article.title))
    for i, text in enumerate(read_shared_off_topic(shared_off_topic) if shared_off_topic else []):
        examples.append(DevExample(f"shared-{i:02d}", text, "unrelated",
                                   "tune" if i % 2 == 0 else "test", "shared_off_topic"))
    return examples

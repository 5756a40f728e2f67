#!/usr/bin/env python
"""Throughput and quality of our tagger vs. the naive zero-shot baseline, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_tagger.py              # 1,000 articles
    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_tagger.py --articles 200 --quantize

The naive baseline is what a user would write first: transformers'
``pipeline("zero-shot-classification")`` with the same NLI model, one article
at a time (batch 1), the full text, and the four labels as candidate labels.

The stream is what a general news feed looks like: ``--articles`` articles of
which ``--on-topic`` (5%) are about the topic. On-topic articles are the real news
excerpts of news_dev labelled favor/against/neutral (120-450 words, read at run time
from ../shared/data/news_dev, never copied); off-topic articles are real news
sentences (Gigaword premises of the vania2020 NLI set) and VAST comments from
../shared/data, grouped into article-length texts, with a few exact duplicates as
syndicated news has. Every tagger gets the same stream; then each is scored on
news_dev (all 101 items, macro-F1) and on the written dev set's test split. Ours
runs as configured (keyword prefilter, then the transformer screen) and without the
prefilter, so the transformer screen's own speed shows: its first pass embeds only
each article's headline and lead (with an int8 copy of the embedder unless
``screen_quantize = false``, the third row), and only what passes reads the whole text.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from devset import LABELS, ROOT, load_dev_set, read_shared_off_topic
from tracker.config import TaggerConfig
from tracker.analysis.models import resolve_model_path
from tracker.analysis.evaluate import compute_metrics
from tracker.analysis.stance import StanceTagger

SHARED_NLI = ROOT.parent / "shared" / "data" / "nli" / "vania2020.jsonl.gz"
NAIVE_LABELS = {
    "favor": "in favor of cooperation between the United States and Russia in the Arctic",
    "against": "against cooperation between the United States and Russia in the Arctic",
    "neutral": "neutral about cooperation between the United States and Russia in the Arctic",
    "unrelated": "not about cooperation between the United States and Russia in the Arctic",
}


NEWS_DEV = ROOT.parent / "shared" / "data" / "news_dev" / "news_dev.jsonl"


def read_news_dev() -> list[dict]:
    with NEWS_DEV.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def build_stream(n: int, on_topic: int, seed: int = 11) -> list[tuple[str | None, str]]:
    rng = random.Random(seed)
    news = [r for r in read_news_dev() if r["label"] != "unrelated"]
    topical = [(r["title"], r["text"]) for r in rng.sample(news, min(on_topic, len(news)))]
    with gzip.open(SHARED_NLI, "rt", encoding="utf-8") as handle:
        sentences = sorted({json.loads(line)["premise"].strip() for line in handle if line.strip()})
    sentences = [s for s in sentences if "arctic" not in s.lower()]
    comments = read_shared_off_topic(200, seed=seed)
    off = []
    distinct = n - len(topical) - n // 50  # ~2% exact duplicates
    while len(off) < distinct:
        if rng.random() < 0.75:
            body = " ".join(rng.sample(sentences, rng.randint(8, 24)))  # ~200-600 words
            off.append((body.split(".")[0][:80], body))
        else:
            off.append((None, rng.choice(comments)))
    stream = off + topical
    stream += [rng.choice(stream) for _ in range(n - len(stream))]
    rng.shuffle(stream)
    return stream


def naive_tagger(model: str):
    from transformers import pipeline

    zsc = pipeline("zero-shot-classification", model=resolve_model_path(model), device=-1)
    names = list(NAIVE_LABELS.values())
    back = {v: k for k, v in NAIVE_LABELS.items()}

    def tag(title: str | None, text: str) -> str:
        full = f"{title}\n{text}" if title else text
        out = zsc(full, candidate_labels=names, hypothesis_template="This text is {}.")
        return back[out["labels"][0]]

    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--on-topic", type=float, default=0.05, help="share about the topic")
    parser.add_argument("--model", default=TaggerConfig().model)
    parser.add_argument("--quantize", action="store_true",
                        help="also measure our tagger with int8 dynamic quantisation")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    stream = build_stream(args.articles, round(args.articles * args.on_topic))
    words = sum(len(t.split()) for _, t in stream) / len(stream)
    print(f"stream: {len(stream)} articles, {round(args.articles * args.on_topic)} on topic, "
          f"{len(set(stream))} distinct, {words:.0f} words on average; torch threads "
          f"{torch.get_num_threads()}")

    base = dataclasses.replace(TaggerConfig(), model=args.model)
    variants = {f"ours ({base.engine}, prefilter)": base,
                f"ours ({base.engine}, no prefilter)": dataclasses.replace(base, prefilter_terms=[]),
                f"ours ({base.engine}, no prefilter, fp32 screen)": dataclasses.replace(
                    base, prefilter_terms=[], screen_quantize=False)}
    if args.quantize:
        variants[f"ours ({base.engine}, prefilter, int8)"] = dataclasses.replace(base, quantize=True)
        variants[f"ours ({base.engine}, no prefilter, int8)"] = dataclasses.replace(
            base, quantize=True, prefilter_terms=[])
    taggers = {name: StanceTagger(config) for name, config in variants.items()}
    naive = naive_tagger(args.model)
    test = [e for e in load_dev_set() if e.split == "test"]
    gold = [e.label for e in test]
    news = read_news_dev()
    news_gold = [r["label"] for r in news]

    rows = []
    for name, tagger in taggers.items():
        tagger.tag_texts(stream[:4])  # warm-up outside the timing (first calls allocate)
        started = time.perf_counter()
        tags = tagger.tag_texts(stream)
        seconds = time.perf_counter() - started
        f1 = compute_metrics(gold, [t.label for t in tagger.tag_texts(
            [(e.title, e.text) for e in test])], LABELS)
        news_f1 = compute_metrics(news_gold, [t.label for t in tagger.tag_texts(
            [(r["title"], r["text"]) for r in news])], LABELS)
        rows.append((name, len(stream) / seconds, seconds,
                     sum(t.label != "unrelated" for t in tags), f1, news_f1))
    naive(*stream[0])
    started = time.perf_counter()
    naive_tags = [naive(title, text) for title, text in stream]
    seconds = time.perf_counter() - started
    f1 = compute_metrics(gold, [naive(e.title, e.text) for e in test], LABELS)
    news_f1 = compute_metrics(news_gold, [naive(r["title"], r["text"]) for r in news], LABELS)
    rows.append(("naive pipeline, batch 1", len(stream) / seconds, seconds,
                 sum(t != "unrelated" for t in naive_tags), f1, news_f1))

    print()
    print("| tagger | articles/s | stream time | tagged relevant | news_dev macro-F1 "
          "| written dev test macro-F1 |")
    print("|---|---|---|---|---|---|")
    for name, rate, seconds, relevant, f1, news_f1 in rows:
        print(f"| {name} | {rate:.2f} | {seconds:.1f}s | {relevant} | {news_f1.macro_f1:.3f} | "
              f"{f1.macro_f1:.3f} |")
    print()
    naive_rate, naive_f1 = rows[-1][1], rows[-1][5].macro_f1
    for name, rate, _, _, _, news_f1 in rows[:-1]:
        print(f"{name}: {rate / naive_rate:.1f}x the naive baseline's throughput, "
              f"news_dev macro-F1 {news_f1.macro_f1 - naive_f1:+.3f}")


if __name__ == "__main__":
    main()

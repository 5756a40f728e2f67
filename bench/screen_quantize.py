#!/usr/bin/env python
"""The lead screen with an int8 embedder vs fp32: speed and what passes, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/screen_quantize.py

The screen embeds one lead (headline + ``screen_words`` words) per article and puts
aside every article whose lead scores below ``screen_threshold`` (README, Speed). This
bench embeds the leads of bench_tagger.py's 1,000-article stream and of news_dev with
all-MiniLM-L6-v2 in fp32, int8 with one scale per weight tensor, and int8 with one
scale per output channel (what ``screen_quantize`` uses), timing each in turns in one
run, and prints for each: seconds, speed-up over fp32, cosine with the fp32 vectors,
the largest change of a lead's score, how many stream leads pass, whether each
relevant news_dev item still passes (its lowest lead score), and how many pass/fail
decisions differ from fp32.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

from bench_tagger import build_stream, read_news_dev
from tracker.analysis.models import Embedder
from tracker.analysis.stance import StanceTagger, _TopicVectors
from tracker.config import TaggerConfig


def per_tensor_int8(model_name: str) -> Embedder:
    """int8 with one scale per weight tensor: what ``quantize`` did before; the
    per-channel row is the tracker's own ``Embedder(quantize=True)``."""
    embedder = Embedder(model_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedder.model = torch.ao.quantization.quantize_dynamic(
            embedder.model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="timed turns per variant")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = TaggerConfig()
    tagger = StanceTagger(config)  # lends its lead format
    stream = build_stream(args.articles, round(args.articles * 0.05))
    leads = list(dict.fromkeys(tagger._lead(title, text) for title, text in stream))
    news = [r for r in read_news_dev() if r["label"] != "unrelated"]
    news_leads = [tagger._lead(r["title"], r["text"]) for r in news]

    variants = {
        "fp32": Embedder(config.embedding_model),
        "int8, per tensor": per_tensor_int8(config.embedding_model),
        "int8, per channel (screen_quantize)": Embedder(config.embedding_model, quantize=True),
    }
    seconds = {name: [] for name in variants}
    for name, embedder in variants.items():
        embedder.encode(leads[:8])  # warm-up
    vectors = {}
    for _ in range(args.rounds):
        for name, embedder in variants.items():
            started = time.perf_counter()
            vectors[name] = embedder.encode(leads, batch_size=config.batch_size)
            seconds[name].append(time.perf_counter() - started)

    threshold = config.screen_threshold
    print(f"{len(leads)} distinct stream leads, {len(news_leads)} relevant news_dev leads; "
          f"screen_words {config.screen_words}, screen_threshold {threshold}; "
          f"torch threads {torch.get_num_threads()}; best of {args.rounds} turns\n")
    reference = None
    print(f"{'embedder':36} {'seconds':>8} {'speed-up':>8} {'cosine':>13} {'max |score diff|':>17} "
          f"{'stream pass':>11} {'news_dev pass':>13} {'lowest':>7} {'decisions changed':>17}")
    for name, embedder in variants.items():
        topic = _TopicVectors.of(embedder, config)
        scores = topic.relevance(vectors[name], config)
        news_scores = topic.relevance(embedder.encode(news_leads), config)
        if reference is None:
            reference = (vectors[name], scores, np.min(seconds[name]))
        ref_vectors, ref_scores, ref_seconds = reference
        cosine = (vectors[name] * ref_vectors).sum(axis=1)
        changed = int(((scores >= threshold) != (ref_scores >= threshold)).sum())
        print(f"{name:36} {np.min(seconds[name]):8.2f} {ref_seconds / np.min(seconds[name]):7.2f}x "
              f"{cosine.mean():6.3f} (>{cosine.min():.3f}) {np.abs(scores - ref_scores).max():17.3f} "
              f"{int((scores >= threshold).sum()):11d} "
              f"{int((news_scores >= threshold).sum()):>6d} of {len(news_leads):<3d} "
              f"{news_scores.min():7.3f} {changed:17d}")


if __name__ == "__main__":
    main()

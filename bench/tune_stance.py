#!/usr/bin/env python
"""Compare the tagger's engines on the dev set and choose thresholds and biases.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/tune_stance.py            # all engines
    HF_HUB_OFFLINE=1 .venv/bin/python bench/tune_stance.py --engines embedding --model /tmp/nli_ckpt

For every engine the models run once over the dev set (bench/devset.py); then
the relevance threshold and the per-label biases are chosen on the ``tune``
split only (grid search for the best macro-F1), and macro-F1 is reported on
the ``test`` split with those settings, next to the untuned default (threshold
as configured, no bias). No model is trained: only these few numbers are fitted.
Prints a table and the chosen settings as TOML for ``[tagger]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np

from devset import LABELS, load_dev_set
from tracker.config import TaggerConfig
from tracker.evaluate import compute_metrics
from tracker.stance import PassageAnalysis, StanceTag, StanceTagger, decide

STANCES = LABELS[:3]


def analyse(config: TaggerConfig, examples) -> tuple[list[PassageAnalysis], float]:
    tagger = StanceTagger(config)
    started = time.perf_counter()
    analyses = tagger.analyse([(e.title, e.text) for e in examples], all_top=True)
    return analyses, time.perf_counter() - started


def predict(analyses, threshold: float, bias: dict[str, float], labels=STANCES) -> list[str]:
    # A StanceTag is an article the prefilter already decided (or an empty one).
    return [a.label if isinstance(a, StanceTag) else decide(a, labels, threshold, bias).label
            for a in analyses]


def remap(analyses, change) -> list:
    return [a if isinstance(a, StanceTag) else dataclasses.replace(a, stance=[change(s) for s in a.stance])
            for a in analyses]


def combine(nli_analyses, embedding_analyses, weight: float) -> list:
    out = []
    for a, b in zip(nli_analyses, embedding_analyses):
        if isinstance(a, StanceTag):
            out.append(a)
        else:
            assert a.top == b.top
            out.append(dataclasses.replace(a, stance=[
                {k: x[k] + weight * y[k] for k in x} for x, y in zip(a.stance, b.stance)]))
    return out


def fit(analyses, gold, thresholds, bias_grid) -> tuple[float, dict[str, float], float]:
    """Best (threshold, bias) on these examples: relevance first, then the stance biases."""
    best_t, best_f = thresholds[0], -1.0
    for t in thresholds:
        pred = predict(analyses, t, {})
        # Relevance alone: relevant vs unrelated F1 averaged with the stance macro.
        f = compute_metrics(gold, pred, LABELS).per_label["unrelated"].f1
        rel_gold = [g != "unrelated" for g in gold]
        rel_pred = [p != "unrelated" for p in pred]
        tp = sum(a and b for a, b in zip(rel_gold, rel_pred))
        prec = tp / max(sum(rel_pred), 1)
        rec = tp / max(sum(rel_gold), 1)
        f = (f + (2 * prec * rec / (prec + rec) if prec + rec else 0)) / 2
        if f > best_f:
            best_t, best_f = t, f
    best_bias, best_macro = {}, -1.0
    for fb, ab in bias_grid:
        bias = {"favor": fb, "against": ab, "neutral": 0.0}
        macro = compute_metrics(gold, predict(analyses, best_t, bias), LABELS).macro_f1
        if macro > best_macro + 1e-9:
            best_bias, best_macro = bias, macro
    return best_t, best_bias, best_macro


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=TaggerConfig().model, help="NLI model")
    parser.add_argument("--engines", default="embedding,hybrid,nli")
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--json", dest="json_out", help="write results here")
    args = parser.parse_args()

    examples = load_dev_set()
    tune = [i for i, e in enumerate(examples) if e.split == "tune"]
    test = [i for i, e in enumerate(examples) if e.split == "test"]
    gold = [e.label for e in examples]
    print(f"dev set: {len(examples)} examples ({len(tune)} tune, {len(test)} test)")
    results = {}
    analysed = {}
    for engine in args.engines.split(","):
        config = dataclasses.replace(TaggerConfig(), engine=engine, model=args.model,
                                     quantize=args.quantize, label_bias={})
        analysed[engine] = (config, *analyse(config, examples))
    variants = {name: (config, analyses, seconds)
                for name, (config, analyses, seconds) in analysed.items()}
    # Variants that need no new model pass: neutral as the fallback label (its
    # hypotheses ignored, only its bias), and NLI + embedding stance combined
    # (same relevance screen, so the same passages).
    for name in list(variants):
        if name != "nli":
            config, analyses, seconds = variants[name]
            variants[f"{name}, neutral=fallback"] = (
                config, remap(analyses, lambda s: dict(s, neutral=0.0)), seconds)
    if "hybrid" in analysed and "embedding" in analysed:
        config, nli_an, seconds = analysed["hybrid"]
        _, emb_an, emb_seconds = analysed["embedding"]
        for weight in (0.5, 1.0, 2.0):
            mixed = combine(nli_an, emb_an, weight)
            variants[f"hybrid + {weight} x embedding"] = (config, mixed, seconds)
            variants[f"hybrid + {weight} x embedding, neutral=fallback"] = (
                config, remap(mixed, lambda s: dict(s, neutral=0.0)), seconds)
    for engine, (config, analyses, seconds) in variants.items():
        rel = np.concatenate([a.relevance for a in analyses if isinstance(a, PassageAnalysis)])
        lo, hi = float(np.quantile(rel, 0.02)), float(np.quantile(rel, 0.98))
        thresholds = list(np.linspace(lo, hi, 60))
        # Stance scores are probabilities (NLI) or cosines (embedding): grid by their spread.
        spread = np.std([s[k] for a in analyses if isinstance(a, PassageAnalysis)
                         for s in a.stance for k in STANCES]) or 0.1
        steps = np.linspace(-1.5 * spread, 1.5 * spread, 25)
        grid = list(itertools.product(steps, steps))
        t, bias, tune_macro = fit([analyses[i] for i in tune], [gold[i] for i in tune],
                                  thresholds, grid)
        default_t = config.nli_relevance_threshold if config.engine == "nli" else config.relevance_threshold
        report = {}
        for name, (thr, b) in {"untuned": (default_t, {}), "tuned": (t, bias)}.items():
            pred = predict([analyses[i] for i in test], thr, b)
            report[name] = compute_metrics([gold[i] for i in test], pred, LABELS)
        seeds = [i for i, e in enumerate(examples) if e.kind == "seed"]
        seed_pred = predict([analyses[i] for i in seeds], t, bias)
        results[engine] = {
            "threshold": round(float(t), 4), "bias": {k: round(float(v), 4) for k, v in bias.items()},
            "tune_macro_f1": round(tune_macro, 3),
            "test_macro_f1_untuned": round(report["untuned"].macro_f1, 3),
            "test_macro_f1": round(report["tuned"].macro_f1, 3),
            "test_accuracy": round(report["tuned"].accuracy, 3),
            "test_f1": {k: round(v.f1, 3) for k, v in report["tuned"].per_label.items()},
            "seconds": round(seconds, 1), "seeds": seed_pred,
        }
        print(f"\n== {engine}  (model pass {seconds:.1f}s)  threshold {t:.4f}  bias {results[engine]['bias']}")
        print(f"tune macro-F1 {tune_macro:.3f}; test macro-F1 untuned {report['untuned'].macro_f1:.3f}")
        print(report["tuned"].table())
        print(f"seeds: {seed_pred}")
    print("\n| engine | test macro-F1 (tuned on tune) | untuned | favor | against | neutral | unrelated |")
    print("|---|---|---|---|---|---|---|")
    for engine, r in results.items():
        f = r["test_f1"]
        print(f"| {engine} | {r['test_macro_f1']:.3f} | {r['test_macro_f1_untuned']:.3f} | "
              f"{f['favor']:.3f} | {f['against']:.3f} | {f['neutral']:.3f} | {f['unrelated']:.3f} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

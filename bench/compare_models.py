#!/usr/bin/env python
"""Is one NLI model better than another on real news, or is it the noise of 101 items?

    HF_HUB_OFFLINE=1 .venv/bin/python bench/compare_models.py \\
        v3=tracker/weights/tracker-nli-minilm-l6 v2=/tmp/nli_v2 draw16=/tmp/nli_v2s16

Each model is cross-validated on news_dev exactly as ``bench/cv_stance.py`` does it (the
default configuration with that model, 5-fold, the calibration fitted on the training folds
only, one split per seed), and every item's held-out prediction is kept per seed. Then the
items are resampled with replacement (a paired bootstrap: every model is scored on the same
resample) and each model's macro-F1 -- over all 101 held-out predictions of one seed,
averaged over the seeds -- is recomputed. Printed per model: that macro-F1 with its 95%
interval; per model after the first: its difference from the first model, the difference's
95% interval, and how often the first model is ahead. An interval that excludes 0 means the
difference holds for news like these; it does not undo choosing the best of several models
on the same items (the winner's score stays optimistic).

A model may be an ensemble of NLI models of one tokenizer family: NAME=DIR1+DIR2*2 averages
their per-sentence topic and stance scores (weights after ``*``, default 1) before the
calibration is fitted, so it costs one model pass per member:

    HF_HUB_OFFLINE=1 .venv/bin/python bench/compare_models.py \
        v3=tracker/weights/tracker-nli-minilm-l6 draws=/tmp/nli_v2+/tmp/nli_v2s16+/tmp/nli_v2s17

The macro-F1 here is pooled per seed, so it differs slightly from cv_stance.py's mean over
folds; the fold mean ± sd is printed beside it.

``--choose NAME,NAME,...`` scores the choosing itself, which the rows above cannot: in every
outer fold the named models are ranked by an inner 5-fold cross-validation on the training
folds alone (calibration fitted inside), and the winner, calibrated on all the training
folds, predicts the held-out fold. Its row is what "take the best of these on labelled
news" is worth on news it was not chosen on; it enters the bootstrap like a model.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cv_stance import read_news_dev  # noqa: E402  (bench/ is on sys.path when run as a script)

from tracker.analysis.calibrate import (  # noqa: E402
    choose_by_nested_cv, cross_validate, fit_stance, macro_f1_rows, predict_labels,
)
from tracker.analysis.stance import UNRELATED, ArticleAnalysis, StanceTagger  # noqa: E402
from tracker.config import Config  # noqa: E402


def members(spec: str) -> list[tuple[str, float]]:
    """'DIR1+DIR2*2' -> [(DIR1, 1.0), (DIR2, 2.0)]."""
    out = []
    for part in spec.split("+"):
        path, _, weight = part.partition("*")
        out.append((path, float(weight) if weight else 1.0))
    return out


def average_analyses(runs: list[list], weights: list[float]) -> list:
    """One analysis per item whose NLI topic and stance scores are the weighted mean of
    each member's. The stance sentences are chosen by the embedder, not the NLI model, so
    they are the same in every member (checked)."""
    out = []
    for group in zip(*runs):
        first = group[0]
        if not isinstance(first, ArticleAnalysis):  # screened out or failed: no NLI scores
            out.append(first)
            continue
        if any(member.top != first.top for member in group):
            raise ValueError("ensemble members chose different stance sentences")
        merged = copy.copy(first)
        merged.topic = list(np.average([m.topic for m in group], axis=0, weights=weights))
        merged.stance = [{label: float(np.average([m.stance[i][label] for m in group],
                                                  weights=weights)) for label in row}
                         for i, row in enumerate(first.stance)]
        out.append(merged)
    return out


def analyse(model: str, items: list) -> list:
    """The default configuration's analyses of ``items`` with this model (or ensemble)."""
    config = Config()
    runs, weights = [], []
    for path, weight in members(model):
        config.tagger.model = path
        runs.append(StanceTagger(config.tagger).analyse(items))
        weights.append(weight)
    return average_analyses(runs, weights) if len(runs) > 1 else runs[0]


def indexes(held_out: list[list], labels: list[str]) -> np.ndarray:
    """Held-out predictions per seed as label indexes (-1 for an item that failed)."""
    index = {label: i for i, label in enumerate(labels)}
    return np.array([[index.get(p, -1) for p in run] for run in held_out])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=DIR",
                        help="NLI models (DIR1+DIR2*W: an ensemble); the first is the one "
                             "the others are compared with")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--choose", metavar="NAME,NAME,...",
                        help="also score choosing the best of these models by an inner "
                             "cross-validation (nested), as one more row")
    args = parser.parse_args()
    models = {}
    for spec in args.models:
        name, _, path = spec.partition("=")
        if not path:
            parser.error(f"{spec!r}: expected NAME=DIR")
        models[name] = path
    news = read_news_dev()
    items = [(r.get("title"), r["text"]) for r in news]
    gold_labels = [r["label"] for r in news]
    choose = args.choose.split(",") if args.choose else []
    unknown = [name for name in choose if name not in models]
    if unknown:
        parser.error(f"--choose: {', '.join(unknown)} is not one of the models named")
    if len(choose) == 1:
        parser.error("--choose takes two or more of the models' names")
    config = Config().tagger
    labels = [*config.labels, UNRELATED]
    held, kept = {}, {}
    for name, path in models.items():
        started = time.perf_counter()
        analyses = analyse(path, items)
        if name in choose:
            kept[name] = analyses
        cv = cross_validate(analyses, gold_labels, config, fit_stance, predict_labels, labels, 5,
                            args.seeds)
        held[name] = indexes(cv.held_out, labels)
        print(f"{name}: cross-validated {cv.summary()}  ({time.perf_counter() - started:.0f} s)",
              flush=True)
    if choose:
        started = time.perf_counter()
        name = "best-of-" + str(len(choose))
        models[name] = "+".join(choose)
        cv, chosen = choose_by_nested_cv(kept, gold_labels, config, fit_stance, predict_labels,
                                         labels, 5, args.seeds)
        held[name] = indexes(cv.held_out, labels)
        print(f"{name}: nested cross-validated {cv.summary()}; chosen in the "
              f"{len(cv.fold_scores)} outer folds: "
              + ", ".join(f"{n} {c}" for n, c in chosen.items())
              + f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    gold = np.array([labels.index(label) for label in gold_labels])
    rng = np.random.default_rng(0)
    samples = rng.integers(0, len(gold), size=(args.rounds, len(gold)))
    boot = {name: np.mean([macro_f1_rows(gold[samples], run[samples], len(labels))
                           for run in predicted], axis=0)
            for name, predicted in held.items()}
    print(f"\nmacro-F1 per seed over all {len(gold)} held-out predictions, mean over "
          f"{len(args.seeds)} seeds; 95% intervals from {args.rounds} paired resamples of the items")
    for name, predicted in held.items():
        score = np.mean(macro_f1_rows(gold, predicted, len(labels)))
        low, high = np.percentile(boot[name], [2.5, 97.5])
        print(f"  {name:<12} {score:.3f}  ({low:.3f}-{high:.3f})")
    first, *others = models
    for name in others:
        difference = boot[first] - boot[name]
        low, high = np.percentile(difference, [2.5, 97.5])
        print(f"  {first} - {name}: {difference.mean():+.3f}  ({low:+.3f} to {high:+.3f}), "
              f"{first} ahead in {np.mean(difference > 0):.1%} of resamples")


if __name__ == "__main__":
    main()

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

The macro-F1 here is pooled per seed, so it differs slightly from cv_stance.py's mean over
folds; the fold mean ± sd is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cv_stance import read_news_dev  # noqa: E402  (bench/ is on sys.path when run as a script)

from tracker.analysis.calibrate import (  # noqa: E402
    cross_validate, fit_stance, macro_f1_rows, predict_labels,
)
from tracker.analysis.stance import UNRELATED, StanceTagger  # noqa: E402
from tracker.config import Config  # noqa: E402


def held_out_predictions(model: str, items: list, gold: list[str], seeds: list[int]):
    config = Config()
    config.tagger.model = model
    labels = [*config.tagger.labels, UNRELATED]
    analyses = StanceTagger(config.tagger).analyse(items)
    cv = cross_validate(analyses, gold, config.tagger, fit_stance, predict_labels, labels, 5,
                        seeds)
    index = {label: i for i, label in enumerate(labels)}
    return cv, np.array([[index.get(p, -1) for p in run] for run in cv.held_out]), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=DIR",
                        help="NLI models; the first is the one the others are compared with")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--rounds", type=int, default=2000, help="bootstrap resamples")
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
    held, labels = {}, None
    for name, path in models.items():
        started = time.perf_counter()
        cv, held[name], labels = held_out_predictions(path, items, gold_labels, args.seeds)
        print(f"{name}: cross-validated {cv.summary()}  ({time.perf_counter() - started:.0f} s)",
              flush=True)
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

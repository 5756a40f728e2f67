"""Calibration: fitting the tagger's handful of numbers to labelled examples.

The models never learn from the labels: only the relevance threshold, the
per-label biases and the ensemble weights (``[calibration]``, see
:class:`tracker.config.TaggerConfig`) are fitted, by coordinate ascent on
macro-F1 over a grid per parameter, starting from the current values and
preferring, among equally good values, the one closest to where it started
(so a small set moves the numbers only as far as it must).

:func:`cross_validate` is how a configuration is judged on a small set:
stratified k-fold (folds fixed by a seed), everything fitted on the training
folds only, predictions pooled over the test folds. ``tracker calibrate`` and
``bench/cv_stance.py`` both use it. Pure: the model passes are done once by the
caller (:meth:`tracker.analysis.stance.StanceTagger.analyse`), then any
number of calibrations cost milliseconds.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from tracker.analysis.evaluate import Metrics, compute_metrics
from tracker.config import CALIBRATION_KEYS, TaggerConfig

# Parameter -> grid of values tried (label_bias entries are "bias:<label>").
Grid = dict[str, Sequence[float]]
Predict = Callable[[list, TaggerConfig], list[str | None]]


def calibration_of(config: TaggerConfig) -> dict:
    """The fitted numbers of a configuration, as ``[calibration]`` writes them."""
    values = {key: getattr(config, key) for key in CALIBRATION_KEYS}
    values["label_bias"] = dict(values["label_bias"])
    return values


def _with(config: TaggerConfig, name: str, value: float) -> TaggerConfig:
    if name.startswith("bias:"):
        label = name.split(":", 1)[1]
        return dataclasses.replace(config, label_bias={**config.label_bias, label: value})
    return dataclasses.replace(config, **{name: value})


def _value(config: TaggerConfig, name: str) -> float:
    if name.startswith("bias:"):
        return float(config.label_bias.get(name.split(":", 1)[1], 0.0))
    return float(getattr(config, name))


def fit(analyses: list, gold: Sequence[str], config: TaggerConfig, grid: Grid,
        predict: Predict, labels: Sequence[str], rounds: int = 3) -> TaggerConfig:
    """The configuration with the calibration that scores best (macro-F1) on these
    examples: coordinate ascent over ``grid``, a few rounds."""
    best = config
    best_score = compute_metrics(gold, predict(analyses, best), labels).macro_f1
    for _ in range(rounds):
        improved = False
        for name, values in grid.items():
            start = _value(best, name)
            scored = []
            for value in values:
                candidate = _with(best, name, float(value))
                score = compute_metrics(gold, predict(analyses, candidate), labels).macro_f1
                scored.append((score, -abs(float(value) - start), float(value)))
            score, _, value = max(scored)
            if score > best_score + 1e-12:
                best, best_score, improved = _with(best, name, value), score, True
        if not improved:
            break
    return best


def stratified_folds(gold: Sequence[str], k: int, seed: int) -> list[list[int]]:
    """``k`` folds with each label spread evenly, fixed by ``seed``."""
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(gold):
        by_label.setdefault(label, []).append(index)
    offset = 0
    for label in sorted(by_label):
        indexes = by_label[label]
        rng.shuffle(indexes)
        for position, index in enumerate(indexes):
            folds[(position + offset) % k].append(index)
        offset += len(indexes)
    return [sorted(fold) for fold in folds]


@dataclass
class CrossValidation:
    k: int
    seeds: list[int]
    fold_scores: list[float]  # macro-F1 of every test fold (k per seed)
    pooled: Metrics  # over every prediction of every seed
    fitted: list[dict] = field(default_factory=list)  # the calibration of each fold

    @property
    def mean(self) -> float:
        return statistics.fmean(self.fold_scores)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.fold_scores) if len(self.fold_scores) > 1 else 0.0

    def summary(self) -> str:
        return (f"macro-F1 {self.mean:.3f} ± {self.sd:.3f} ({self.k}-fold, "
                f"{len(self.seeds)} seed{'s' if len(self.seeds) > 1 else ''})")


def cross_validate(analyses: list, gold: Sequence[str], config: TaggerConfig, grid: Grid,
                   predict: Predict, labels: Sequence[str], k: int = 5,
                   seeds: Sequence[int] = (0,), refit: bool = True) -> CrossValidation:
    """Stratified k-fold: fit on k-1 folds, predict the k-th; ``refit=False`` scores
    ``config`` as it is on every fold (nothing fitted)."""
    gold = list(gold)
    fold_scores, all_gold, all_predicted, fitted = [], [], [], []
    for seed in seeds:
        for test in stratified_folds(gold, k, seed):
            held = set(test)
            train = [i for i in range(len(gold)) if i not in held]
            chosen = config
            if refit:
                chosen = fit([analyses[i] for i in train], [gold[i] for i in train], config,
                             grid, predict, labels)
            fitted.append(calibration_of(chosen))
            predicted = predict([analyses[i] for i in test], chosen)
            truth = [gold[i] for i in test]
            fold_scores.append(compute_metrics(truth, predicted, labels).macro_f1)
            all_gold += truth
            all_predicted += predicted
    pooled = compute_metrics(all_gold, all_predicted, labels)
    return CrossValidation(k, list(seeds), fold_scores, pooled, fitted)


def default_grid(config: TaggerConfig, relevance_values: Sequence[float]) -> Grid:
    """The grid ``tracker calibrate`` searches: the threshold over the observed relevance
    scores, each label's bias, and the ensemble weights the engine uses."""
    quantiles = np.quantile(np.asarray(relevance_values, dtype=float), np.linspace(0.02, 0.98, 49))
    grid: Grid = {"relevance_threshold": sorted({round(float(q), 4) for q in quantiles})}
    for label in config.labels:
        grid[f"bias:{label}"] = [round(x, 3) for x in np.linspace(-0.5, 0.5, 41)]
    return grid

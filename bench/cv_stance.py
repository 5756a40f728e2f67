#!/usr/bin/env python
"""Choose by cross-validation: any tagger configuration, scored on real news (news_dev)
and on the written dev set, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/cv_stance.py                 # the default config
    HF_HUB_OFFLINE=1 .venv/bin/python bench/cv_stance.py --config my.toml --k 5 --seeds 0 1 2

The models run once per item (``StanceTagger.analyse``); then, for every fold of a
stratified k-fold split (k >= 5, folds fixed by the seeds), the calibration -- the
relevance threshold, the per-label biases and the ensemble weights, nothing else -- is
fitted on the training folds only (``tracker.analysis.calibrate.fit_stance``) and the
held-out fold is predicted. Printed: mean ± sd macro-F1 over the folds, per-label F1 and
the confusion matrix pooled over every held-out prediction, how often each label is
predicted against how often it is true, and the same for the configuration exactly as
shipped (no fitting at all).

news_dev is read from ../shared/data/news_dev/ (its texts stay there: never copied into
the project, never used to train model weights). The written dev set is
bench/stance_dev.jsonl plus the seeds and off-topic texts (bench/devset.py).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from devset import load_dev_set  # noqa: E402  (bench/ is on sys.path when run as a script)

from tracker.analysis.calibrate import cross_validate, fit_stance, predict_labels  # noqa: E402
from tracker.analysis.evaluate import Metrics  # noqa: E402
from tracker.analysis.stance import UNRELATED, StanceTagger  # noqa: E402
from tracker.config import Config, load_config  # noqa: E402
from tracker.testing import SHARED  # noqa: E402

NEWS_DEV = SHARED / "data" / "news_dev" / "news_dev.jsonl"


def read_news_dev(path: Path = NEWS_DEV) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def report(name: str, metrics: Metrics, extra: str = "") -> list[str]:
    lines = [f"{name}: {extra}", f"  {'label':<11}{'F1':>6}{'P':>7}{'R':>7}{'gold':>6}{'pred':>6}"]
    for label in metrics.labels:
        s = metrics.per_label[label]
        lines.append(f"  {label:<11}{s.f1:>6.3f}{s.precision:>7.3f}{s.recall:>7.3f}"
                     f"{s.support:>6}{s.predicted:>6}")
    width = 11
    lines.append("  confusion (rows gold, columns predicted): " + " ".join(
        f"{label[:9]:>{width}}" for label in metrics.labels))
    for gold in metrics.labels:
        lines.append(f"  {gold:<41}" + " ".join(
            f"{metrics.confusion[gold][p]:>{width}}" for p in metrics.labels))
    collapsed = [label for label in metrics.labels if metrics.per_label[label].support
                 and metrics.per_label[label].predicted < metrics.per_label[label].support / 2]
    lines.append(f"  labels predicted for fewer than half the items that carry them: "
                 f"{', '.join(collapsed) or 'none'}")
    return lines


def evaluate(name: str, items: list[tuple[str | None, str, str]], config: Config, k: int,
             seeds: list[int]) -> dict:
    tagger = StanceTagger(config.tagger)
    started = time.perf_counter()
    analyses = tagger.analyse([(title, text) for title, text, _ in items])
    seconds = time.perf_counter() - started
    gold = [label for _, _, label in items]
    labels = [*config.tagger.labels, UNRELATED]
    shipped = cross_validate(analyses, gold, config.tagger, None, predict_labels, labels, k, seeds)
    fitted = cross_validate(analyses, gold, config.tagger, fit_stance, predict_labels, labels,
                            k, seeds)
    weighted = cross_validate(analyses, gold, config.tagger,
                              lambda a, g, c: fit_stance(a, g, c, weights=True),
                              predict_labels, labels, k, seeds)
    lines = [f"== {name}: {len(items)} items, model passes {seconds:.0f} s =="]
    lines += report("calibration fitted on the training folds", fitted.pooled, fitted.summary())
    lines += report("... and the ensemble weight too", weighted.pooled, weighted.summary())
    lines += report("as configured (nothing fitted)", shipped.pooled, shipped.summary())
    print("\n".join(lines), flush=True)
    return {"name": name, "fitted": fitted, "weights": weighted, "shipped": shipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a tracker config file (default: the built-in defaults)")
    parser.add_argument("--model", help="NLI model instead of the configured one")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--news-only", action="store_true")
    args = parser.parse_args()
    if args.k < 5:
        parser.error("--k must be at least 5")
    config = load_config(args.config) if args.config else Config()
    if args.model:
        config.tagger.model = args.model
    news = [(r.get("title"), r["text"], r["label"]) for r in read_news_dev()]
    results = [evaluate("news_dev (real news)", news, config, args.k, args.seeds)]
    if not args.news_only:
        written = [(e.title, e.text, e.label) for e in load_dev_set()]
        results.append(evaluate("written dev set", written, config, args.k, args.seeds))
    print("\nsummary (macro-F1, mean ± sd over folds; per-label F1 pooled):")
    for result in results:
        for kind in ("fitted", "weights", "shipped"):
            cv = result[kind]
            per = ", ".join(f"{label} {cv.pooled.per_label[label].f1:.2f}"
                            for label in cv.pooled.labels)
            print(f"  {result['name']:<22} {kind:<8} {cv.mean:.3f} ± {cv.sd:.3f}   {per}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Compare the tagger's engines and hypothesis sets on the dev set; choose thresholds and biases.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/tune_stance.py
    HF_HUB_OFFLINE=1 .venv/bin/python bench/tune_stance.py --model /tmp/nli_ckpt --no-nli-engine

The models run once over the dev set (bench/devset.py): the embedding screen
(relevance of every passage), embedding stance, and the NLI entailment of every
candidate hypothesis on each article's top passages; engine ``nli`` (NLI
relevance too) is run separately. Then, for every variant, the relevance
threshold and the per-label biases are chosen on the ``tune`` split only (grid
search, best macro-F1) and macro-F1 is reported on the ``test`` split. A
variant should be picked by its tune score; the test column is the estimate.
No model is trained: only a threshold and three biases are fitted.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from devset import LABELS, load_dev_set
from tracker.config import TaggerConfig
from tracker.analysis.evaluate import compute_metrics
from tracker.analysis.stance import PassageAnalysis, StanceTag, StanceTagger, decide

STANCES = LABELS[:3]
TOPIC = "cooperation between the United States and Russia in the Arctic"
# Hypotheses in the style of the stance templates the project's NLI model was
# trained on (SemEval/VAST recast), for comparison with the news-framed defaults.
TEMPLATE_HYPOTHESES = {
    "favor": [f"This text is positive about {TOPIC}.", f"This text supports {TOPIC}.",
              f"The writer welcomes {TOPIC}."],
    "against": [f"This text expresses concern about {TOPIC}.", f"This text criticises {TOPIC}.",
                f"The writer warns against {TOPIC}."],
    "neutral": [],
}


def hypothesis_sets() -> dict[str, dict[str, list[str]]]:
    news = TaggerConfig().labels
    both = {k: list(dict.fromkeys(news[k] + TEMPLATE_HYPOTHESES[k])) for k in STANCES}
    return {"news": news, "template": TEMPLATE_HYPOTHESES, "news+template": both}


def predict(analyses, threshold: float, bias: dict[str, float], labels=STANCES) -> list[str]:
    # A StanceTag is an article the prefilter already decided (or an empty one).
    return [a.label if isinstance(a, StanceTag) else decide(a, labels, threshold, bias).label
            for a in analyses]


def stance_means(analyses, threshold: float) -> np.ndarray:
    """Per example: the mean stance scores over passages at or above ``threshold``
    (what :func:`decide` compares), or NaN where the example is unrelated."""
    out = np.full((len(analyses), len(STANCES)), np.nan)
    for n, a in enumerate(analyses):
        if isinstance(a, StanceTag):
            continue
        chosen = [s for i, s in zip(a.top, a.stance) if a.relevance[i] >= threshold]
        if chosen:
            out[n] = [np.mean([s[k] for s in chosen]) for k in STANCES]
    return out


def fit(analyses, gold, thresholds, spread) -> tuple[float, dict[str, float], float]:
    """Best (threshold, bias) on these examples: the relevance threshold by relevance
    F1, then the biases by macro-F1 (vectorised: argmax of mean scores + bias)."""
    rel_gold = np.array([g != "unrelated" for g in gold])
    best_t, best_f = thresholds[0], -1.0
    for t in thresholds:
        rel_pred = ~np.isnan(stance_means(analyses, t)[:, 0])
        f = 2 * (rel_gold & rel_pred).sum() / max(rel_gold.sum() + rel_pred.sum(), 1)
        if f > best_f:
            best_t, best_f = t, f
    means = stance_means(analyses, best_t)
    relevant = ~np.isnan(means[:, 0])
    steps = np.linspace(-1.5 * spread, 1.5 * spread, 25)
    # The neutral bias spans the observed scores, so that neutral can win as a fallback.
    top = np.nanmax(means, axis=1)[relevant] if relevant.any() else np.zeros(1)
    neutral_steps = np.unique(np.concatenate([[0.0], np.quantile(top, np.linspace(0, 1, 11))]))
    grid = np.array(list(itertools.product(steps, steps, neutral_steps)))  # (G, 3)
    scores = np.where(relevant[:, None], means, 0)[None, :, :] + grid[:, None, :]  # (G, N, 3)
    labels = np.array(STANCES + ["unrelated"])
    picks = np.where(relevant[None, :], scores.argmax(axis=2), 3)  # (G, N)
    gold_idx = np.array([LABELS.index(g) for g in gold])
    f1s = []
    for k in range(4):
        tp = ((picks == k) & (gold_idx == k)[None, :]).sum(1)
        denom = (picks == k).sum(1) + (gold_idx == k).sum()
        f1s.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0))
    macro = np.mean(f1s, axis=0)
    best = int(np.argmax(macro))
    bias = dict(zip(STANCES, (float(x) for x in grid[best])))
    assert list(labels[:3]) == STANCES
    return best_t, bias, float(macro[best])


def balance(scores: dict[str, float]) -> dict[str, float]:
    """Neutral as "neither side clearly stronger": minus the favor/against gap."""
    return dict(scores, neutral=-abs(scores["favor"] - scores["against"]))


def with_stance(analyses, stance_of) -> list:
    """Copies of the analyses with per-passage stance scores from ``stance_of(index, passage)``."""
    out = []
    for n, a in enumerate(analyses):
        if isinstance(a, StanceTag):
            out.append(a)
        else:
            out.append(dataclasses.replace(a, stance=[stance_of(n, i) for i in a.top]))
    return out


def evaluate(name, analyses, examples, tune, test, default_threshold, results):
    gold = [e.label for e in examples]
    rel = np.concatenate([a.relevance for a in analyses if isinstance(a, PassageAnalysis)])
    thresholds = list(np.linspace(np.quantile(rel, 0.02), np.quantile(rel, 0.98), 60))
    spread = np.std([s[k] for a in analyses if isinstance(a, PassageAnalysis)
                     for s in a.stance for k in STANCES]) or 0.1
    t, bias, tune_macro = fit([analyses[i] for i in tune], [gold[i] for i in tune],
                              thresholds, spread)
    test_gold = [gold[i] for i in test]
    tuned = compute_metrics(test_gold, predict([analyses[i] for i in test], t, bias), LABELS)
    untuned = compute_metrics(test_gold, predict([analyses[i] for i in test], default_threshold, {}),
                              LABELS)
    seeds = [i for i, e in enumerate(examples) if e.kind == "seed"]
    results[name] = {
        "threshold": round(float(t), 4), "bias": {k: round(v, 4) for k, v in bias.items()},
        "tune_macro_f1": round(tune_macro, 3), "test_macro_f1": round(tuned.macro_f1, 3),
        "test_macro_f1_untuned": round(untuned.macro_f1, 3),
        "test_accuracy": round(tuned.accuracy, 3),
        "test_f1": {k: round(v.f1, 3) for k, v in tuned.per_label.items()},
        "seeds": predict([analyses[i] for i in seeds], t, bias),
    }
    print(f"\n== {name}: threshold {t:.4f}, bias {results[name]['bias']}; "
          f"tune macro-F1 {tune_macro:.3f}")
    print(tuned.table())
    print(f"seeds: {results[name]['seeds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=TaggerConfig().model, help="NLI model")
    parser.add_argument("--quantize", action="store_true")
    parser.add_argument("--no-nli-engine", action="store_true", help="skip engine nli (slow)")
    parser.add_argument("--seeds-in-tune", action="store_true",
                        help="put the five seed articles in the tune split (default: test)")
    parser.add_argument("--json", dest="json_out", help="write the results here")
    args = parser.parse_args()

    examples = load_dev_set()
    if args.seeds_in_tune:
        # The seeds are the only full-length real articles: tune on them too
        # (with the rest of the tune split, never alone).
        examples = [dataclasses.replace(e, split="tune") if e.kind == "seed" else e
                    for e in examples]
    tune = [i for i, e in enumerate(examples) if e.split == "tune"]
    test = [i for i, e in enumerate(examples) if e.split == "test"]
    print(f"dev set: {len(examples)} examples ({len(tune)} tune, {len(test)} test)")
    base = dataclasses.replace(TaggerConfig(), model=args.model, quantize=args.quantize,
                               label_bias={})
    results: dict[str, dict] = {}

    # Engine embedding: relevance screen and stance by embeddings. Its top
    # passages are also those of engine hybrid (same screen).
    started = time.perf_counter()
    emb_tagger = StanceTagger(dataclasses.replace(base, engine="embedding"))
    emb = emb_tagger.analyse([(e.title, e.text) for e in examples], all_top=True)
    print(f"embedding pass: {time.perf_counter() - started:.1f}s")
    evaluate("embedding", emb, examples, tune, test, base.relevance_threshold, results)
    evaluate("embedding, neutral=fallback", with_stance(emb, lambda n, i: dict(
        emb[n].stance[emb[n].top.index(i)], neutral=0.0)), examples, tune, test,
        base.relevance_threshold, results)
    evaluate("embedding, neutral=balance", with_stance(emb, lambda n, i: balance(
        emb[n].stance[emb[n].top.index(i)])), examples, tune, test,
        base.relevance_threshold, results)

    # NLI entailment of every candidate hypothesis on every top passage, once.
    sets = hypothesis_sets()
    hypotheses = sorted({h for labels in sets.values() for hyps in labels.values() for h in hyps})
    nli = StanceTagger(dataclasses.replace(base, engine="hybrid")).nli
    keys = [(n, i) for n, a in enumerate(emb) if isinstance(a, PassageAnalysis) for i in a.top]
    pairs = [(emb[n].passages[i], h) for n, i in keys for h in hypotheses]
    started = time.perf_counter()
    probs = nli.entailment(pairs, base.batch_size).reshape(len(keys), len(hypotheses), 2)
    print(f"NLI pass: {len(pairs)} pairs in {time.perf_counter() - started:.1f}s")
    row_of = {key: r for r, key in enumerate(keys)}
    column = {h: c for c, h in enumerate(hypotheses)}

    def nli_stance(labels, score, neutral, emb_weight):
        def stance_of(n, i):
            row = probs[row_of[(n, i)]]
            out = {}
            for label in STANCES:
                hyps = labels[label]
                out[label] = float(np.mean([row[column[h], score] for h in hyps])) if hyps else 0.0
                if emb_weight:
                    out[label] += emb_weight * emb[n].stance[emb[n].top.index(i)][label]
            # As the tagger does: the neutral rule applies after the combination.
            if neutral == "fallback":
                out["neutral"] = 0.0
            return balance(out) if neutral == "balance" else out
        return stance_of

    for (set_name, labels), (score_name, score), neutral, emb_weight in itertools.product(
            sets.items(), [("3-way", 0), ("vs-contradiction", 1)],
            ["hypotheses", "fallback", "balance"], [0.0, 1.0]):
        if neutral == "hypotheses" and not labels["neutral"]:
            continue
        name = (f"hybrid {set_name}, {score_name}"
                + ("" if neutral == "hypotheses" else f", neutral={neutral}")
                + (" + embedding stance" if emb_weight else ""))
        evaluate(name, with_stance(emb, nli_stance(labels, score, neutral, emb_weight)),
                 examples, tune, test, base.relevance_threshold, results)

    if not args.no_nli_engine:
        started = time.perf_counter()
        nli_engine = StanceTagger(dataclasses.replace(base, engine="nli"))
        analyses = nli_engine.analyse([(e.title, e.text) for e in examples], all_top=True)
        print(f"\nengine nli pass: {time.perf_counter() - started:.1f}s")
        evaluate("nli (news hypotheses, 3-way)", analyses, examples, tune, test,
                 base.nli_relevance_threshold, results)

    print("\n| variant | tune macro-F1 | test macro-F1 | favor | against | neutral | unrelated |")
    print("|---|---|---|---|---|---|---|")
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]["tune_macro_f1"]):
        f = r["test_f1"]
        print(f"| {name} | {r['tune_macro_f1']:.3f} | {r['test_macro_f1']:.3f} | {f['favor']:.3f} | "
              f"{f['against']:.3f} | {f['neutral']:.3f} | {f['unrelated']:.3f} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Scoring variants the engine does not offer as settings, cross-validated on news_dev.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/stance_variants.py                # ~6 min
    HF_HUB_OFFLINE=1 .venv/bin/python bench/stance_variants.py --cache /tmp/variants.pkl

``bench/cv_stance.py`` judges configurations the tagger can run; this bench asks what
the tagger *could* do with the same models before anyone writes the code: the models run
once (the default analysis of every news_dev item, plus the NLI model on every sentence
and on the whole excerpt against a bank of hypotheses per label), then every variant is
built from those numbers and judged exactly like cv_stance.py does (stratified 5-fold,
the relevance threshold and label biases fitted on the training folds only,
``tracker.analysis.calibrate``). The first row rebuilds the default from the raw
numbers and must equal cv_stance.py's figure.

Variants: how many stance sentences and how they are combined (mean, max), the premise
(sentences, the lead, the whole excerpt, mixtures), how a hypothesis is scored
(entailment − contradiction, entailment, entailment vs contradiction), other and more
hypotheses per label (the bank below, written from the label definitions and the
annotators' hard cases, not from news_dev's texts), sentences weighted by topic
entailment, the topic NLI over every sentence, neutral raised when both sides have a
strong sentence, one label's score scaled, and an oracle that knows which items are
unrelated (how far stance alone is from the target).

news_dev is read from ../shared/data/news_dev/ and never copied; ``--cache`` keeps the
model outputs (numbers and sentence lists) in a file of your choosing, outside the project.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import pickle
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from cv_stance import read_news_dev  # noqa: E402

from tracker.analysis.calibrate import cross_validate, fit_stance, predict_labels  # noqa: E402
from tracker.analysis.stance import (  # noqa: E402
    UNRELATED, ArticleAnalysis, StanceTagger, nli_score)
from tracker.config import Config, TaggerConfig  # noqa: E402
from tracker.domain import StanceTag  # noqa: E402

TOPIC = "cooperation between the United States and Russia in the Arctic"
# Alternatives to the topic file's own hypotheses (tracker/topics/arctic.toml), which
# come first in each list of the bank (bank()).
ALTERNATIVES = {
    "favor": [
        f"{TOPIC[0].upper()}{TOPIC[1:]} is presented positively.",
        "Officials welcome joint Arctic projects of Russia and the United States.",
        "The United States and Russia can work together in the Arctic.",
        "Russia and America cooperate in the Arctic.",
        "The text mainly quotes supporters of US–Russian cooperation in the Arctic.",
    ],
    "against": [
        f"{TOPIC[0].upper()}{TOPIC[1:]} is presented as a threat.",
        "Russia is a threat to the United States in the Arctic.",
        "Sanctions block Arctic projects with Russia.",
        "The United States and Russia are rivals in the Arctic.",
        "Cooperation with Russia in the Arctic is impossible.",
        "Critics warn about cooperation with Russia in the Arctic.",
    ],
    "neutral": [
        "The text reports facts without taking a side.",
        "The text weighs the arguments for and against cooperation with Russia in the Arctic.",
        "The text analyses competition between the United States and Russia in the Arctic.",
    ],
}


def bank(tagger: TaggerConfig) -> dict[str, list[str]]:
    """The configured hypotheses of each label, then the alternatives; and the topic's."""
    out = {label: [*tagger.labels[label], *alternatives]
           for label, alternatives in ALTERNATIVES.items()}
    out["topic"] = list(tagger.topic_hypotheses)
    return out


LEAD_SENTENCES = 4  # the headline and the first three sentences


def model_outputs(config: Config) -> dict:
    items = read_news_dev()
    tagger = StanceTagger(config.tagger)
    articles = [(r.get("title"), r["text"]) for r in items]
    started = time.perf_counter()
    analyses = tagger.analyse(articles)
    sentences = [tagger.sentences(title, text) for title, text in articles]
    hypotheses = [(label, h) for label, hs in bank(config.tagger).items() for h in hs]
    flat = [s for ss in sentences for s in ss]
    probs = tagger.nli.entailment([(s, h) for s in flat for _, h in hypotheses],
                                  config.tagger.batch_size).reshape(len(flat), len(hypotheses), 3)
    per_item, start = [], 0
    for ss in sentences:
        per_item.append(probs[start:start + len(ss)])
        start += len(ss)
    passages = {
        "lead": [" ".join(ss[:LEAD_SENTENCES]) for ss in sentences],
        "whole": [" ".join(ss) for ss in sentences],
    }
    whole = {name: tagger.nli.entailment([(p, h) for p in texts for _, h in hypotheses], 8)
             .reshape(len(texts), len(hypotheses), 3) for name, texts in passages.items()}
    print(f"model passes {time.perf_counter() - started:.0f} s ({len(flat)} sentences)",
          flush=True)
    return {"gold": [r["label"] for r in items], "analyses": analyses, "hypotheses": hypotheses,
            "sentences": per_item, **whole}


class Variants:
    def __init__(self, outputs: dict, config: Config, seeds: list[int]):
        self.o, self.config, self.seeds = outputs, config.tagger, seeds
        self.gold = outputs["gold"]
        self.labels = [*self.config.labels, UNRELATED]
        self.index: dict[str, list[int]] = {}
        for n, (label, _) in enumerate(outputs["hypotheses"]):
            self.index.setdefault(label, []).append(n)
        # the configured hypotheses: the first of each label's list in the bank
        self.default = {label: self.index[label][:len(self.config.labels[label])]
                        for label in ALTERNATIVES}

    def sentence_probs(self, i: int, analysis: ArticleAnalysis, k) -> np.ndarray:
        """NLI probabilities of item ``i``'s headline and ``k`` most relevant sentences
        (``k = "all"``: every sentence)."""
        if k == "all":
            return self.o["sentences"][i]
        ranked = sorted(range(len(analysis.sentences)), key=lambda j: -analysis.relevance[j])
        return self.o["sentences"][i][list(dict.fromkeys([0, *ranked[:k]]))]

    def build(self, chosen=None, k=2, agg="mean", mode="entailment_minus_contradiction",
              premise="sentences", whole_weight=0.0, topic_weighted=None,
              topic_all=False, both_sides=0.0, both_scope="all", scale=None) -> list:
        """Analyses whose stance is one row: each label's aggregated score.

        ``both_sides`` adds to neutral that weight times the weaker of the two sides'
        strongest sentence (min(max favor, max against) over ``both_scope``: every
        sentence or the headline + that many most relevant): a report that quotes both
        sides. ``scale`` multiplies each label's score before the biases."""
        chosen = chosen or self.default
        out = []
        for i, a in enumerate(self.o["analyses"]):
            if isinstance(a, StanceTag):
                out.append(a)
                continue
            probs = (self.o[premise][i][None] if premise != "sentences"
                     else self.sentence_probs(i, a, k))
            rows = nli_score(probs, mode)
            weights = np.ones(len(rows))
            if topic_weighted is not None:
                weights = probs[:, self.index["topic"], 0].max(axis=1) + topic_weighted
            stance = {}
            for label, ids in chosen.items():
                values = rows[:, ids].mean(axis=1)
                stance[label] = (float(values.max()) if agg == "max"
                                 else float((values * weights).sum() / weights.sum()))
                if whole_weight:
                    passage = float(nli_score(self.o["whole"][i][ids], mode).mean())
                    stance[label] = (1 - whole_weight) * stance[label] + whole_weight * passage
            if both_sides:
                sides = nli_score(self.sentence_probs(i, a, both_scope), mode)
                stance["neutral"] += both_sides * float(min(
                    sides[:, chosen["favor"]].mean(axis=1).max(),
                    sides[:, chosen["against"]].mean(axis=1).max()))
            for label, factor in (scale or {}).items():
                stance[label] *= factor
            topic = list(a.topic)
            if topic_all:
                topic = [float(self.o["sentences"][i][:, self.index["topic"], 0].max())]
            out.append(ArticleAnalysis(sentences=a.sentences, relevance=a.relevance,
                                       top=[a.top[0]], topic=topic, stance=[stance]))
        return out

    def oracle(self, analyses: list) -> list:
        """Relevance known: unrelated items are tagged unrelated, the others pass."""
        out = []
        for a, gold in zip(analyses, self.gold):
            if gold == UNRELATED:
                out.append(StanceTag(label=UNRELATED, scores={}, relevance=None,
                                     confidence=None, evidence=None))
            elif isinstance(a, StanceTag):
                out.append(a)
            else:
                passed = copy.copy(a)
                passed.relevance = np.full(len(a.relevance), 10.0)
                out.append(passed)
        return out

    def row(self, name: str, analyses: list, config=None) -> None:
        cv = cross_validate(analyses, self.gold, config or self.config, fit_stance,
                            predict_labels, self.labels, 5, self.seeds)
        per = " ".join(f"{label} {cv.pooled.per_label[label].f1:.2f}" for label in self.labels)
        predicted = "/".join(str(cv.pooled.per_label[label].predicted) for label in self.labels)
        print(f"{name:<58} {cv.mean:.3f} ± {cv.sd:.3f}  {per}  predicted {predicted}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep the model outputs in this file")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    args = parser.parse_args()
    config = Config()
    if args.cache and args.cache.exists():
        outputs = pickle.loads(args.cache.read_bytes())
    else:
        outputs = model_outputs(config)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(outputs))
    v = Variants(outputs, config, args.seeds)
    F, A, N = v.index["favor"], v.index["against"], v.index["neutral"]
    print(f"{'variant (5-fold x ' + str(len(args.seeds)) + ' seeds, news_dev)':<58} macro-F1"
          f"        per-label F1 (pooled)  predicted favor/against/neutral/unrelated")
    v.row("default, rebuilt from the raw numbers", v.build())
    v.row("  ... relevance known (oracle)", v.oracle(v.build()))
    for k in (1, 3, 4):
        v.row(f"headline + {k} most relevant sentences, mean", v.build(k=k))
    v.row("every sentence, mean", v.build(k="all"))
    for k in (2, 4):
        v.row(f"headline + {k} most relevant sentences, max", v.build(k=k, agg="max"))
    v.row(f"premise: the lead (headline + {LEAD_SENTENCES - 1} sentences)", v.build(premise="lead"))
    v.row("premise: the whole excerpt", v.build(premise="whole"))
    for weight in (0.25, 0.5):
        v.row(f"sentences + whole excerpt, weight {weight}", v.build(whole_weight=weight))
    v.row("score: entailment alone", v.build(mode="entailment"))
    v.row("score: entailment vs contradiction", v.build(mode="entailment_vs_contradiction"))
    v.row("every hypothesis of the bank, averaged per label",
          v.build({"favor": F, "against": A, "neutral": N}))
    f, a, n = v.default["favor"], v.default["against"], v.default["neutral"]
    v.row(f"the {len(N)} neutral hypotheses", v.build({"favor": f, "against": a, "neutral": N}))
    for alt in N[len(n):]:
        v.row(f"neutral: {outputs['hypotheses'][alt][1][:45]}",
              v.build({"favor": f, "against": a, "neutral": [alt]}))
    for alt in F[len(f):]:
        v.row(f"favor: {outputs['hypotheses'][alt][1][:45]}",
              v.build({"favor": [alt], "against": a, "neutral": n}))
    for alt in A[len(a):]:
        v.row(f"against: {outputs['hypotheses'][alt][1][:45]}",
              v.build({"favor": f, "against": [alt], "neutral": n}))
    for eps in (0.1, 1.0):
        v.row(f"sentences weighted by topic entailment + {eps}", v.build(topic_weighted=eps))
    for weight in (0.25, 0.5):
        v.row(f"topic NLI over every sentence, weight {weight}", v.build(topic_all=True),
              dataclasses.replace(config.tagger, topic_nli_weight=weight))
    for scope in ("all", 2):
        for weight in (0.25, 0.5, 1.0):
            v.row(f"neutral + {weight} x both sides (min of maxima, {scope} sentences)",
                  v.build(both_sides=weight, both_scope=scope))
    for label in ("favor", "against", "neutral"):
        for factor in (0.5, 2.0):
            v.row(f"{label} score x {factor}", v.build(scale={label: factor}))


if __name__ == "__main__":
    main()

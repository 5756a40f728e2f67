"""Zero-shot stance tagging: is an article about the topic, and which way does it lean?

How an article is tagged (every step is configured in ``[tagger]``):

0. Prefilter: an article that contains none of ``prefilter_terms`` (words a
   text about the topic cannot avoid, e.g. "Arctic", "Bering") is unrelated
   without any model pass; most of a general news stream ends here.
1. Its headline and text are split into sentence-aligned passages that fit the
   model (:mod:`tracker.analysis.passages`); nothing is truncated away.
2. Relevance, per passage. Engines ``hybrid`` and ``embedding``: cosine
   similarity of the passage's sentence embedding to the closest topic
   prototype (``relevance_hypotheses``), minus ``near_miss_weight`` times its
   similarity to the closest near-miss prototype (``near_miss_hypotheses``:
   news the label definitions call unrelated although it is close), plus
   ``aspect_weight`` times its similarity to the weakest of the topic's
   aspects (``relevance_aspects``: the Arctic; the US and Russia), so news
   with only one aspect stays out. Engine ``nli``: the NLI entailment
   probability of the relevance hypotheses. An article with no passage at or
   above the threshold is ``unrelated``.
3. Stance, from the ``stance_passages`` most relevant passages: for every
   label, the NLI entailment probability of each of its hypotheses (engines
   ``hybrid`` and ``nli``) or the embedding similarity to them (``embedding``),
   averaged over hypotheses and passages, plus a per-label calibration
   ``label_bias``; the highest wins. The neutral label may instead be scored
   by ``neutral_rule``: ``fallback`` (its bias alone) or ``balance`` (minus the
   gap between the two strongest other labels: neither side clearly leads).

Nothing here is trained on topic data: the only topic-specific inputs are the
hypotheses and a handful of thresholds and biases chosen on a dev set.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from tracker.analysis.models import get_embedder, get_nli_model, model_fingerprint, set_threads
from tracker.analysis.passages import article_text, split_passages
from tracker.config import TaggerConfig
from tracker.domain import StanceTag
from tracker.memory import BoundedCache

UNRELATED = "unrelated"


UNSUPPORTED_LANGUAGE = "unsupported_language"
# Below this detector confidence (short or mixed texts) an article is read anyway.
LANGUAGE_CONFIDENCE = 0.9


def language_supported(language: str | None, confidence: float | None,
                       config: TaggerConfig) -> bool:
    """Whether the tagger reads an article: its language is one the models support, or
    it was not detected with confidence (an unknown language is given the benefit)."""
    if not config.languages or not language or (confidence or 0.0) < LANGUAGE_CONFIDENCE:
        return True
    return language in config.languages


def unsupported_language_tag(language: str, config: TaggerConfig) -> StanceTag:
    """The tag of an article the models cannot read: no scores, the reason as evidence."""
    return StanceTag(label=UNSUPPORTED_LANGUAGE, relevance=None, confidence=None, scores={},
                     evidence=f"Not read: written in {language} (detected); the tagger reads "
                              f"{', '.join(config.languages)}.")


def uses_nli(config: TaggerConfig) -> bool:
    return config.engine in ("hybrid", "nli")


def uses_embeddings(config: TaggerConfig) -> bool:
    return config.engine in ("hybrid", "embedding")


def model_identity(config: TaggerConfig) -> tuple[str, str]:
    """(model id, weights hash) of the models this configuration tags with, without loading them."""
    names, hashes = [], []
    if uses_nli(config):
        names.append(config.model)
        hashes.append(model_fingerprint(config.model))
    if uses_embeddings(config):
        names.append(config.embedding_model)
        hashes.append(model_fingerprint(config.embedding_model))
    if config.quantize:
        hashes.append("int8")
    digest = hashlib.sha256("+".join(hashes).encode()).hexdigest()[:16]
    return " + ".join(names), digest


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 60.0), -60.0)))


@dataclass
class PassageAnalysis:
    """What the models said about one distinct text, before any threshold or bias.

    Kept apart from :func:`decide` so the dev-set tuning in ``bench/`` can try
    many thresholds and biases on one model pass.
    """

    passages: list[str]
    relevance: np.ndarray  # per passage
    top: list[int] = field(default_factory=list)  # stance passages, most relevant first
    stance: list[dict[str, float]] = field(default_factory=list)  # label -> score, per top passage


def decide(
    analysis: PassageAnalysis,
    labels: Sequence[str],
    threshold: float,
    label_bias: dict[str, float],
    relevance_temperature: float = 0.05,
    stance_temperature: float = 0.1,
) -> StanceTag:
    """The label from an analysis: unrelated below ``threshold``, else the best calibrated stance."""
    relevance = analysis.relevance
    best = int(np.argmax(relevance)) if len(relevance) else 0
    top_relevance = float(relevance[best]) if len(relevance) else 0.0
    p_relevant = _sigmoid((top_relevance - threshold) / relevance_temperature)
    chosen = [(i, s) for i, s in zip(analysis.top, analysis.stance) if relevance[i] >= threshold]
    if not chosen:
        scores = {label: p_relevant / len(labels) for label in labels}
        scores[UNRELATED] = 1.0 - p_relevant
        # The evidence of an unrelated article is the passage that came closest.
        evidence = analysis.passages[best] if analysis.passages else None
        return StanceTag(
            label=UNRELATED, scores=_rounded(scores), relevance=round(top_relevance, 4),
            confidence=round(scores[UNRELATED], 4), evidence=evidence,
            evidence_passages=[{"passage": best, "relevance": round(top_relevance, 4),
                                "text": evidence}] if evidence else [],
            passages=len(analysis.passages),
        )
    calibrated = {
        label: float(np.mean([s[label] for _, s in chosen])) + float(label_bias.get(label, 0.0))
        for label in labels
    }
    label = max(labels, key=lambda k: calibrated[k])
    top_score = max(calibrated.values())
    exps = {k: math.exp((v - top_score) / stance_temperature) for k, v in calibrated.items()}
    total = sum(exps.values())
    scores = {k: p_relevant * exps[k] / total for k in labels}
    scores[UNRELATED] = 1.0 - p_relevant
    # Evidence: the relevant passage that speaks most for the chosen label.
    chosen.sort(key=lambda item: -item[1][label])
    evidence_passages = [
        {"passage": i, "relevance": round(float(relevance[i]), 4), "scores": _rounded(s),
         "text": analysis.passages[i]}
        for i, s in chosen
    ]
    return StanceTag(
        label=label, scores=_rounded(scores), relevance=round(top_relevance, 4),
        confidence=round(scores[label], 4), evidence=evidence_passages[0]["text"],
        evidence_passages=evidence_passages, passages=len(analysis.passages),
    )


class StanceTagger:
    """Loads its models once; :meth:`tag_texts` tags many articles in shared batches."""

    def __init__(self, config: TaggerConfig):
        config.validate()
        self.config = config
        self.labels = list(config.labels)
        set_threads(config.threads)
        self.nli = get_nli_model(config.model, config.quantize) if uses_nli(config) else None
        self.embedder = (
            get_embedder(config.embedding_model, config.quantize) if uses_embeddings(config) else None
        )
        self.model_id, self.model_hash = model_identity(config)
        self._token_model = self.nli or self.embedder
        terms = [t.strip() for t in config.prefilter_terms if t.strip()]
        self._prefilter = re.compile(
            r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")(?:s|es)?\b", re.IGNORECASE
        ) if terms else None
        if self.embedder is not None:
            self._topic = self.embedder.encode(config.relevance_hypotheses)
            self._near = (self.embedder.encode(config.near_miss_hypotheses)
                          if config.near_miss_hypotheses else None)
            self._aspects = [self.embedder.encode(v) for v in config.relevance_aspects.values()]
            self._label_vectors = {
                label: self.embedder.encode(hyps) for label, hyps in config.labels.items()
            }

    def _screened_out(self) -> StanceTag:
        """The tag of an article without any prefilter term: unrelated, no model involved."""
        scores = {label: 0.0 for label in self.labels}
        scores[UNRELATED] = 1.0
        return StanceTag(label=UNRELATED, scores=scores, relevance=None, confidence=1.0)

    @property
    def relevance_threshold(self) -> float:
        if self.config.engine == "nli":
            return self.config.nli_relevance_threshold
        return self.config.relevance_threshold

    def count_tokens(self, text: str) -> int:
        return self._token_model.count_tokens(text)

    def passages(self, title: str | None, text: str) -> list[str]:
        return split_passages(article_text(title, text), self.config.max_passage_tokens,
                              self.count_tokens)

    def tag_texts(
        self,
        articles: Sequence[tuple[str | None, str]],
        progress: Callable[[int], None] | None = None,
    ) -> list[StanceTag]:
        """Tag ``(title, text)`` pairs; identical ones are scored once.

        All passages of all articles share the embedding batches, and all
        (passage, hypothesis) pairs the NLI batches. An empty text gets a
        failed tag; the others are unaffected. ``progress(n)`` is called with
        the number of articles once they are done.
        """
        keys = [((title or "").strip(), text) for title, text in articles]
        distinct = list(dict.fromkeys(keys))
        analyses = self.analyse(distinct)
        config = self.config
        tags = {
            key: analysis if isinstance(analysis, StanceTag) else decide(
                analysis, self.labels, self.relevance_threshold, config.label_bias,
                config.relevance_temperature, config.stance_temperature)
            for key, analysis in zip(distinct, analyses)
        }
        if progress:
            progress(len(keys))
        return [tags[key] for key in keys]

    def analyse(
        self, articles: Sequence[tuple[str | None, str]], all_top: bool = False
    ) -> list[PassageAnalysis | StanceTag]:
        """Model work for each article: passage relevance, then stance of the top passages.

        Stance is computed only for top passages at or above the relevance
        threshold (the cheap path for off-topic news), or for all top passages
        with ``all_top`` (for tuning the threshold). Empty texts give a failed tag.
        """
        config = self.config
        results: list[PassageAnalysis | StanceTag] = []
        all_passages: list[str] = []
        for title, text in articles:
            if not text or not text.strip():
                results.append(StanceTag.failed("empty text: nothing to tag"))
                continue
            if self._prefilter and not self._prefilter.search(f"{title or ''}\n{text}"):
                results.append(self._screened_out())
                continue
            passages = self.passages(title, text)
            results.append(PassageAnalysis(passages=passages, relevance=np.zeros(len(passages))))
            all_passages.extend(passages)

        # Relevance of every passage of every article, in shared batches.
        vectors = None
        if config.engine == "nli":
            relevance = self._nli_relevance(all_passages)
        else:
            vectors = self.embedder.encode(all_passages, batch_size=config.batch_size)
            relevance = self._embedding_relevance(vectors)
        stance_items: list[tuple[PassageAnalysis, int, int]] = []  # (analysis, passage, row)
        position = 0
        for item in results:
            if isinstance(item, StanceTag):
                continue
            item.relevance = relevance[position : position + len(item.passages)]
            ranked = sorted(range(len(item.passages)), key=lambda i: -item.relevance[i])
            item.top = [i for i in ranked[: config.stance_passages]
                        if all_top or item.relevance[i] >= self.relevance_threshold]
            stance_items.extend((item, i, position + i) for i in item.top)
            position += len(item.passages)

        # Stance of the relevant passages only, again in shared batches.
        if stance_items:
            if config.engine != "nli":
                embedded = self._embedding_scores(
                    np.stack([vectors[row] for _, _, row in stance_items]))
            if config.engine == "embedding":
                scores = embedded
            else:
                scores = self._nli_scores([item.passages[i] for item, i, _ in stance_items])
                weight = config.stance_embedding_weight
                if config.engine == "hybrid" and weight:
                    scores = [{k: s[k] + weight * e[k] for k in s} for s, e in zip(scores, embedded)]
            for (item, _, _), passage_scores in zip(stance_items, scores):
                item.stance.append(self._apply_neutral_rule(passage_scores))
        return results

    # -- relevance -----------------------------------------------------------------

    def _embedding_relevance(self, vectors: np.ndarray) -> np.ndarray:
        if len(vectors) == 0:
            return np.zeros(0)
        score = (vectors @ self._topic.T).max(axis=1)
        if self._near is not None:
            score = score - self.config.near_miss_weight * (vectors @ self._near.T).max(axis=1)
        if self._aspects:
            weakest = np.min([(vectors @ a.T).max(axis=1) for a in self._aspects], axis=0)
            score = score + self.config.aspect_weight * weakest
        return score

    def _nli_relevance(self, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0)
        hyps = self.config.relevance_hypotheses
        pairs = [(p, h) for p in passages for h in hyps]
        probs = self.nli.entailment(pairs, self.config.batch_size)[:, self._nli_column]
        return probs.reshape(len(passages), len(hyps)).max(axis=1)

    @property
    def _nli_column(self) -> int:
        return 1 if self.config.nli_score == "entailment_vs_contradiction" else 0

    # -- stance --------------------------------------------------------------------

    def _stance_hypotheses(self) -> list[tuple[str, str]]:
        """(label, hypothesis) pairs to score; a neutral label not scored by its own
        hypotheses (neutral_rule fallback/balance) needs no model work."""
        skip = self.config.neutral_label if self.config.neutral_rule != "hypotheses" else None
        return [(label, h) for label, hyps in self.config.labels.items() if label != skip
                for h in hyps]

    def _apply_neutral_rule(self, scores: dict[str, float]) -> dict[str, float]:
        rule, neutral = self.config.neutral_rule, self.config.neutral_label
        if rule == "hypotheses":
            return scores
        if rule == "fallback":
            return dict(scores, **{neutral: 0.0})
        others = sorted((v for k, v in scores.items() if k != neutral), reverse=True)
        return dict(scores, **{neutral: -(others[0] - others[1])})

    def _nli_scores(self, passages: list[str]) -> list[dict[str, float]]:
        hypotheses = self._stance_hypotheses()
        pairs = [(p, h) for p in passages for _, h in hypotheses]
        probs = self.nli.entailment(pairs, self.config.batch_size)[:, self._nli_column]
        probs = probs.reshape(len(passages), len(hypotheses))
        result = []
        for row in probs:
            per_label: dict[str, list[float]] = {label: [] for label in self.labels}
            for (label, _), p in zip(hypotheses, row):
                per_label[label].append(float(p))
            # A label without hypotheses scores 0: only its bias speaks for it.
            result.append({label: float(np.mean(v)) if v else 0.0 for label, v in per_label.items()})
        return result

    def _embedding_scores(self, vectors: np.ndarray) -> list[dict[str, float]]:
        sims = {label: (vectors @ v.T).mean(axis=1) if len(v) else np.zeros(len(vectors))
                for label, v in self._label_vectors.items()}
        return [{label: float(sims[label][row]) for label in self.labels}
                for row in range(vectors.shape[0])]


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in scores.items()}


# At most [memory] taggers_cached configurations' taggers (tracker/memory.py).
_TAGGERS: BoundedCache[StanceTagger] = BoundedCache("taggers", 2)
_TAGGERS_LOCK = threading.Lock()


def get_tagger(config: TaggerConfig) -> StanceTagger:
    """One tagger per distinct configuration and process (models are shared between them)."""
    import dataclasses

    key = json.dumps(dataclasses.asdict(config), sort_keys=True)
    with _TAGGERS_LOCK:
        if key not in _TAGGERS:
            _TAGGERS[key] = StanceTagger(config)
        return _TAGGERS[key]

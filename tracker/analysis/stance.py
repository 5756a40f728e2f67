"""Zero-shot stance tagging: is an article about the topic, and which way does it lean?

The policy (what decides a label) lives here; the models are run by
:mod:`tracker.analysis.models`, and the topic's sentences and fitted numbers
come from the topic file (:mod:`tracker.topics`, ``[calibration]``).

How an article is tagged (engine ``hybrid``, the default):

0. Prefilter: an article that contains none of ``prefilter_terms`` (words a
   text about the topic cannot avoid, e.g. "Arctic", "Bering") is unrelated
   without any model pass; most of a general news stream ends here.
1. Its headline and text are split into sentences (the headline is one of its
   own; an over-long sentence is cut, never dropped).
2. Relevance per sentence, from sentence embeddings: similarity to the closest
   topic prototype, minus ``near_miss_weight`` times the similarity to the
   closest near miss (news the label definitions call unrelated although it
   is close), plus ``aspect_weight`` times the similarity to the weakest of the
   topic's aspects (the Arctic; the US and Russia), so news with only one
   aspect stays out.
3. The ``stance_passages`` most relevant sentences go to the NLI model: the
   topic hypotheses (is this about the topic?) and every label's hypotheses.
4. The article's relevance is the mean of its two most relevant sentences plus
   ``topic_nli_weight`` times the NLI's strongest topic entailment; below
   ``relevance_threshold`` it is ``unrelated``.
5. Its stance: per label, the NLI score of its hypotheses averaged over the
   stance sentences (plus ``stance_embedding_weight`` times the embedding
   similarity to them), plus ``label_bias``; the neutral label may instead be
   scored by ``neutral_rule`` (``balance``: minus the gap between the two
   other labels -- neither side clearly leads). The highest wins.
6. Evidence: the stance sentence that speaks most for the chosen label (with
   the next sentence when it is short), never a cut-off passage.

Engine ``nli`` scores relevance with the NLI model alone, engine
``embedding`` stance with embeddings alone. Nothing is trained on topic data:
only the handful of numbers in ``[calibration]`` are fitted on labelled
examples (``tracker calibrate``).
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
from tracker.analysis.passages import article_text, sentence_units
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


def uses_screen(config: TaggerConfig) -> bool:
    """Whether the lead screen runs (it embeds: engines hybrid and embedding)."""
    return uses_embeddings(config) and config.screen_threshold > -1


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
        hashes.append("int8-per-channel")  # per-tensor scales before: tags redone
    elif config.screen_quantize and uses_screen(config):
        hashes.append("screen-int8")
    digest = hashlib.sha256("+".join(hashes).encode()).hexdigest()[:16]
    return " + ".join(names), digest


def nli_score(probs: np.ndarray, how: str) -> np.ndarray:
    """A stance hypothesis's score from :meth:`NLIModel.entailment`'s columns (the last
    axis: P(entailment), P(entailment) vs contradiction, P(contradiction)) as
    ``[tagger] nli_score`` says: "entailment", "entailment_vs_contradiction" or
    "entailment_minus_contradiction"."""
    if how == "entailment_vs_contradiction":
        return probs[..., 1]
    if how == "entailment_minus_contradiction":
        return probs[..., 0] - probs[..., 2]
    return probs[..., 0]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 60.0), -60.0)))


# Short sentences take the next one along as evidence (a quote and its speaker).
EVIDENCE_MIN_WORDS = 12


@dataclass
class ArticleAnalysis:
    """What the models said about one distinct text, before any threshold or bias.

    Kept apart from :func:`decide` so calibration (``tracker calibrate``,
    ``bench/cv_stance.py``) can try many numbers on one model pass.
    """

    sentences: list[str]
    relevance: np.ndarray  # per sentence: embedding relevance (engine nli: NLI topic)
    top: list[int] = field(default_factory=list)  # stance sentences, most relevant first
    topic: list[float] = field(default_factory=list)  # NLI topic entailment, per top sentence
    stance: list[dict[str, float]] = field(default_factory=list)  # NLI, per top sentence
    embedded: list[dict[str, float]] = field(default_factory=list)  # embedding, per top sentence


def article_relevance(analysis: ArticleAnalysis, config: TaggerConfig) -> float:
    """The article's relevance score: its two most relevant sentences, plus the NLI's
    strongest topic entailment (engine hybrid)."""
    values = np.sort(np.asarray(analysis.relevance, dtype=float))[::-1]
    if not len(values):
        return 0.0
    score = float(values[:2].mean())
    if config.engine == "hybrid" and analysis.topic:
        score += config.topic_nli_weight * max(analysis.topic)
    return score


def relevance_threshold(config: TaggerConfig) -> float:
    return config.nli_relevance_threshold if config.engine == "nli" else config.relevance_threshold


def _label_scores(analysis: ArticleAnalysis, config: TaggerConfig, labels: Sequence[str]
                  ) -> list[dict[str, float]]:
    """Per stance sentence: each label's score before biases (NLI, plus the weighted
    embedding similarity; engine embedding: the similarity alone)."""
    weight = config.stance_embedding_weight if config.engine == "hybrid" else 0.0
    rows = []
    for index in range(len(analysis.top)):
        embedded = analysis.embedded[index] if analysis.embedded else {}
        if config.engine == "embedding":
            row = {label: embedded.get(label, 0.0) for label in labels}
        else:
            nli = analysis.stance[index]
            row = {label: nli.get(label, 0.0) + weight * embedded.get(label, 0.0)
                   for label in labels}
        rows.append(_neutral_rule(row, config))
    return rows


def _neutral_rule(scores: dict[str, float], config: TaggerConfig) -> dict[str, float]:
    rule, neutral = config.neutral_rule, config.neutral_label
    if rule == "hypotheses":
        return scores
    if rule == "fallback":
        return dict(scores, **{neutral: 0.0})
    others = sorted((v for k, v in scores.items() if k != neutral), reverse=True)
    return dict(scores, **{neutral: -(others[0] - others[1])})


def _evidence(analysis: ArticleAnalysis, index: int) -> str:
    """The sentence, with the next one when it is short (a quote and who said it)."""
    text = analysis.sentences[index]
    following = index + 1
    if len(text.split()) < EVIDENCE_MIN_WORDS and following < len(analysis.sentences) and index:
        text = f"{text} {analysis.sentences[following]}"
    return text


def decide(analysis: ArticleAnalysis, config: TaggerConfig) -> StanceTag:
    """The label from an analysis: unrelated below the threshold, else the best
    calibrated stance; scores are probabilities (summing to 1) for display."""
    labels = list(config.labels)
    relevance = article_relevance(analysis, config)
    threshold = relevance_threshold(config)
    p_relevant = _sigmoid((relevance - threshold) / config.relevance_temperature)
    if relevance < threshold or not analysis.top:
        scores = {label: p_relevant / len(labels) for label in labels}
        scores[UNRELATED] = 1.0 - p_relevant
        best = int(np.argmax(analysis.relevance)) if len(analysis.relevance) else None
        # The evidence of an unrelated article is the sentence that came closest.
        evidence = analysis.sentences[best] if best is not None else None
        return StanceTag(
            label=UNRELATED, scores=_rounded(scores), relevance=round(relevance, 4),
            confidence=round(scores[UNRELATED], 4), evidence=evidence,
            evidence_passages=[{"sentence": best, "relevance": round(float(
                analysis.relevance[best]), 4), "text": evidence}] if evidence else [],
            passages=len(analysis.sentences),
        )
    rows = _label_scores(analysis, config, labels)
    calibrated = {label: float(np.mean([row[label] for row in rows]))
                  + float(config.label_bias.get(label, 0.0)) for label in labels}
    label = max(labels, key=lambda k: calibrated[k])
    top_score = max(calibrated.values())
    exps = {k: math.exp((v - top_score) / config.stance_temperature) for k, v in calibrated.items()}
    total = sum(exps.values())
    scores = {k: p_relevant * exps[k] / total for k in labels}
    scores[UNRELATED] = 1.0 - p_relevant
    # Evidence: the stance sentence that speaks most for the label (for a neutral
    # label scored by a rule, the most relevant one).
    order = list(range(len(analysis.top)))
    if not (label == config.neutral_label and config.neutral_rule != "hypotheses"):
        order.sort(key=lambda k: -rows[k][label])
    evidence_passages = [
        {"sentence": analysis.top[k], "relevance": round(float(analysis.relevance[analysis.top[k]]), 4),
         "scores": _rounded(rows[k]), "text": _evidence(analysis, analysis.top[k])}
        for k in order
    ]
    return StanceTag(
        label=label, scores=_rounded(scores), relevance=round(relevance, 4),
        confidence=round(scores[label], 4), evidence=evidence_passages[0]["text"],
        evidence_passages=evidence_passages, passages=len(analysis.sentences),
    )


@dataclass
class _TopicVectors:
    """The topic's embedded prototypes, near misses and aspects, from one embedder:
    the embedding relevance of passages embedded by that same embedder."""

    topic: np.ndarray
    near: np.ndarray | None
    aspects: list[np.ndarray]

    @classmethod
    def of(cls, embedder, config: TaggerConfig) -> "_TopicVectors":
        return cls(
            topic=embedder.encode(config.relevance_hypotheses),
            near=(embedder.encode(config.near_miss_hypotheses)
                  if config.near_miss_hypotheses else None),
            aspects=[embedder.encode(v) for v in config.relevance_aspects.values()],
        )

    def relevance(self, vectors: np.ndarray, config: TaggerConfig) -> np.ndarray:
        if len(vectors) == 0:
            return np.zeros(0)
        score = (vectors @ self.topic.T).max(axis=1)
        if self.near is not None:
            score = score - config.near_miss_weight * (vectors @ self.near.T).max(axis=1)
        if self.aspects:
            weakest = np.min([(vectors @ a.T).max(axis=1) for a in self.aspects], axis=0)
            score = score + config.aspect_weight * weakest
        return score


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
        # The screen reads one lead per article, most of them off topic: an int8 copy
        # of the embedder does it ~3x faster (screen_quantize).
        self.screen_embedder = (
            get_embedder(config.embedding_model, config.quantize or config.screen_quantize)
            if uses_screen(config) else None
        )
        self.model_id, self.model_hash = model_identity(config)
        self._token_model = self.nli or self.embedder
        terms = [t.strip() for t in config.prefilter_terms if t.strip()]
        self._prefilter = re.compile(
            r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")(?:s|es)?\b", re.IGNORECASE
        ) if terms else None
        if self.embedder is not None:
            self._topic = _TopicVectors.of(self.embedder, config)
            self._screen_topic = (self._topic if self.screen_embedder in (None, self.embedder)
                                  else _TopicVectors.of(self.screen_embedder, config))
            self._label_vectors = {
                label: self.embedder.encode(hyps) for label, hyps in config.labels.items() if hyps
            }

    def _screened_out(self, relevance: float | None = None, lead: str | None = None) -> StanceTag:
        """The tag of an article the prefilter (no topic term: no model involved,
        relevance None) or the lead screen (its lead's relevance) put aside."""
        scores = {label: 0.0 for label in self.labels}
        scores[UNRELATED] = 1.0
        return StanceTag(label=UNRELATED, scores=scores, confidence=1.0, evidence=lead,
                         relevance=None if relevance is None else round(relevance, 4))

    def _lead(self, title: str | None, text: str) -> str:
        words = text.split()[: self.config.screen_words]
        return f"{(title or '').strip()}. {' '.join(words)}".strip(". ")

    def count_tokens(self, text: str) -> int:
        return self._token_model.count_tokens(text)

    def sentences(self, title: str | None, text: str) -> list[str]:
        return sentence_units(article_text(title, text), self.config.max_passage_tokens,
                              self.count_tokens)

    def tag_texts(
        self,
        articles: Sequence[tuple[str | None, str]],
        progress: Callable[[int], None] | None = None,
    ) -> list[StanceTag]:
        """Tag ``(title, text)`` pairs; identical ones are scored once.

        All sentences of all articles share the embedding batches, and all
        (sentence, hypothesis) pairs the NLI batches. An empty text gets a
        failed tag; the others are unaffected. ``progress(n)`` is called with
        the number of articles once they are done.
        """
        keys = [((title or "").strip(), text) for title, text in articles]
        distinct = list(dict.fromkeys(keys))
        analyses = self.analyse(distinct)
        tags = {key: analysis if isinstance(analysis, StanceTag) else decide(analysis, self.config)
                for key, analysis in zip(distinct, analyses)}
        if progress:
            progress(len(keys))
        return [tags[key] for key in keys]

    def analyse(self, articles: Sequence[tuple[str | None, str]]
                ) -> list[ArticleAnalysis | StanceTag]:
        """Model work for each article: sentence relevance, then topic and stance of its
        most relevant sentences. Empty texts give a failed tag."""
        config = self.config
        results: list[ArticleAnalysis | StanceTag | None] = []
        leads: list[tuple[int, str]] = []
        for title, text in articles:
            if not text or not text.strip():
                results.append(StanceTag.failed("empty text: nothing to tag"))
            elif self._prefilter and not self._prefilter.search(f"{title or ''}\n{text}"):
                results.append(self._screened_out())
            else:
                results.append(None)
                leads.append((len(results) - 1, self._lead(title, text)))
        # The screen: one short embedding per article (headline and lead), shared batches.
        if self.screen_embedder is not None and leads:
            screened = self._screen_topic.relevance(
                self.screen_embedder.encode([lead for _, lead in leads],
                                            batch_size=config.batch_size), config)
            for (position, lead), score in zip(leads, screened):
                if score < config.screen_threshold:
                    results[position] = self._screened_out(float(score), lead)
        all_sentences: list[str] = []
        for position, (title, text) in enumerate(articles):
            if results[position] is not None:
                continue
            sentences = self.sentences(title, text)
            results[position] = ArticleAnalysis(sentences=sentences,
                                                relevance=np.zeros(len(sentences)))
            all_sentences.extend(sentences)

        # Relevance of every sentence of every article, in shared batches.
        vectors = None
        if config.engine == "nli":
            relevance = self._nli_topic(all_sentences)
        else:
            vectors = self.embedder.encode(all_sentences, batch_size=config.batch_size)
            relevance = self._topic.relevance(vectors, config)
        items: list[tuple[ArticleAnalysis, int, int]] = []  # (analysis, sentence, row)
        position = 0
        for item in results:
            if isinstance(item, StanceTag):
                continue
            item.relevance = relevance[position : position + len(item.sentences)]
            ranked = sorted(range(len(item.sentences)), key=lambda i: -item.relevance[i])
            # The headline (or first sentence) frames the story: it always counts.
            item.top = list(dict.fromkeys([0, *ranked[: config.stance_passages]]))
            items.extend((item, i, position + i) for i in item.top)
            position += len(item.sentences)

        # Topic and stance of the most relevant sentences only, again in shared batches.
        if items:
            texts = [item.sentences[i] for item, i, _ in items]
            topic = (self._nli_topic(texts) if config.engine == "hybrid"
                     and config.topic_hypotheses else None)
            nli = self._nli_scores(texts) if config.engine != "embedding" else None
            embedded = (self._embedding_scores(np.stack([vectors[row] for _, _, row in items]))
                        if vectors is not None else None)
            for n, (item, _, _) in enumerate(items):
                if topic is not None:
                    item.topic.append(float(topic[n]))
                if nli is not None:
                    item.stance.append(nli[n])
                if embedded is not None:
                    item.embedded.append(embedded[n])
        return results

    # -- relevance -----------------------------------------------------------------

    def _nli_topic(self, sentences: list[str]) -> np.ndarray:
        """Per sentence: the strongest entailment of the topic hypotheses."""
        hyps = self.config.topic_hypotheses or self.config.relevance_hypotheses
        if not sentences:
            return np.zeros(0)
        pairs = [(s, h) for s in sentences for h in hyps]
        # Topic: the plain entailment probability, whatever scores the stance.
        probs = self.nli.entailment(pairs, self.config.batch_size)[:, 0]
        return probs.reshape(len(sentences), len(hyps)).max(axis=1)

    def _nli(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """The configured NLI score of each pair (``nli_score``)."""
        return nli_score(self.nli.entailment(pairs, self.config.batch_size), self.config.nli_score)

    # -- stance --------------------------------------------------------------------

    def _stance_hypotheses(self) -> list[tuple[str, str]]:
        """(label, hypothesis) pairs to score; a neutral label not scored by its own
        hypotheses (neutral_rule fallback/balance) needs no model work."""
        skip = self.config.neutral_label if self.config.neutral_rule != "hypotheses" else None
        return [(label, h) for label, hyps in self.config.labels.items() if label != skip
                for h in hyps]

    def _nli_scores(self, sentences: list[str]) -> list[dict[str, float]]:
        hypotheses = self._stance_hypotheses()
        pairs = [(s, h) for s in sentences for _, h in hypotheses]
        probs = self._nli(pairs).reshape(len(sentences), len(hypotheses))
        result = []
        for row in probs:
            per_label: dict[str, list[float]] = {label: [] for label in self.labels}
            for (label, _), p in zip(hypotheses, row):
                per_label[label].append(float(p))
            # A label without hypotheses scores 0: only its bias speaks for it.
            result.append({label: float(np.mean(v)) if v else 0.0 for label, v in per_label.items()})
        return result

    def _embedding_scores(self, vectors: np.ndarray) -> list[dict[str, float]]:
        sims = {label: (vectors @ v.T).mean(axis=1) for label, v in self._label_vectors.items()}
        return [{label: float(sims[label][row]) if label in sims else 0.0 for label in self.labels}
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

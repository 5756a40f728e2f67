"""Scoring a tagger against labelled examples: plain arithmetic, checkable by hand.

Used by ``tracker eval FILE.jsonl`` (one JSON object per line: ``text``,
``label`` and optionally ``title``) and by the benchmarks in ``bench/``.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from tracker.errors import EvalFileError


@dataclass
class LabelledText:
    text: str
    label: str
    title: str | None = None
    id: str | None = None  # the file's own "id", if it has one


@dataclass
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int  # gold examples with this label
    predicted: int  # examples predicted as this label


@dataclass
class Metrics:
    labels: list[str]
    n: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, LabelScores]
    # confusion[gold][predicted] = count
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    # 95% bootstrap interval of macro-F1 (small sets are noisy), when computed.
    macro_f1_interval: tuple[float, float] | None = None
    # examples with no label (the tagger failed on them): wrong, and in no confusion column
    failed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """Human-readable report: headline numbers, per-label scores, confusion matrix."""
        interval = ""
        if self.macro_f1_interval:
            low, high = self.macro_f1_interval
            interval = f" (95% bootstrap interval {low:.3f}-{high:.3f})"
        lines = [
            f"examples: {self.n}   accuracy: {self.accuracy:.3f}   "
            f"macro-F1: {self.macro_f1:.3f}{interval}",
            *([f"not tagged (the tagger failed; counted wrong): {self.failed}"]
              if self.failed else []),
            "",
            f"{'label':<12}{'precision':>10}{'recall':>8}{'F1':>8}{'gold':>6}{'pred':>6}",
        ]
        for label in self.labels:
            s = self.per_label[label]
            lines.append(
                f"{label:<12}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>8.3f}"
                f"{s.support:>6}{s.predicted:>6}"
            )
        width = max(8, max(len(label) for label in self.labels) + 1)
        lines += ["", "confusion (rows: gold, columns: predicted)",
                  " " * 12 + "".join(f"{label:>{width}}" for label in self.labels)]
        for gold in self.labels:
            lines.append(
                f"{gold:<12}" + "".join(f"{self.confusion[gold][p]:>{width}}" for p in self.labels)
            )
        return "\n".join(lines)


def compute_metrics(
    gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]
) -> Metrics:
    """Accuracy, macro-F1 over ``labels``, per-label precision/recall/F1, confusion matrix.

    A prediction of ``None`` (the tagger failed) counts as wrong for every
    label. F1 of a label with neither gold nor predicted examples is 0, and it
    still counts in the macro average (the label set is fixed up front, as in
    scikit-learn with ``labels=`` and ``zero_division=0``).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    labels = list(labels)
    confusion = {g: {p: 0 for p in labels} for g in labels}
    support_of = dict.fromkeys(labels, 0)
    failed = 0
    for g, p in zip(gold, predicted):
        if g not in confusion:
            raise ValueError(f"gold label {g!r} is not one of {labels}")
        support_of[g] += 1
        if p in confusion[g]:
            confusion[g][p] += 1
        else:
            failed += 1
    per_label = {}
    for label in labels:
        tp = confusion[label][label]
        support = support_of[label]  # every gold example, tagged or not
        n_predicted = sum(1 for p in predicted if p == label)
        precision = tp / n_predicted if n_predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = LabelScores(precision, recall, f1, support, n_predicted)
    n = len(gold)
    correct = sum(1 for g, p in zip(gold, predicted) if g == p)
    return Metrics(
        labels=labels,
        n=n,
        accuracy=correct / n if n else 0.0,
        macro_f1=sum(s.f1 for s in per_label.values()) / len(labels) if labels else 0.0,
        per_label=per_label,
        confusion=confusion,
        failed=failed,
    )


def bootstrap_interval(gold: Sequence[str], predicted: Sequence[str | None],
                       labels: Sequence[str], rounds: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1: the examples are resampled with
    replacement ``rounds`` times (fixed seed, so the interval is repeatable)."""
    rng = random.Random(seed)
    n = len(gold)
    scores = []
    for _ in range(rounds):
        sample = [rng.randrange(n) for _ in range(n)]
        scores.append(compute_metrics([gold[i] for i in sample], [predicted[i] for i in sample],
                                      labels).macro_f1)
    scores.sort()
    tail = (1 - level) / 2
    return scores[int(tail * rounds)], scores[min(rounds - 1, int((1 - tail) * rounds))]


def read_labelled_file(path: str | Path, labels: Sequence[str]) -> list[LabelledText]:
    """Read a JSONL file of ``{"text", "label", "title"?}``; bad lines are errors naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read {path}: {exc}") from exc
    examples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise EvalFileError(f"{path}:{number}: expected a JSON object")
        text, label, title = row.get("text"), row.get("label"), row.get("title")
        if not isinstance(text, str) or not text.strip():
            raise EvalFileError(f"{path}:{number}: \"text\" must be a non-empty string")
        if label not in labels:
            raise EvalFileError(
                f"{path}:{number}: \"label\" must be one of {', '.join(labels)}, got {label!r}"
            )
        if title is not None and not isinstance(title, str):
            raise EvalFileError(f"{path}:{number}: \"title\" must be a string")
        item_id = row.get("id")
        examples.append(LabelledText(text=text, label=label, title=title,
                                     id=str(item_id) if item_id is not None else f"line {number}"))
    if not examples:
        raise EvalFileError(f"{path}: no examples")
    return examples


def from_corrections(rows: list[dict], labels: Sequence[str]) -> list[LabelledText]:
    """Analysts' corrections (``article_id``, ``label``, ``title``, ``text``) as labelled
    texts; corrections to a label the tagger does not give are left out."""
    examples = [LabelledText(text=row["text"], label=row["label"], title=row["title"],
                             id=row["article_id"])
                for row in rows if row["label"] in labels and (row["text"] or "").strip()]
    if not examples:
        raise EvalFileError("no stance corrections to score against: correct a tag on an "
                            "article page first")
    return examples


@dataclass
class Evaluation:
    metrics: Metrics
    examples: list[LabelledText]
    tags: list  # the tagger's StanceTag per example

    def errors(self) -> list[dict]:
        """Each misclassified example with what the tagger saw: scores and evidence."""
        return [
            {"id": example.id, "title": example.title, "label": example.label,
             "predicted": tag.label, "confidence": tag.confidence, "relevance": tag.relevance,
             "scores": tag.scores, "evidence": tag.evidence, "error": tag.error}
            for example, tag in zip(self.examples, self.tags) if tag.label != example.label
        ]


def evaluate_examples(examples: list[LabelledText], tagger_config) -> Evaluation:
    """Tag every example with the configured tagger and score it (with a bootstrap interval)."""
    from tracker.analysis.stance import UNRELATED, get_tagger

    labels = [*tagger_config.labels, UNRELATED]
    tags = get_tagger(tagger_config).tag_texts([(e.title, e.text) for e in examples])
    gold, predicted = [e.label for e in examples], [t.label for t in tags]
    metrics = compute_metrics(gold, predicted, labels)
    metrics.macro_f1_interval = bootstrap_interval(gold, predicted, labels)
    return Evaluation(metrics, examples, tags)


def evaluate_file(path: str | Path, tagger_config) -> Evaluation:
    """Tag every example of a labelled file with the configured tagger and score it."""
    from tracker.analysis.stance import UNRELATED

    examples = read_labelled_file(path, [*tagger_config.labels, UNRELATED])
    return evaluate_examples(examples, tagger_config)

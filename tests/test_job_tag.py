"""The tag job (jobs/tag.py) and ``tracker tag``, on a tiny model: incremental, shared
work for identical texts, failures recorded, tags visible in Datasette."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jobs.runner import run_job
from jobs.tag import run_tag
from tracker.cli import cli
from tracker.domain import Article
from tracker.publish import build_datasette
from tracker.store.articles import save_articles
from tracker.testing import SEEDS, datasette_json

LABELS = ["favor", "against", "neutral", "unrelated"]
OFF_TOPIC = (
    "The football club announced the signing of a young striker from Portugal on a "
    "five-year contract, and the manager said he would play on Saturday."
)

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
    error = next(db.query("select * from errors where input = 'empty'"))
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


@pytest.mark.parametrize("damage", ["truncated weights", "config not JSON"])
def test_a_damaged_model_is_a_one_line_error_and_a_recorded_run(damage, db_path, tmp_path,
                                                                tiny_nli):
    import shutil

    model = tmp_path / "damaged"
    shutil.copytree(tiny_nli, model)
    if damage == "truncated weights":
        [weights] = model.glob("*.safetensors")
        weights.write_bytes(weights.read_bytes()[:1000])
    else:
        (model / "config.json").write_text("{not json")
    conf = tmp_path / "tracker.toml"
    conf.write_text(f'[tagger]\nmodel = "{model}"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SEEDS), "--db", str(db_path)]).exit_code == 0
    result = runner.invoke(cli, ["tag", "--db", str(db_path), "--config", str(conf)])
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    reason = {"truncated weights": "SafetensorError: ", "config not JSON": "not a valid JSON"}
    assert line.startswith(f"Error: cannot load NLI model '{model}': "), line
    assert reason[damage] in line
    # The published run names the folder, not the machine's path to it.
    status = json.loads(runner.invoke(cli, ["status", "--json", "--db", str(db_path)]).output)
    tag_run = next(r for r in status["last_runs"] if r["job"] == "tag")
    assert tag_run["status"] == "error"
    assert tag_run["error"].startswith("cannot load NLI model '…/") and reason[damage] in tag_run["error"]
    assert str(tmp_path) not in tag_run["error"]


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


def test_articles_in_other_languages_are_marked_not_guessed(db, tiny_config):
    russian = ("Россия и США договорились о сотрудничестве в Арктике. Министры обсудили "
               "совместные проекты на Северном морском пути и поиск и спасение на море.")
    english = ("US and Russian officials agreed to cooperate in the Arctic and discussed "
               "shipping on the Northern Sea Route.")
    articles = [Article(id="ru", title="Россия и США: Арктика", text=russian, kind="file"),
                Article(id="en", title="Arctic talks", text=english, kind="file")]
    save_articles(db, [a.detect_language() for a in articles])
    assert {r["id"]: r["language"] for r in db["articles"].rows} == {"ru": "ru", "en": "en"}
    summary = run_job(db, tiny_config, "tag")
    assert summary.unsupported == 1 and summary.labels["unsupported_language"] == 1
    tag = db["stance_tags"].get("ru")
    assert tag["label"] == "unsupported_language" and tag["confidence"] is None
    assert tag["evidence"] == "Not read: written in ru (detected); the tagger reads en."
    assert db["articles"].get("ru")["stance"] == "unsupported_language"
    assert db["stance_tags"].get("en")["label"] != "unsupported_language"
    status = CliRunner().invoke(cli, ["status", "--db", tiny_config.db_path]).output
    assert "unsupported_language: 1" in status
    # Reading every language is a configuration change: the article is tagged.
    tiny_config.tagger.languages = []
    run_job(db, tiny_config, "tag")
    assert db["stance_tags"].get("ru")["label"] != "unsupported_language"

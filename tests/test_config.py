"""tracker.config and tracker.topics: lookup order, defaults from the topic file, and a
one-line error naming the key for every bad value."""

from __future__ import annotations

import dataclasses
import re

import pytest

from jobs.runner import job_schedules
from tracker.config import Config, ConfigError, TaggerConfig, config_from_dict, load_config
from tracker.testing import ROOT
from tracker.topics import load_topic


def test_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    monkeypatch.delenv("TRACKER_DB", raising=False)
    config = load_config()
    assert config.db_path == "db/tracker.db"
    assert config.ingest_paths == ["seeds"]
    assert set(config.tagger.labels) == {"favor", "against", "neutral"}
    assert config.source_file is None


def test_example_file_loads_and_db_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = ROOT / "tracker.example.toml"
    config = load_config(str(example))
    assert config.source_file == str(example)
    assert config.feeds and config.feeds[0].url.startswith("http")
    monkeypatch.setenv("TRACKER_DB", "from-env.db")
    assert load_config(str(example)).db_path == "from-env.db"
    assert load_config(str(example), "from-flag.db").db_path == "from-flag.db"


def test_tracker_toml_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    (tmp_path / "tracker.toml").write_text('[ingest]\npaths = ["articles"]\n')
    assert load_config().ingest_paths == ["articles"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tagger]\nmodle = 'x'\n", "unknown key(s) in [tagger]: modle"),
        ("[nonsense]\n", "unknown section(s): nonsense"),
        ("[fetch]\nread_timeout = 'soon'\n", "read_timeout must be a number"),
        ("[schedule.tag]\ncron = '* * * * *'\ninterval_minutes = 5\n", "exactly one of"),
        ("this is = not toml [", "not valid TOML"),
        ("[tagger]\nengine = 'magic'\n", "engine must be one of 'hybrid', 'nli', 'embedding'"),
        ("[tagger]\nmax_passage_tokens = 4000\n", "max_passage_tokens must be from 16 to 400"),
        ("[calibration.label_bias]\npro = 0.1\n", "label_bias names unknown label(s): pro"),
        ("[tagger]\nlabels = {favor = ['x']}\n", "unknown key(s) in [tagger]: labels"),
        ("[topic]\nfile = 'nosuch'\n", "no built-in topic 'nosuch'"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(str(path))
    assert "\n" not in str(info.value)


def test_a_schedule_for_no_job_is_an_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[schedule.nojob]\ninterval_minutes = 5\n")
    with pytest.raises(ConfigError, match=re.escape("[schedule.nojob]: no such job")):
        job_schedules(load_config(str(path)))


def test_schedule_keys_are_laid_over_the_job_defaults(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[schedule.tag]\ncron = '5 * * * *'\n[schedule.events]\nenabled = false\n")
    schedules = job_schedules(load_config(str(path)))
    assert (schedules["tag"].cron, schedules["tag"].interval_minutes) == ("5 * * * *", None)
    assert not schedules["events"].enabled and schedules["events"].interval_minutes == 15
    assert schedules["ingest"].interval_minutes == 15


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.toml"))


def test_the_topic_file_is_the_one_source_of_the_defaults():
    topic = load_topic("arctic")
    tagger = TaggerConfig()
    assert tagger.labels == topic.tagger_values["labels"]
    assert tagger.relevance_threshold == topic.tagger_values["relevance_threshold"]
    assert Config().topic.name == topic.name
    example = (ROOT / "tracker.example.toml").read_text()
    # The example points to the topic file instead of repeating its sentences.
    assert topic.tagger_values["relevance_hypotheses"][0] not in example
    assert load_config(str(ROOT / "tracker.example.toml")).tagger == TaggerConfig()


def test_another_topic_is_another_file(tmp_path):
    text = (ROOT / "tracker" / "topics" / "arctic.toml").read_text()
    other = text.replace("US–Russia cooperation in the Arctic", "Deep-sea mining rules")
    other = other.replace(
        '"This text is against cooperation between the United States and Russia in the Arctic.",',
        '"Mining must be stopped.",')
    (tmp_path / "mining.toml").write_text(other)
    (tmp_path / "tracker.toml").write_text('[topic]\nfile = "mining.toml"\n'
                                           '[calibration]\nrelevance_threshold = 0.3\n')
    config = load_config(str(tmp_path / "tracker.toml"))
    assert config.topic.name == "Deep-sea mining rules"
    assert "Mining must be stopped." in config.tagger.labels["against"]
    assert config.tagger.relevance_threshold == 0.3
    assert config.tagger_hash() != Config().tagger_hash()


def test_batch_size_and_threads_do_not_change_the_tagger_hash():
    base = Config()
    faster = Config(tagger=dataclasses.replace(TaggerConfig(), batch_size=8, threads=1))
    assert base.tagger_hash() == faster.tagger_hash()
    other = Config(tagger=dataclasses.replace(TaggerConfig(), relevance_threshold=0.11))
    assert base.tagger_hash() != other.tagger_hash()


def test_a_bad_topic_file_names_the_key(tmp_path):
    (tmp_path / "t.toml").write_text('[topic]\nname = "x"\n[relevance]\nprototypes = "one"\n')
    with pytest.raises(ConfigError, match=re.escape("[relevance] prototypes must be a list")):
        config_from_dict({"topic": {"file": str(tmp_path / "t.toml")}})

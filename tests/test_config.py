import re
from pathlib import Path

import pytest

from tracker.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


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
        ("[schedule.nojob]\ninterval_minutes = 5\n", "no such job"),
        ("this is = not toml [", "not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(str(path))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(str(tmp_path / "nope.toml"))

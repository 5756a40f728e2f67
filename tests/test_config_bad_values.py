"""Sixty-odd bad configuration files: each is a one-line error naming the key, when the
file is loaded -- never a traceback, never silently accepted (the hardening issue)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tracker.cli import cli

BAD = [
    # [[feeds]]
    ('[[feeds]]\nurl = 5', "[feeds #1] url must be a string, got 5"),
    ('[[feeds]]\nname = "x"', "[feeds #1] needs url"),
    ('[[feeds]]\nurl = "https://a.org/f"\nfull_text = "yes"', "[feeds #1] full_text must be true or false, got 'yes'"),
    ('[[feeds]]\nurl = "https://a.org/f"\nenabled = "no"', "[feeds #1] enabled must be true or false, got 'no'"),
    ('[[feeds]]\nurl = "https://a.org/f"\nenabled = 0', "[feeds #1] enabled must be true or false, got 0"),
    ('[[feeds]]\nurl = "file:///etc/passwd"', "[feeds #1] url: only http and https URLs can be fetched"),
    ('[[feeds]]\nurl = "ftp://a.org/feed"', "[feeds #1] url: only http and https"),
    ('[[feeds]]\nurl = "https://user:pw@a.org/feed"', "[feeds #1] url: URLs with a user name or password are refused"),
    ('[[feeds]]\nurl = "http://127.0.0.1:8080/feed"', "[feeds #1] url: refused to connect to 127.0.0.1: loopback address"),
    ('[[feeds]]\nurl = "http://169.254.169.254/latest/"', "[feeds #1] url: refused to connect to 169.254.169.254: link-local"),
    ('[[feeds]]\nurl = "https://a.org/f"\nname = ""', "[feeds #1] name must not be empty"),
    ('[[feeds]]\nurl = "https://a.org/f"\ncolour = "red"', "unknown key(s) in [feeds #1]: colour"),
    ('feeds = "https://a.org/f"', "feeds must be an array of tables"),
    # [schedule]
    ('[schedule]\ningest = 5', "[schedule.ingest] must be a table, got 5"),
    ('[schedule.ingest]\ninterval_minutes = "5"', "[schedule.ingest] interval_minutes must be a number, got '5'"),
    ('[schedule.ingest]\ninterval_minutes = -5', "[schedule.ingest] interval_minutes must be more than 0"),
    ('[schedule.ingest]\ninterval_minutes = 0', "[schedule.ingest] interval_minutes must be more than 0"),
    ('[schedule.ingest]\ncron = 5', "[schedule.ingest] cron must be a string, got 5"),
    ('[schedule.ingest]\ncron = "every day"', "[schedule.ingest] cron: 'every day' is not a crontab expression"),
    ('[schedule.ingest]\ntimeout_minutes = "x"', "[schedule.ingest] timeout_minutes must be a number, got 'x'"),
    ('[schedule.ingest]\ntimeout_minutes = -1', "[schedule.ingest] timeout_minutes must be more than 0"),
    ('[schedule.ingest]\nenabled = "no"', "[schedule.ingest] enabled must be true or false, got 'no'"),
    ('[schedule.ingest]\nevery = 5', "unknown key(s) in [schedule.ingest]: every"),
    ('[schedule]\ntimezone = 3', "[schedule] timezone must be a string, got 3"),
    ('[schedule]\ntimezone = "Mars/Base"', "[schedule] timezone: unknown time zone 'Mars/Base'"),
    ('[schedule.ingest]\ninterval_minutes = 5\ncron = "* * * * *"', "[schedule.ingest] needs exactly one of interval_minutes or cron"),
    # [server]
    ('[server]\nport = 70000', "[server] port must be from 1 to 65535, got 70000"),
    ('[server]\nport = 0', "[server] port must be from 1 to 65535, got 0"),
    ('[server]\nport = "8001"', "[server] port must be a whole number, got '8001'"),
    ('[server]\nport = 8001.5', "[server] port must be a whole number, got 8001.5"),
    ('[server]\nhost = ""', "[server] host must not be empty"),
    ('[server]\nmetadata = 5', "[server] metadata must be a string, got 5"),
    # [fetch]
    ('[fetch]\nmax_bytes = -1', "[fetch] max_bytes must be from 1024 to"),
    ('[fetch]\nmax_bytes = 10', "[fetch] max_bytes must be from 1024 to"),
    ('[fetch]\ntotal_timeout = -3', "[fetch] total_timeout must be more than 0"),
    ('[fetch]\nconnect_timeout = 0', "[fetch] connect_timeout must be more than 0"),
    ('[fetch]\nread_timeout = "soon"', "[fetch] read_timeout must be a number, got 'soon'"),
    ('[fetch]\nmax_redirects = -1', "[fetch] max_redirects must be from 0 to 20, got -1"),
    ('[fetch]\nmax_redirects = 2.5', "[fetch] max_redirects must be a whole number, got 2.5"),
    ('[fetch]\nmax_consecutive_failures = -2', "[fetch] max_consecutive_failures must be from 1 to 1000"),
    ('[fetch]\nbackoff_base_minutes = -5', "[fetch] backoff_base_minutes must be more than 0"),
    ('[fetch]\nbackoff_max_minutes = 0', "[fetch] backoff_max_minutes must be more than 0"),
    ('[fetch]\ninterval_minutes = -60', "[fetch] interval_minutes must be more than 0"),
    ('[fetch]\nconcurrency = 0', "[fetch] concurrency must be from 1 to 64, got 0"),
    ('[fetch]\nconditional_get = "yes"', "[fetch] conditional_get must be true or false, got 'yes'"),
    ('[fetch]\nallow_private_addresses = 1', "[fetch] allow_private_addresses must be true or false, got 1"),
    ('[fetch]\nallowed_networks = ["10.0.0.0/33"]', "[fetch] allowed_networks: "),
    ('[fetch]\nuser_agent = ""', "[fetch] user_agent must not be empty"),
    ('[fetch]\nfull_text_max_pages = -1', "[fetch] full_text_max_pages must be from 0 to 1000"),
    # [housekeeping]
    ('[housekeeping]\nkeep_fetches_days = -1', "[housekeeping] keep_fetches_days must be from 0 to 36500, got -1"),
    ('[housekeeping]\nkeep_job_runs_days = -30', "[housekeeping] keep_job_runs_days must be from 0 to 36500"),
    ('[housekeeping]\nkeep_job_runs_days = "90"', "[housekeeping] keep_job_runs_days must be a number"),
    # [events]
    ('[events]\nsimilarity_threshold = 1.5', "[events] similarity_threshold must be more than 0 to 1"),
    ('[events]\nsimilarity_threshold = 0', "[events] similarity_threshold must be more than 0 to 1"),
    ('[events]\nwindow_days = -1', "[events] window_days must be from 0 to 365"),
    ('[events]\nlead_words = 0', "[events] lead_words must be from 1 to 500"),
    # [tagger], [calibration], [topic]
    ('[tagger]\nbatch_size = 0', "[tagger] batch_size must be from 1 to 1024, got 0"),
    ('[tagger]\nthreads = -1', "[tagger] threads must be from 0 to 256, got -1"),
    ('[tagger]\nquantize = "false"', "[tagger] quantize must be true or false, got 'false'"),
    ('[tagger]\nengine = "magic"', "[tagger] engine must be one of 'hybrid', 'nli', 'embedding'"),
    ('[tagger]\nstance_passages = 0', "[tagger] stance_passages must be from 1 to 50"),
    ('[calibration]\nrelevance_threshold = -5', "[calibration] relevance_threshold must be from -1 to 2, got -5"),
    ('[calibration]\nrelevance_threshold = "high"', "[calibration] relevance_threshold must be a number"),
    ('[calibration.label_bias]\nfavor = "up"', "[calibration] label_bias favor must be a number"),
    ('[calibration]\nlabel_bias = 1', "[calibration] label_bias must be a table of numbers"),
    ('[topic]\nfile = 7', "[topic] file must be a string, got 7"),
    ('[topic]\nname = "x"', "unknown key(s) in [topic]: name"),
    # [database], [ingest], the file itself
    ('[database]\npath = 5', "[database] path must be a string, got 5"),
    ('[ingest]\npaths = "seeds"', "[ingest] paths must be a list of non-empty strings"),
    ('[ingest]\npaths = [1, 2]', "[ingest] paths must be a list of non-empty strings"),
    ('[fetch]\nmax_bytes = nan', "[fetch] max_bytes must be a whole number, got nan"),
    ('[fetch]\ntotal_timeout = inf', "[fetch] total_timeout must be a finite number, got inf"),
    ('[fetch]\nmax_bytes = 1e400', "[fetch] max_bytes must be a whole number"),
    ('tagger = 5', "[tagger] must be a table, got 5"),
    ('[fetch\nmax_bytes = 1', "is not valid TOML"),
]


@pytest.mark.parametrize("text, message", [b for b in BAD if b[1]],
                         ids=[b[1][:50] for b in BAD if b[1]])
def test_a_bad_value_is_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", "--config", str(path),
                                      "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {message}") or (
        message in result.output), result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "t.db").exists()  # nothing ran


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"[fetch]\nuser_agent = \"\xff\"\n")
    result = CliRunner().invoke(cli, ["status", "--config", str(path)])
    assert result.exit_code == 1 and result.output.startswith("Error: cannot read config file")
    assert result.output.count("\n") == 1


def test_serve_with_a_missing_metadata_file_is_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nmetadata = "no/such/metadata.yml"\n')
    result = CliRunner().invoke(cli, ["serve", "--config", str(path),
                                      "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot load Datasette metadata no/such/metadata.yml")
    assert result.output.count("\n") == 1


def test_there_are_sixty_of_them():
    assert len(BAD) >= 60

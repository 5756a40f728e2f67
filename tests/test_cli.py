import json

import click
import pytest
from click.testing import CliRunner

from tracker.cli import cli

from tracker.testing import ROOT, SEEDS


def invoke(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_init_ingest_status(db_path):
    assert invoke("init", "--db", str(db_path)).exit_code == 0
    result = invoke("ingest", str(SEEDS), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    assert "5 new" in result.output
    again = invoke("ingest", str(SEEDS), "--db", str(db_path))
    assert "0 new, 0 updated, 5 unchanged" in again.output
    status = invoke("status", "--json", "--db", str(db_path))
    report = json.loads(status.output)
    assert report["counts"]["articles"] == 5
    assert [r["job"] for r in report["last_runs"]] == ["ingest"]
    text = invoke("status", "--db", str(db_path)).output
    assert "articles: 5" in text and "ingest" in text


def test_db_from_environment(db_path, monkeypatch):
    monkeypatch.setenv("TRACKER_DB", str(db_path))
    assert invoke("ingest", str(SEEDS)).exit_code == 0
    assert db_path.exists()


def test_nothing_to_ingest_exits_non_zero(db_path, tmp_path):
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "missing"), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "Error: nothing could be ingested" in result.output
    assert "Traceback" not in result.output


def test_bad_config_is_one_line_error(db_path, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[tagger]\nmodle = 1\n")
    result = CliRunner().invoke(cli, ["status", "--config", str(bad), "--db", str(db_path)])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown key(s) in [tagger]: modle"


def test_not_a_database_is_one_line_error(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    result = CliRunner().invoke(cli, ["status", "--db", str(junk)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot open database")


def test_a_database_from_a_newer_tracker_is_refused_untouched(db_path):
    """A schema migration this version does not know: every command refuses the file,
    before writing anything to it."""
    import hashlib
    import sqlite3

    assert invoke("ingest", str(SEEDS), "--db", str(db_path)).exit_code == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("insert into _sqlite_migrations (migration_set, name, applied_at) "
                     "values ('tracker', '9999_from_the_future', '2030-01-01')")
    conn.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    for command in (["status"], ["ingest", str(SEEDS)], ["init"]):
        result = CliRunner().invoke(cli, [*command, "--db", str(db_path)])
        assert result.exit_code == 1, command
        assert result.output == (
            f"Error: cannot open database {db_path}: written by a newer version of the tracker "
            "(schema 9999_from_the_future); install that version or newer to use it\n")
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_a_write_the_disk_refuses_is_one_line_and_loses_nothing(tmp_path, tiny_nli):
    """A real refused write, as on a full disk: ``tracker tag`` runs under a 40 kB
    file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ, so the write fails),
    which the database's write-ahead log outgrows while the tags are stored."""
    import re
    import resource
    import sqlite3
    import subprocess
    import sys

    db, config = tmp_path / "t.db", tmp_path / "tiny.toml"
    config.write_text(f"[tagger]\nmodel = {json.dumps(tiny_nli)}\n")

    def tracker(*args, limit=None):
        def limited():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [sys.executable, "-m", "tracker", *args, "--db", str(db), "--config", str(config)],
            capture_output=True, text=True, timeout=300, preexec_fn=limited if limit else None)

    assert tracker("ingest", str(SEEDS)).returncode == 0
    refused = tracker("tag", limit=40_000)
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert re.fullmatch(r"Error: database error: OperationalError: "
                        r"(disk I/O error|database or disk is full)", line), refused.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        assert conn.execute("select count(*) from articles").fetchone() == (5,)
        assert conn.execute("select count(*) from stance_tags").fetchone() == (0,)
        run = conn.execute("select status, error from job_runs where job = 'tag'").fetchall()
        assert run == [("error", line.removeprefix("Error: database error: "))]
    conn.close()
    # With room again, the same command does the whole work.
    done = tracker("tag")
    assert done.returncode == 0, done.stderr
    assert "5 tagged" in done.stdout


@pytest.mark.parametrize("args", [
    ("calibrate", "{labels}", "--write", "{missing}/c.toml"),
    ("eval", "{labels}", "--errors", "{missing}/e.jsonl"),
    ("feeds", "export", "{missing}/feeds.opml"),
])
def test_an_output_file_in_a_missing_folder_is_refused_before_any_work(args, db_path, tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"text": "Joint Arctic research.", "label": "favor"}) + "\n")
    missing = tmp_path / "missing"
    argv = [a.format(labels=labels, missing=missing) for a in args]
    result = CliRunner().invoke(cli, [*argv, "--db", str(db_path)])
    assert result.exit_code == 2
    assert f"folder {str(missing)!r} does not exist" in result.output
    assert not db_path.exists()  # nothing was started: not even the database opened


def test_a_bug_is_one_line_unless_tracker_debug_is_set(db_path, monkeypatch):
    """Any other failure -- here a job in the registry that divides by zero -- is one
    line naming it a bug, and the run is recorded; TRACKER_DEBUG=1 lets it through."""
    from jobs import runner

    def broken(db, config, **kwargs):
        return 1 / 0

    monkeypatch.setitem(runner.JOBS, "events", runner.Job(broken, runner.JOBS["events"].schedule))
    result = CliRunner().invoke(cli, ["events", "--db", str(db_path)])
    assert result.exit_code == 1
    assert result.output == ("Error: unexpected error (a bug; TRACKER_DEBUG=1 shows the "
                             "traceback): ZeroDivisionError: division by zero\n")
    status = json.loads(invoke("status", "--json", "--db", str(db_path)).output)
    [run] = status["last_runs"]
    assert (run["job"], run["status"]) == ("events", "error")

    monkeypatch.setenv("TRACKER_DEBUG", "1")
    debug = CliRunner().invoke(cli, ["events", "--db", str(db_path)])
    assert isinstance(debug.exception, ZeroDivisionError)


def all_commands(group=cli, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))
        else:
            yield prefix + (name,), command


@pytest.mark.parametrize("path, command", list(all_commands()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path, command):
    result = invoke(*path, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output, f"tracker {' '.join(path)} --help has no example"


def test_every_command_and_option_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for path, command in all_commands():
        assert f"tracker {' '.join(path)}" in readme, f"README does not mention tracker {' '.join(path)}"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in readme, f"README does not mention {opt} of tracker {' '.join(path)}"


def test_help_status_and_text_ingest_load_neither_torch_nor_trafilatura(tmp_path):
    """Commands import only what they use (a fresh interpreter, so nothing is cached)."""
    import subprocess
    import sys

    script = f"""
import sys
from click.testing import CliRunner
from tracker.cli import cli
runner = CliRunner()
for args in (["--help"], ["status", "--db", {str(tmp_path / 't.db')!r}],
             ["ingest", {str(SEEDS)!r}, "--db", {str(tmp_path / 't.db')!r}]):
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
heavy = sorted(m for m in ("torch", "transformers", "trafilatura", "datasette") if m in sys.modules)
print(",".join(heavy) or "none")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"

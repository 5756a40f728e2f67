import shutil
from pathlib import Path

from jobs.ingest import run_ingest
from jobs.runner import run_job

from tracker.testing import SEEDS


def snapshot(db):
    return [dict(r) for r in db.query("select * from articles order by id")]


def test_ingest_is_idempotent(db, config):
    first = run_ingest(db, config)
    assert (first.new, first.failed) == (5, 0)
    before = snapshot(db)
    second = run_ingest(db, config)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 5)
    assert snapshot(db) == before
    assert db["sources"].count == 1


def test_changed_file_updates_its_article(db, config, tmp_path: Path):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    run_ingest(db, config, [str(folder)])
    target = next(folder.glob("001_*.txt"))
    target.write_text(target.read_text() + "\nA new closing paragraph about icebreakers.\n")
    result = run_ingest(db, config, [str(folder)])
    assert (result.new, result.updated, result.unchanged) == (0, 1, 4)
    row = next(db["articles"].rows_where("path = ?", [str(target.resolve())]))
    assert "icebreakers" in row["text"]
    assert db["articles"].count == 5


def test_bad_file_is_recorded_and_the_rest_ingest(db, config, tmp_path: Path):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    (folder / "broken.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "empty.txt").write_text("")
    summary = run_job(db, config, "ingest", paths=[str(folder)])
    assert (summary.new, summary.failed) == (5, 2)
    errors = {Path(r["input"]).name: r["reason"] for r in db["errors"].rows}
    assert "binary" in errors["broken.txt"]
    assert "no article text" in errors["empty.txt"]
    run = next(db.query("select * from job_runs order by id desc limit 1"))
    assert run["status"] == "partial" and run["job"] == "ingest"
    # Fixing the file resolves its error.
    (folder / "empty.txt").write_text("Arctic news headline here now\n\nSome body text.")
    run_ingest(db, config, [str(folder)])
    open_inputs = [Path(r["input"]).name for r in db.query("select input from open_errors")]
    assert open_inputs == ["broken.txt"]


def test_fts_finds_dmitriev(db, config):
    run_ingest(db, config)
    # Four of the five copies name Kirill Dmitriev; 003 does not.
    found = {Path(r["path"]).name[:3] for r in db["articles"].search("Dmitriev")}
    assert found == {"000", "001", "002", "004"}
    assert not list(db["articles"].search("zebra"))

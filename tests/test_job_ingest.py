import os
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


# -- odd folders: every entry ingested or recorded, never a traceback or a stuck job ----


# The five seeds, the non-UTF-8 name and the deep file; root also reads the locked folder.
READABLE = 8 if os.geteuid() == 0 else 7


def remove_deep(folder: Path) -> None:
    """Delete the 1,200-level tree bottom-up without recursion (shutil.rmtree, and so
    pytest's own clean-up of old temporary folders, would hit the recursion limit)."""
    levels = [folder / "d"]
    while (levels[-1] / "d").is_dir():
        levels.append(levels[-1] / "d")
    for level in reversed(levels):
        for child in level.iterdir():
            if not child.is_dir():
                child.unlink()
        level.rmdir()


def hostile_folder(tmp_path: Path) -> Path:
    """Seeds plus every kind of entry the hardening issue found trouble with."""
    folder = tmp_path / "odd"
    shutil.copytree(SEEDS, folder)
    raw = os.fsencode(folder)
    # A name that is not UTF-8, sorted before the seeds: it used to stop everything after it.
    with open(raw + b"/0\xff\xfe-latin.txt", "wb") as handle:
        handle.write("Arctic caf\xe9 headline here now\n\nUS and Russian officials met.".encode("cp1252"))
    (folder / "dangling.txt").symlink_to(folder / "no-such-target.txt")
    (folder / "self.txt").symlink_to(folder / "self.txt")  # a file link loop
    (folder / "loop").mkdir()
    (folder / "loop" / "back").symlink_to(folder)  # a folder link loop
    os.mkfifo(folder / "pipe.txt")
    locked = folder / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("Hidden headline about the Arctic\n\nBody.")
    locked.chmod(0)
    deep = folder
    for _ in range(1200):  # deeper than Python's recursion limit
        deep = deep / "d"
        deep.mkdir()
    (deep / "deep.txt").write_text("A deep headline about the Arctic\n\nAnd its body text here.")
    return folder


def test_odd_entries_are_recorded_and_the_files_after_them_still_ingest(db, config, tmp_path):
    folder = hostile_folder(tmp_path)
    try:
        summary = run_job(db, config, "ingest", paths=[str(folder)])
        titles = {r["title"] for r in db.query("select title from articles")}
        assert "Arctic café headline here now" in titles  # the non-UTF-8 name, read
        assert "A deep headline about the Arctic" in titles  # 1,200 levels down
        assert summary.new == READABLE
        reasons = {r["input"].rsplit("/", 1)[-1]: r["reason"] for r in db["errors"].rows}
        assert reasons["dangling.txt"] == "dangling symbolic link (its target does not exist)"
        assert reasons["self.txt"] == "symbolic link loop"
        assert reasons["back"].startswith("symbolic link loop")
        assert reasons["pipe.txt"] == "not a regular file: a named pipe"
        if os.geteuid() != 0:  # root reads any folder
            assert reasons["locked"].startswith("cannot read the folder: Permission denied")
        assert any(r["path"] and "\\xff\\xfe" in r["path"] for r in db["articles"].rows)
        run = next(db.query("select status, error from job_runs order by id desc limit 1"))
        assert run["status"] == "partial" and run["error"] is None
        # Again: nothing new, and the same problems are the same rows (not one per run).
        errors_before = db["errors"].count
        again = run_job(db, config, "ingest", paths=[str(folder)])
        assert again.new == 0 and db["errors"].count == errors_before
        assert {r["occurrences"] for r in db["errors"].rows} == {2}
    finally:
        (folder / "locked").chmod(0o755)
        remove_deep(folder)


def test_cli_ingest_of_an_odd_folder_is_not_a_traceback(db_path, tmp_path):
    from click.testing import CliRunner

    from tracker.cli import cli

    folder = hostile_folder(tmp_path)
    try:
        result = CliRunner().invoke(cli, ["ingest", str(folder), "--db", str(db_path)])
        assert result.exit_code == 0 and "Traceback" not in result.output
        assert f"{READABLE} new" in result.output
    finally:
        (folder / "locked").chmod(0o755)
        remove_deep(folder)


# -- identity of text files: moved, copied, edited ------------------------------------


def test_a_copied_or_moved_folder_is_the_same_articles(db, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SEEDS, tmp_path / "seeds")
    first = run_ingest(db, config, ["seeds"])
    assert first.new == 5
    paths = {r["path"] for r in db["articles"].rows}
    assert all(p.startswith("seeds/") for p in paths)  # as given, not absolute
    # The checkout moves elsewhere: same relative paths, nothing new.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(tmp_path / "seeds"), moved / "seeds")
    monkeypatch.chdir(moved)
    assert run_ingest(db, config, ["seeds"]).new == 0
    # A copy under another name, and a byte-identical copy of one file: the same articles.
    shutil.copytree(moved / "seeds", moved / "copy")
    seed = next((moved / "seeds").glob("000_*.txt"))
    shutil.copy(seed, moved / "seeds" / "zzz-duplicate.txt")
    again = run_ingest(db, config, ["seeds", "copy"])
    assert again.new == 0 and db["articles"].count == 5
    assert {r["path"] for r in db["articles"].rows} == paths  # the first file's path stays


def test_an_edited_file_is_its_own_article_updated(db, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SEEDS, tmp_path / "seeds")
    run_ingest(db, config, ["seeds"])
    target = next((tmp_path / "seeds").glob("001_*.txt"))
    before = next(db["articles"].rows_where("path = ?", [f"seeds/{target.name}"]))
    target.write_text(target.read_text() + "\nA closing line about icebreakers.\n")
    result = run_ingest(db, config, ["seeds"])
    assert (result.new, result.updated) == (0, 1)
    after = db["articles"].get(before["id"])
    assert "icebreakers" in after["text"] and after["content_hash"] != before["content_hash"]
    # A new file with the old text is a new article, not the edited one.
    (tmp_path / "seeds" / "restored.txt").write_text(
        "\n".join(line for line in target.read_text().splitlines() if "icebreakers" not in line))
    assert run_ingest(db, config, ["seeds"]).new == 1 and db["articles"].count == 6


def test_a_database_of_absolute_paths_migrates_without_duplicates(db, config, tmp_path,
                                                                  monkeypatch):
    """Earlier versions keyed text files by their absolute path; the next ingest takes
    the new form over for the same files (no duplicates), and later edits still match."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SEEDS, tmp_path / "seeds")
    run_ingest(db, config, ["seeds"])
    for row in list(db["articles"].rows):  # what the old version stored
        db["articles"].update(row["id"], {"path": str((tmp_path / row["path"]).resolve())})
    db["sources"].update(1, {"location": str((tmp_path / "seeds").resolve())})
    result = run_ingest(db, config, ["seeds"])
    assert result.new == 0 and db["articles"].count == 5 and db["sources"].count == 1
    assert all(r["path"].startswith("seeds/") for r in db["articles"].rows)
    target = next((tmp_path / "seeds").glob("001_*.txt"))  # (002 ends in a Tags: list)
    target.write_text(target.read_text() + "\nOne more line about the Arctic.\n")
    assert run_ingest(db, config, ["seeds"]).updated == 1 and db["articles"].count == 5

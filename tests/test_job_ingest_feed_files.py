"""Saved RSS/Atom documents go through `tracker ingest`, never through a fetch."""

import shutil
from pathlib import Path

from click.testing import CliRunner

from jobs.ingest import run_ingest
from tracker.cli import cli

from tracker.testing import SEEDS
from tracker.testing.feedserver import rss

ENTRIES = [{"title": "Bering Strait drill", "link": "https://news.example.org/drill",
            "guid": "https://news.example.org/?p=9", "description": "<p>A joint drill.</p>",
            "pubDate": "Wed, 05 Feb 2025 08:00:00 GMT"}]


def test_a_folder_of_text_and_feed_files(db, config, tmp_path: Path):
    folder = tmp_path / "inbox"
    shutil.copytree(SEEDS, folder)
    (folder / "saved.rss").write_bytes(rss(ENTRIES, title="Saved Outlet"))
    (folder / "broken.xml").write_bytes(b"<html><body>not a feed</body></html>")
    summary = run_ingest(db, config, [str(folder)])
    assert (summary.files, summary.new, summary.failed) == (7, 6, 1)
    row = next(db.query("select * from articles where kind = 'feed'"))
    assert (row["title"], row["outlet"], row["published"]) == (
        "Bering Strait drill", "Saved Outlet", "2025-02-05T08:00:00Z")
    source = next(db.query("select * from sources where id = ?", [row["source_id"]]))
    # Named as found: the folder as given, then the path inside it.
    assert source["kind"] == "feed-file" and source["location"] == f"{folder}/saved.rss"
    errors = {r["input"].rsplit("/", 1)[-1]: r for r in db.query("select * from open_errors")}
    assert errors["broken.xml"]["stage"] == "parse" and "not a feed" in errors["broken.xml"]["reason"]
    # Local documents are never fetched by refresh, and re-ingesting changes nothing.
    assert not list(db.query("select * from feeds"))
    again = run_ingest(db, config, [str(folder)])
    assert (again.new, again.updated, again.failed) == (0, 0, 1)


def test_cli_ingest_of_one_feed_file(db_path, tmp_path: Path):
    saved = tmp_path / "feed.xml"
    saved.write_bytes(rss(ENTRIES))
    result = CliRunner().invoke(cli, ["ingest", str(saved), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "1 files: 1 new" in result.output

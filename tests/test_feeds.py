"""tracker feeds ... and tracker refresh, in-process with CliRunner."""

import json

import pytest
from click.testing import CliRunner

from tracker.cli import cli

from tracker.testing.feedserver import FeedServer, Route, rss

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Mine</title></head><body>
  <outline text="Arctic">
    <outline text="High North News" type="rss" xmlUrl="https://www.highnorthnews.com/en/rss.xml"/>
    <outline title="Arctic Today" type="rss" xmlURL="https://www.arctictoday.com/feed/"/>
  </outline>
  <outline text="Local file" type="rss" xmlUrl="file:///tmp/feed.xml"/>
  <outline text="A folder without feeds"/>
</body></opml>"""


def invoke(db_path, *args):
    return CliRunner().invoke(cli, [*args, "--db", str(db_path)])


@pytest.fixture
def fast_config(tmp_path):
    path = tmp_path / "tracker.toml"
    path.write_text("[fetch]\nconnect_timeout = 1.0\nread_timeout = 0.5\ntotal_timeout = 1.5\n"
                    "allow_private_addresses = true\n")
    return str(path)


def test_add_list_disable_enable(db_path):
    added = invoke(db_path, "feeds", "add", "https://www.arctictoday.com/feed/", "--name",
                   "Arctic Today", "--full-text")
    assert added.exit_code == 0 and "Added: #1" in added.output
    again = invoke(db_path, "feeds", "add", "https://www.arctictoday.com/feed/")
    assert "Already there: #1" in again.output
    listed = invoke(db_path, "feeds", "list")
    assert "#1    new" in listed.output and "Arctic Today" in listed.output
    disabled = invoke(db_path, "feeds", "disable", "1", "--reason", "paywalled")
    assert disabled.exit_code == 0
    assert "disabled: paywalled" in invoke(db_path, "feeds", "list").output
    [row] = json.loads(invoke(db_path, "feeds", "list", "--json").output)
    assert (row["health"], row["full_text"], row["disabled_reason"]) == ("disabled", 1, "paywalled")
    assert invoke(db_path, "feeds", "enable", "https://www.arctictoday.com/feed/").exit_code == 0
    [row] = json.loads(invoke(db_path, "feeds", "list", "--json").output)
    assert (row["health"], row["disabled_reason"]) == ("new", None)


def test_bad_input_is_a_one_line_error(db_path, tmp_path):
    for args in (["feeds", "add", "file:///etc/passwd"], ["feeds", "enable", "42"],
                 ["feeds", "import", str(tmp_path / "missing.opml")]):
        result = invoke(db_path, *args)
        assert result.exit_code == 1, args
        assert result.output.startswith("Error: ") and "Traceback" not in result.output
    not_opml = tmp_path / "not.opml"
    not_opml.write_text("<rss/>")
    assert "not OPML" in invoke(db_path, "feeds", "import", str(not_opml)).output


def test_opml_import_and_export_round_trip(db_path, tmp_path):
    source = tmp_path / "in.opml"
    source.write_text(OPML)
    result = invoke(db_path, "feeds", "import", str(source))
    assert result.exit_code == 0
    assert "2 added, 0 already there, 1 invalid" in result.output
    assert "skipped file:///tmp/feed.xml" in result.output
    again = invoke(db_path, "feeds", "import", str(source)).output
    assert "0 added, 2 already there, 1 invalid" in again
    exported = tmp_path / "out.opml"
    assert invoke(db_path, "feeds", "export", str(exported)).exit_code == 0
    other_db = tmp_path / "other.db"
    assert "2 added" in invoke(other_db, "feeds", "import", str(exported)).output
    rows = json.loads(invoke(other_db, "feeds", "list", "--json").output)
    assert {(r["name"], r["url"]) for r in rows} == {
        ("High North News", "https://www.highnorthnews.com/en/rss.xml"),
        ("Arctic Today", "https://www.arctictoday.com/feed/"),
    }
    stdout = invoke(db_path, "feeds", "export").output
    assert stdout.startswith("<?xml") and 'xmlUrl="https://www.arctictoday.com/feed/"' in stdout


def test_refresh_command(db_path, fast_config):
    with FeedServer() as server:
        server.routes["/feed"] = Route(rss([{"title": "One", "link": "https://a.org/1"}]))
        server.routes["/down"] = Route(b"", status=503)
        refused = invoke(db_path, "feeds", "add", server.url("/feed"))
        assert refused.exit_code == 1
        assert refused.output.startswith("Error: refused to connect to 127.0.0.1: loopback address")
        invoke(db_path, "feeds", "add", server.url("/feed"), "--config", fast_config)
        invoke(db_path, "feeds", "add", server.url("/down"), "--config", fast_config)
        result = invoke(db_path, "refresh", "--config", fast_config)
        assert result.exit_code == 0, result.output
        assert "2 feeds: 1 fetched, 0 not modified, 1 failed; entries: 1 new" in result.output
        assert f"failed: {server.url('/down')}: fetch: HTTP 503" in result.output
        assert "0 feeds" in invoke(db_path, "refresh", "--config", fast_config).output
        forced = invoke(db_path, "refresh", "--config", fast_config, "--feed", server.url("/feed"))
        assert "1 feeds: 0 fetched, 1 not modified" in forced.output
        assert "1 feeds" in invoke(db_path, "refresh", "--config", fast_config, "--force",
                                   "--feed", "1").output
        only_failing = invoke(db_path, "refresh", "--config", fast_config, "--feed",
                              server.url("/down"))
        assert only_failing.exit_code == 1
        assert "Error: no feed could be fetched" in only_failing.output
        unknown = invoke(db_path, "refresh", "--feed", "https://nowhere.example/feed")
        assert unknown.exit_code == 1 and "no feed" in unknown.output

"""Subscriptions (tracker/feeds.py): tracker feeds ... and tracker refresh, in-process
with CliRunner, against feeds on a loopback server."""

import json

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.testing import free_port
from tracker.testing.feedserver import Route, rss
from tracker_db import open_db

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
def fast(config):
    from tracker.testing.feedserver import fast_fetch_config

    config.fetch = fast_fetch_config()
    return config


@pytest.fixture
def fast_config(tmp_path):
    path = tmp_path / "tracker.toml"
    path.write_text("[fetch]\nconnect_timeout = 1.0\nread_timeout = 0.5\ntotal_timeout = 1.5\n"
                    "allow_private_addresses = true\n")
    return str(path)


def test_add_list_disable_enable(db_path):
    added = invoke(db_path, "feeds", "add", "https://www.arctictoday.com/feed/", "--name",
                   "Arctic Today", "--full-text", "--no-check")
    assert added.exit_code == 0 and "Added: #1" in added.output
    again = invoke(db_path, "feeds", "add", "https://www.arctictoday.com/feed/", "--no-check")
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


def test_refresh_command(db_path, fast_config, server):
    server.routes["/feed"] = Route(rss([{"title": "One", "link": "https://a.org/1"}]))
    server.routes["/down"] = Route(b"", status=503)
    refused = invoke(db_path, "feeds", "add", server.url("/feed"))
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: refused to connect to 127.0.0.1: loopback address")
    invoke(db_path, "feeds", "add", server.url("/feed"), "--config", fast_config)
    invoke(db_path, "feeds", "add", server.url("/down"), "--config", fast_config, "--no-check")
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


# -- adding checks first, removing says what happens, moves are followed -----------------


def test_add_fetches_once_and_refuses_what_is_not_a_feed(db_path, fast_config, server):
    page = ('<html><head><title>Polar Wire</title>'
            '<link rel="alternate" type="application/rss+xml" title="Polar Wire" href="/rss">'
            '</head><body>News</body></html>').encode()
    two = ('<html><head><link rel="alternate" type="application/rss+xml" href="/rss">'
           '<link rel="alternate" type="application/atom+xml" title="Comments" href="/atom">'
           '</head><body/></html>').encode()
    server.routes["/rss"] = Route(rss([{"title": "One"}], title="Polar Wire Feed"))
    server.routes["/atom"] = Route(rss([{"title": "Two"}]))
    server.routes["/missing"] = Route(b"gone", status=404)
    server.routes["/page"] = Route(b"<html><body>No feeds here</body></html>",
                                   content_type="text/html")
    server.routes["/site"] = Route(page, content_type="text/html; charset=utf-8")
    server.routes["/two"] = Route(two, content_type="text/html")
    server.routes["/json"] = Route(b'{"not": "a feed"}', content_type="application/json")

    def add(path, *more):
        return invoke(db_path, "feeds", "add", server.url(path), "--config", fast_config, *more)

    for path, reason in [("/missing", "cannot fetch"), ("/page", "links to no RSS or Atom feed"),
                         ("/json", "is not a feed")]:
        result = add(path)
        assert result.exit_code == 1 and result.output.startswith("Error: not added: "), path
        assert reason in result.output and result.output.count("\n") == 1, result.output
    dead = invoke(db_path, "feeds", "add", f"http://127.0.0.1:{free_port()}/rss", "--config",
                  fast_config)
    assert dead.exit_code == 1 and "cannot fetch" in dead.output
    several = add("/two")
    assert several.exit_code == 1 and "links to 2 feeds; add one of them" in several.output
    assert server.url("/rss") in several.output and server.url("/atom") in several.output
    found = add("/site")
    assert found.exit_code == 0 and f"Added: #1 {server.url('/rss')}" in found.output
    assert add("/rss").output.startswith("Already there: #1")
    offline = add("/missing", "--no-check")
    assert offline.exit_code == 0 and "Added: #2" in offline.output


def test_remove_keeps_or_deletes_the_articles_as_asked(db_path, fast_config, server):
    server.routes["/a"] = Route(rss([{"title": "Arctic A", "link": "https://a.org/1"}]))
    server.routes["/b"] = Route(rss([{"title": "Arctic B", "link": "https://b.org/1"}]))
    for path in ("/a", "/b"):
        invoke(db_path, "feeds", "add", server.url(path), "--config", fast_config)
    invoke(db_path, "refresh", "--config", fast_config)
    invoke(db_path, "events", "--config", fast_config)
    unsure = invoke(db_path, "feeds", "remove", "1")
    assert unsure.exit_code == 1 and "--keep-articles or --delete-articles" in unsure.output
    kept = invoke(db_path, "feeds", "remove", "1", "--keep-articles", "--config", fast_config)
    assert kept.exit_code == 0 and "its articles stay" in kept.output
    gone = invoke(db_path, "feeds", "remove", server.url("/b"), "--delete-articles",
                  "--config", fast_config)
    assert gone.exit_code == 0 and "its articles were deleted: 1" in gone.output
    db = open_db(db_path)
    [article] = list(db["articles"].rows)
    assert (article["title"], article["source_id"]) == ("Arctic A", None)
    assert db["sources"].count == 0 and db["fetches"].count == 0
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert [r["title"] for r in db["events"].rows] == ["Arctic A"]
    db.close()


def test_a_permanent_redirect_moves_the_feed_and_is_recorded(db, fast, server):
    from jobs.refresh import run_refresh
    from tracker.feeds import add_feed

    server.routes["/old"] = Route(status=301, headers={"Location": "/new"})
    server.routes["/temporary"] = Route(status=302, headers={"Location": "/new"})
    server.routes["/new"] = Route(rss([{"title": "Moved", "link": "https://m.org/1"}]))
    add_feed(db, server.url("/old"), fetch=fast.fetch)
    add_feed(db, server.url("/temporary"), fetch=fast.fetch)
    run_refresh(db, fast)
    urls = [r["location"] for r in db["sources"].rows_where(order_by="id")]
    assert urls == [server.url("/new"), server.url("/temporary")]  # a 302 moves nothing
    [move] = list(db["feed_moves"].rows)
    assert (move["old_url"], move["new_url"], move["status_code"]) == (
        server.url("/old"), server.url("/new"), 301)


def test_a_disabled_feed_has_no_next_fetch_and_no_open_errors(db_path, fast_config, server):
    server.routes["/down"] = Route(b"", status=500)
    invoke(db_path, "feeds", "add", server.url("/down"), "--config", fast_config, "--no-check")
    invoke(db_path, "refresh", "--config", fast_config)
    status = invoke(db_path, "status")
    assert "open errors: 1" in status.output
    invoke(db_path, "feeds", "disable", "1", "--config", fast_config)
    [row] = json.loads(invoke(db_path, "feeds", "list", "--json").output)
    assert row["next_fetch_at"] is None and row["health"] == "disabled"
    assert "next never (disabled)" in invoke(db_path, "feeds", "list").output
    assert "open errors: 0" in invoke(db_path, "status").output


def test_the_feed_name_is_the_outlet_and_authors_are_names(db, fast, server):
    from jobs.refresh import run_refresh
    from tracker.feeds import add_feed

    entries = [{"title": "Arctic deal", "link": "https://p.org/1", "guid": "urn:1",
                "author": "desk@polarwire.example (Anna Larsen)"},
               # The same article under other GUIDs: one article.
               {"title": "Arctic deal", "link": "https://p.org/1", "guid": "urn:2"},
               {"title": "Arctic deal (updated)", "link": "https://p.org/1?utm_source=rss",
                "guid": "urn:3"}]
    server.routes["/feed"] = Route(rss(entries, title="Polar Wire Test Feed"))
    add_feed(db, server.url("/feed"), name="Polar Wire", fetch=fast.fetch)
    summary = run_refresh(db, fast)
    assert (summary.new, summary.duplicates) == (1, 2)
    [article] = list(db["articles"].rows)
    assert (article["outlet"], article["author"]) == ("Polar Wire", "Anna Larsen")
    assert "@" not in str(article)
    assert db["author_emails"].get(article["id"])["email"] == "desk@polarwire.example"

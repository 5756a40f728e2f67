"""The refresh job end to end: a real HTTP server on 127.0.0.1, a real SQLite file."""

import datetime as dt
import os

import pytest

from jobs.refresh import run_refresh
from jobs.runner import run_job
from tracker.config import FeedConfig, FetchConfig
from tracker.feeds import add_feed, set_enabled
from tracker.store.feeds import get_feed
from tracker.timeutil import to_iso
from tracker.testing import datasette_json
from tracker.testing.feedserver import Route, fast_fetch_config, rss

ENTRIES = [
    {"title": "Northern Sea Route talks", "link": "https://news.example.org/nsr",
     "guid": "https://news.example.org/?p=1", "pubDate": "Mon, 03 Feb 2025 10:00:00 GMT",
     "description": "<p>US and Russian officials discussed Arctic shipping.</p>"},
    {"title": "Coast guard exercise", "link": "https://news.example.org/cg?utm_source=rss",
     "guid": "https://news.example.org/?p=2", "pubDate": "Tue, 04 Feb 2025 10:00:00 GMT",
     "description": "<p>A joint search-and-rescue drill in the Bering Strait.</p>"},
]
PAGE = ("<html><head><title>Page</title></head><body><nav>Home | World | Arctic</nav><article>"
        "<h1>Northern Sea Route talks</h1>"
        + "".join(f"<p>Paragraph {i}: the full report on the Arctic shipping talks between "
                  "American and Russian officials, with quotes and background.</p>"
                  for i in range(6))
        + "</article><footer>Copyright 2025</footer></body></html>").encode()


def add(db, url: str, **options):
    """Add a feed on the loopback test server (private addresses allowed, as in the config)."""
    return add_feed(db, url, fetch=FetchConfig(allow_private_addresses=True), **options)


@pytest.fixture
def fast(config):
    config.fetch = fast_fetch_config()
    return config


def articles(db):
    return [dict(r) for r in db.query("select * from articles order by id")]


def fetch_rows(db, url):
    return [dict(r) for r in db.query(
        "select f.* from fetches f join sources s on s.id = f.source_id "
        "where s.location = ? and f.kind = 'feed' order by f.id", [url])]


def test_first_fetch_stores_second_gets_304_and_changes_nothing(db, fast, server):
    server.routes["/feed"] = Route(rss(ENTRIES, title="High North Test"), etag='"v1"')
    add(db, server.url("/feed"))
    first = run_refresh(db, fast)
    assert (first.feeds, first.ok, first.new, first.failed) == (1, 1, 2, 0)
    stored = articles(db)
    assert {a["title"] for a in stored} == {"Northern Sea Route talks", "Coast guard exercise"}
    assert {a["outlet"] for a in stored} == {"High North Test"}
    assert {a["url"] for a in stored} == {"https://news.example.org/nsr",
                                          "https://news.example.org/cg"}
    feed = get_feed(db, server.url("/feed"))
    assert feed.etag == '"v1"' and feed.feed_title == "High North Test"

    second = run_refresh(db, fast, force=True)
    assert (second.not_modified, second.new, second.updated) == (1, 0, 0)
    assert articles(db) == stored
    assert server.last_request("/feed").headers["if-none-match"] == '"v1"'
    rows = fetch_rows(db, server.url("/feed"))
    assert [(r["outcome"], r["status_code"], r["new_entries"]) for r in rows] == [
        ("ok", 200, 2), ("not_modified", 304, 0)]
    assert rows[1]["bytes"] == 0


def test_changed_feed_adds_only_new_entries_and_updates_changed_ones(db, fast, server):
    server.routes["/feed"] = Route(rss(ENTRIES), etag='"v1"')
    add(db, server.url("/feed"))
    run_refresh(db, fast)
    before = {a["id"]: a for a in articles(db)}
    changed = [dict(ENTRIES[0], description="<p>Talks continued on Tuesday.</p>"), ENTRIES[1],
               {"title": "New entry", "link": "https://news.example.org/new",
                "guid": "https://news.example.org/?p=3", "description": "Fresh news."}]
    server.routes["/feed"] = Route(rss(changed), etag='"v2"')
    summary = run_refresh(db, fast, force=True)
    assert (summary.new, summary.updated, summary.unchanged) == (1, 1, 1)
    after = {a["id"]: a for a in articles(db)}
    assert len(after) == 3
    nsr = next(a for a in after.values() if a["title"] == "Northern Sea Route talks")
    assert nsr["text"] == "Talks continued on Tuesday."
    assert nsr["content_hash"] != before[nsr["id"]]["content_hash"]
    coast = next(a for a in after.values() if a["title"] == "Coast guard exercise")
    assert coast == before[coast["id"]]


def test_unchanged_body_without_validators_is_not_parsed_again(db, fast, server):
    server.routes["/feed"] = Route(rss(ENTRIES))  # no ETag, no Last-Modified
    add(db, server.url("/feed"))
    run_refresh(db, fast)
    again = run_refresh(db, fast, force=True)
    assert (again.not_modified, again.ok) == (1, 0)
    assert [r["outcome"] for r in fetch_rows(db, server.url("/feed"))] == ["ok", "unchanged"]


def test_each_failure_is_recorded_and_backed_off_while_other_feeds_ingest(db, fast, server):
    server.routes["/good"] = Route(rss(ENTRIES))
    server.routes["/500"] = Route(b"oops", status=500)
    server.routes["/timeout"] = Route(rss(ENTRIES), delay=5)
    server.routes["/drip"] = Route(rss(ENTRIES), drip=0.05)
    server.routes["/huge"] = Route(b"<rss>" + b"x" * 100_000 + b"</rss>")
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    server.routes["/garbage"] = Route(os.urandom(2000), content_type="application/octet-stream")
    server.routes["/html"] = Route(b"<html><body><p>Moved to our app</p></body></html>",
                                   content_type="text/html")
    expected = {
        "/500": "HTTP 500", "/timeout": "read_timeout", "/drip": "total_timeout",
        "/huge": "max_bytes", "/loop": "too many redirects", "/garbage": "not a feed",
        "/html": "not a feed",
    }
    for path in ["/good", *expected]:
        add(db, server.url(path))
    started = dt.datetime.now(dt.timezone.utc)
    summary = run_refresh(db, fast)
    assert (summary.feeds, summary.ok, summary.failed, summary.new) == (8, 1, 7, 2)
    assert len(articles(db)) == 2
    errors = {r["input"]: r for r in db.query("select * from open_errors")}
    for path, reason in expected.items():
        url = server.url(path)
        feed = get_feed(db, url)
        assert reason in feed.last_error, (path, feed.last_error)
        assert feed.consecutive_failures == 1 and feed.enabled
        # Backed off: base 5 minutes after the first failure.
        assert feed.next_fetch_at >= to_iso(started + dt.timedelta(minutes=5))
        [row] = fetch_rows(db, url)
        assert row["outcome"] == "error" and reason in row["error"]
        assert reason in errors[url]["reason"]
    assert get_feed(db, server.url("/good")).consecutive_failures == 0

    # Not due yet: a plain refresh fetches nothing.
    hits = len(server.requests)
    assert run_refresh(db, fast).feeds == 0 and len(server.requests) == hits


def test_backoff_grows_then_the_feed_is_disabled_with_the_reason(db, fast, server):
    server.routes["/500"] = Route(b"oops", status=500)
    add(db, server.url("/500"))
    delays = []
    for attempt in range(3):
        now = dt.datetime.now(dt.timezone.utc)
        summary = run_refresh(db, fast, force=True)
        feed = get_feed(db, server.url("/500"))
        if feed.next_fetch_at:
            delays.append(dt.datetime.fromisoformat(feed.next_fetch_at.replace("Z", "+00:00"))
                          - now)
    assert len(delays) == 2 and delays[0] < delays[1]
    assert summary.disabled == 1 and feed.next_fetch_at is None  # disabled: no next fetch
    # Disabled, it is no longer an open error; disabled_reason says why.
    assert db.execute("select count(*) from open_errors").fetchone()[0] == 0
    assert not feed.enabled and feed.consecutive_failures == 3
    assert feed.disabled_reason == ("disabled after 3 consecutive failures; "
                                    "last: fetch: HTTP 500 Internal Server Error")
    hits = server.hits("/500")
    assert run_refresh(db, fast, force=True).feeds == 0 and server.hits("/500") == hits
    # Enabling clears the failures and makes it due at once.
    server.routes["/500"] = Route(rss(ENTRIES))
    set_enabled(db, feed, True)
    assert run_refresh(db, fast).new == 2
    assert db.execute("select count(*) from open_errors").fetchone()[0] == 0


def test_gone_disables_at_once(db, fast, server):
    server.routes["/gone"] = Route(b"", status=410)
    add(db, server.url("/gone"))
    assert run_refresh(db, fast).disabled == 1
    feed = get_feed(db, server.url("/gone"))
    assert not feed.enabled and feed.consecutive_failures == 1
    assert feed.disabled_reason == "the server says the feed is gone: HTTP 410 Gone"


def test_cache_control_and_ttl_lengthen_the_interval(db, fast, server):
    server.routes["/cached"] = Route(rss(ENTRIES), headers={"Cache-Control": "max-age=7200"})
    server.routes["/ttl"] = Route(rss(ENTRIES).replace(b"<channel>", b"<channel><ttl>180</ttl>"))
    server.routes["/plain"] = Route(rss(ENTRIES))
    for path in ("/cached", "/ttl", "/plain"):
        add(db, server.url(path))
    fast.fetch.backoff_max_minutes = 24 * 60  # the cap on any wait
    now = dt.datetime.now(dt.timezone.utc)
    run_refresh(db, fast)
    waits = {path: dt.datetime.fromisoformat(
        get_feed(db, server.url(path)).next_fetch_at.replace("Z", "+00:00")) - now
        for path in ("/cached", "/ttl", "/plain")}
    minutes = {path: round(wait.total_seconds() / 60) for path, wait in waits.items()}
    assert minutes == {"/cached": 120, "/ttl": 180, "/plain": 60}


def test_retry_after_is_honoured(db, fast, server):
    server.routes["/busy"] = Route(b"", status=429, headers={"Retry-After": "3600"})
    add(db, server.url("/busy"))
    now = dt.datetime.now(dt.timezone.utc)
    run_refresh(db, fast)
    feed = get_feed(db, server.url("/busy"))
    assert feed.next_fetch_at >= to_iso(now + dt.timedelta(minutes=60))
    assert "HTTP 429" in feed.last_error


def test_same_entry_in_two_feeds_is_one_article(db, fast, server):
    server.routes["/a"] = Route(rss(ENTRIES, title="Outlet A"))
    # Feed B: the same first entry (same GUID), and the second with another GUID
    # but the same link once tracking parameters are dropped.
    other = [ENTRIES[0], dict(ENTRIES[1], guid="tag:b.example,2025:cg",
                              link="https://news.example.org/cg?utm_medium=feed&fbclid=1")]
    server.routes["/b"] = Route(rss(other, title="Outlet B"))
    add(db, server.url("/a"))
    run_refresh(db, fast)
    add(db, server.url("/b"))
    summary = run_refresh(db, fast)
    assert (summary.new, summary.duplicates) == (0, 2)
    stored = articles(db)
    assert len(stored) == 2 and {a["outlet"] for a in stored} == {"Outlet A"}
    # Refreshing both again changes nothing (no flip-flopping between feeds).
    server.routes["/a"] = Route(rss(ENTRIES, title="Outlet A") + b" ")
    server.routes["/b"] = Route(rss(other, title="Outlet B") + b" ")
    again = run_refresh(db, fast, force=True)
    assert (again.new, again.updated, again.duplicates) == (0, 0, 2)
    assert articles(db) == stored


def test_not_well_formed_feed_is_ingested_and_flagged(db, fast, server):
    body = rss([dict(ENTRIES[0], title="Fish & ships")]).replace(b"Fish &amp; ships",
                                                                 b"Fish & ships")
    server.routes["/bozo"] = Route(body)
    add(db, server.url("/bozo"))
    summary = run_refresh(db, fast)
    assert (summary.new, summary.bozo, summary.failed) == (1, 1, 0)
    [article] = articles(db)
    assert article["bozo"] == 1 and article["title"] == "Fish & ships"
    [row] = fetch_rows(db, server.url("/bozo"))
    assert row["bozo"] == 1 and "not well-formed" in row["error"] and row["outcome"] == "ok"


def test_http_charset_is_used(db, fast, server):
    title = "\u0421\u0435\u0432\u043c\u043e\u0440\u043f\u0443\u0442\u044c"
    body = rss([dict(ENTRIES[0], title=title)]).replace(b' encoding="utf-8"', b"")
    server.routes["/koi8"] = Route(body.decode().encode("koi8-r"),
                                   content_type="application/rss+xml; charset=koi8-r")
    add(db, server.url("/koi8"))
    run_refresh(db, fast)
    assert articles(db)[0]["title"] == title


def test_full_text_fetches_each_linked_page_once(db, fast, server):
    entries = [{"title": "Northern Sea Route talks", "link": server.url("/story"),
                "guid": "urn:story:1", "description": "Short teaser."},
               {"title": "Gone", "link": server.url("/gone"), "guid": "urn:story:2",
                "description": "Teaser two."}]
    server.routes["/feed"] = Route(rss(entries))
    server.routes["/story"] = Route(PAGE, content_type="text/html; charset=utf-8")
    server.routes["/gone"] = Route(b"", status=404)
    add(db, server.url("/feed"), full_text=True)
    summary = run_refresh(db, fast)
    assert (summary.new, summary.pages, summary.pages_failed) == (2, 2, 1)
    story = next(a for a in articles(db) if a["guid"] == "urn:story:1")
    assert "Paragraph 5: the full report" in story["text"] and "Home | World" not in story["text"]
    gone = next(a for a in articles(db) if a["guid"] == "urn:story:2")
    assert gone["text"] == "Teaser two."
    assert server.last_request("/story").headers["user-agent"] == "tracker-tests/1.0"
    # The feed changes: the extracted page is kept, not fetched again, not
    # replaced by the teaser; the failed page is retried.
    server.routes["/feed"] = Route(rss(entries + [{"title": "Third", "guid": "urn:story:3",
                                                   "description": "Three."}]))
    again = run_refresh(db, fast, force=True)
    assert (again.new, again.updated, again.unchanged) == (1, 0, 2)
    assert server.hits("/story") == 1 and server.hits("/gone") == 2
    assert next(a for a in articles(db) if a["guid"] == "urn:story:1")["text"] == story["text"]
    pages = db.execute("select count(*) from fetches where kind = 'page'").fetchone()[0]
    assert pages == 3


def test_internal_pages_linked_from_a_feed_are_not_fetched_or_published(db, fast, server):
    """The SSRF of the hardening issue: a full_text feed's entries link to internal
    addresses. By default the pages are refused (never requested), the teaser is kept,
    and the refusal is recorded; nothing from the internal server reaches ``articles``."""
    from jobs.refresh import RefreshSummary, store_result
    from tracker.sources.fetch import Fetcher, FetchResult
    from tracker.store.feeds import get_feed

    server.routes["/admin"] = Route(b"<html><body><p>internal secret</p></body></html>",
                                    content_type="text/html")
    entries = [{"title": "Arctic talks", "link": server.url("/admin"), "guid": "urn:ssrf:1",
                "description": "Teaser."}]
    add(db, "http://feeds.example.org/rss", full_text=True)
    feed = get_feed(db, 1)
    # The feed itself as fetched from a public server (its bytes; no request needed).
    fetched = FetchResult(url=feed.url, started_at="2026-01-01T00:00:00Z", outcome="ok",
                          status_code=200, content=rss(entries))
    fast.fetch.allow_private_addresses = False
    summary = RefreshSummary()
    with Fetcher(fast.fetch) as fetcher:
        outcome = store_result(db, fast, fetcher, feed, fetched, summary)
    assert outcome.outcome == "ok" and (summary.pages, summary.pages_failed) == (1, 1)
    assert server.hits("/admin") == 0
    [article] = articles(db)
    assert article["text"] == "Teaser." and "secret" not in article["text"]
    error = next(db.query("select stage, reason from errors where input = ?",
                          [server.url("/admin")]))
    assert error["stage"] == "fulltext" and error["reason"].startswith("refused to connect")


def test_a_redirect_to_an_internal_address_is_refused(db, fast, server):
    """Only the test server's own address is allowed: a redirect elsewhere inside the
    machine (here ::1) is refused at that hop, and nothing is stored."""
    server.routes["/feed"] = Route(status=302, headers={"Location": "http://[::1]:9/secret"})
    fast.fetch.allow_private_addresses = False
    fast.fetch.allowed_networks = ["127.0.0.1/32"]
    add(db, server.url("/feed"))
    summary = run_refresh(db, fast)
    assert summary.failed == 1 and server.hits("/feed") == 1
    assert summary.failures == [f"{server.url('/feed')}: fetch: redirected to a URL that may not "
                                "be fetched: refused to connect to ::1: loopback address; only "
                                "public addresses are fetched unless [fetch] "
                                "allow_private_addresses = true"]
    assert articles(db) == []
    # Allowed, the same hop is followed (and fails only because nothing listens there).
    fast.fetch.allowed_networks = ["127.0.0.1/32", "::1/128"]
    followed = run_refresh(db, fast, force=True)
    assert "refused to connect" not in followed.failures[0]


def test_a_failed_write_leaves_none_of_that_feeds_entries(db, fast, server):
    server.routes["/good"] = Route(rss(ENTRIES, title="Good"))
    poisoned = [dict(ENTRIES[0], guid="urn:p:1", link="https://p.org/1"),
                {"title": "poison", "guid": "urn:p:2", "description": "x"},
                dict(ENTRIES[1], guid="urn:p:3", link="https://p.org/3")]
    server.routes["/poisoned"] = Route(rss(poisoned, title="Poisoned"))
    # A failure in the middle of the feed's batch, after its first entry was written.
    db.execute("create trigger poison before insert on articles when new.title = 'poison' "
               "begin select raise(abort, 'disk full (simulated)'); end")
    add(db, server.url("/good"))
    add(db, server.url("/poisoned"))
    summary = run_refresh(db, fast)
    assert (summary.new, summary.failed) == (2, 1)
    assert {a["outlet"] for a in articles(db)} == {"Good"}
    feed = get_feed(db, server.url("/poisoned"))
    assert feed.last_error == "store: IntegrityError: disk full (simulated)"
    [row] = fetch_rows(db, server.url("/poisoned"))
    assert row["outcome"] == "error" and row["new_entries"] == 0


def test_config_feeds_are_synced_and_bad_urls_recorded(db, fast, server):
    server.routes["/feed"] = Route(rss(ENTRIES))
    fast.feeds = [FeedConfig(url=server.url("/feed"), name="Configured"),
                  FeedConfig(url="file:///etc/passwd"),
                  FeedConfig(url=server.url("/off"), enabled=False)]
    summary = run_job(db, fast, "refresh")
    assert (summary.feeds, summary.new, summary.failed) == (1, 2, 1)
    assert get_feed(db, server.url("/feed")).name == "Configured"
    off = get_feed(db, server.url("/off"))
    assert not off.enabled and off.disabled_reason == "enabled = false in the config"
    assert server.hits("/off") == 0
    run = next(db.query("select * from job_runs where job = 'refresh'"))
    assert run["status"] == "partial"
    assert "only http and https" in next(db.query(
        "select reason from open_errors where input = 'file:///etc/passwd'"))["reason"]


def test_feeds_view_shows_health(db, fast, server):
    server.routes["/ok"] = Route(rss(ENTRIES))
    server.routes["/bad"] = Route(b"", status=500)
    for path in ("/ok", "/bad", "/new"):
        add(db, server.url(path))
    run_refresh(db, fast, feeds=[server.url("/ok"), server.url("/bad")])
    health = {r["url"]: (r["health"], r["articles"]) for r in db.query("select * from feeds")}
    assert health == {server.url("/ok"): ("ok", 2), server.url("/bad"): ("failing", 0),
                      server.url("/new"): ("new", 0)}


def test_a_stop_request_leaves_the_remaining_feeds_due(db, fast, server):
    from tracker.shutdown import clear_stop, request_stop

    for n in range(3):
        server.routes[f"/f{n}"] = Route(rss(ENTRIES))
        add(db, server.url(f"/f{n}"))
    request_stop("SIGTERM (test)")
    try:
        summary = run_refresh(db, fast)
    finally:
        clear_stop()
    assert summary.stopped_early and summary.ok == 0 and not articles(db)
    assert all(f["next_fetch_at"] is None for f in db.query("select * from feeds"))
    assert run_refresh(db, fast).new == 2


def test_feed_health_and_fetches_in_datasette(db, fast, server, db_path):
    from tracker.publish import build_datasette

    server.routes["/ok"] = Route(rss(ENTRIES))
    server.routes["/bad"] = Route(b"", status=500)
    for path in ("/ok", "/bad"):
        add(db, server.url(path))
    run_refresh(db, fast)
    datasette = build_datasette(db_path)

    feeds = datasette_json(datasette, "/tracker/feeds.json?_shape=array")
    assert {f["health"] for f in feeds} == {"ok", "failing"}
    fetches = datasette_json(datasette, "/tracker/fetches.json?_facet=outcome")
    outcomes = {v["value"]: v["count"] for v in fetches["facet_results"]["outcome"]["results"]}
    assert outcomes == {"ok": 1, "error": 1}
    errors = datasette_json(datasette, "/tracker/open_errors.json?_shape=array")
    assert [e["input"] for e in errors] == [server.url("/bad")]

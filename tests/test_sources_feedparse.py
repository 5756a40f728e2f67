"""Feed bytes -> articles, without any network (tracker.sources.feedparse)."""

import datetime as dt

import pytest

from tracker.domain import stable_id
from tracker.errors import FeedParseError
from tracker.sources.feedparse import canonical_url, entry_id, html_to_text, parse_feed
from tracker.testing.feedserver import rss

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
URL = "https://news.example.org/feed.xml"


def parse(content: bytes, **kwargs):
    return parse_feed(content, url=URL, fetched_at=NOW, **kwargs)


def test_entry_becomes_an_article():
    feed = parse(rss([{
        "title": "Icebreaker deal signed",
        "link": "https://News.Example.org/a/1?utm_source=rss&id=7#comments",
        "guid": "https://news.example.org/?p=1",
        "author": "Jane Doe",
        "pubDate": "Mon, 03 Feb 2025 01:30:00 +0200",
        "description": "<p>First <b>paragraph</b>.</p><p>Second &amp; last.</p>"
                       "<script>alert('x')</script>",
    }], title="High North Test"))
    [article] = feed.articles
    assert article.title == "Icebreaker deal signed"
    assert article.url == "https://news.example.org/a/1?id=7"
    assert article.guid == "https://news.example.org/?p=1"
    assert article.id == stable_id("feed", "https://news.example.org/?p=1")
    assert article.outlet == "High North Test"
    assert article.author == "Jane Doe"
    # +0200 converted to UTC crosses midnight back into the previous day.
    assert (article.published, article.published_date) == ("2025-02-02T23:30:00Z", "2025-02-02")
    assert article.date_source == "published"
    assert article.text == "First paragraph.\nSecond & last."  # sanitised: no script
    assert article.kind == "feed" and article.bozo == 0
    assert feed.summary_only == {article.id}


def test_full_content_is_preferred_and_not_summary_only():
    feed = parse(rss([{"title": "T", "link": "https://x.org/1", "description": "short",
                       "content": "<p>The long version.</p><p>More.</p>"}]))
    [article] = feed.articles
    assert article.text == "The long version.\nMore."
    assert feed.summary_only == set()


def test_dates_fall_back_to_updated_then_fetch_time():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><title>Updated only</title><id>urn:uuid:1</id>
        <updated>2025-01-05T10:00:00-05:00</updated><summary>x</summary></entry>
      <entry><title>No date</title><id>urn:uuid:2</id><summary>y</summary></entry>
      <entry><title>Future</title><id>urn:uuid:3</id>
        <published>2031-01-01T00:00:00Z</published><summary>z</summary></entry>
    </feed>"""
    updated, undated, future = parse(atom).articles
    assert (updated.published, updated.date_source) == ("2025-01-05T15:00:00Z", "updated")
    assert (undated.published, undated.date_source) == ("2025-03-01T12:00:00Z", "fetched")
    assert future.date_source == "fetched"


def test_ids_guid_then_link_then_hash():
    assert entry_id("tag:a.org,2025:1", "https://a.org/1", "t", "x", URL) == stable_id(
        "feed", "tag:a.org,2025:1")
    # A bare GUID is only unique within its feed.
    assert entry_id("1234", None, "t", "x", URL) != entry_id("1234", None, "t", "x", URL + "2")
    assert entry_id(None, "https://a.org/1", "t", "x", URL) == stable_id("link", "https://a.org/1")
    assert entry_id(None, None, "t", "x", URL) == entry_id(None, None, "t", " x ", URL + "2")


def test_canonical_url_drops_tracking_only():
    assert canonical_url("HTTPS://Example.COM:443/Path?b=2&utm_medium=x&fbclid=1&a=1#top") == (
        "https://example.com/Path?b=2&a=1")
    assert canonical_url("http://example.com:8080") == "http://example.com:8080/"
    assert canonical_url("javascript:alert(1)") is None
    assert canonical_url("/relative") is None


def test_relative_links_resolve_against_the_feed_url():
    [article] = parse(rss([{"title": "T", "link": "/news/1?utm_campaign=x"}])).articles
    assert article.url == "https://news.example.org/news/1"


def test_not_well_formed_feed_is_ingested_and_flagged():
    broken = rss([{"title": "Fish & chips", "link": "https://x.org/1", "description": "ok"}])
    broken = broken.replace(b"Fish &amp; chips", b"Fish & chips")
    feed = parse(broken)
    assert feed.bozo and "SAXParseException" in feed.bozo_reason
    [article] = feed.articles
    assert article.bozo == 1 and article.title.startswith("Fish")


def test_undeclared_encoding_is_detected():
    body = rss([{"title": "Caf\u00e9 on the Kola peninsula", "link": "https://x.org/1"}])
    body = body.replace(b' encoding="utf-8"', b"").decode("utf-8").encode("windows-1252")
    [article] = parse(body).articles
    assert article.title == "Caf\u00e9 on the Kola peninsula"


def test_http_charset_decides_the_encoding():
    title = "\u0421\u0435\u0432\u0435\u0440\u043d\u044b\u0439 \u043c\u043e\u0440\u0441\u043a\u043e\u0439 \u043f\u0443\u0442\u044c"
    body = rss([{"title": title, "link": "https://x.org/1"}])
    body = body.replace(b' encoding="utf-8"', b"").decode("utf-8").encode("koi8-r")
    feed = parse(body, headers={"Content-Type": "application/rss+xml; charset=koi8-r"})
    assert feed.articles[0].title == title
    assert feed.encoding == "koi8-r"


def test_html_page_is_not_a_feed():
    with pytest.raises(FeedParseError, match="not a feed"):
        parse(b"<html><head><title>Home</title></head><body><p>Hi</p></body></html>",
              headers={"Content-Type": "text/html"})
    with pytest.raises(FeedParseError):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00garbage")


def test_entries_without_title_text_or_link_are_skipped_with_a_reason():
    feed = parse(rss([{"guid": "urn:x:1"}, {"title": "Kept"}]))
    assert [a.title for a in feed.articles] == ["Kept"]
    assert feed.skipped == ["entry 1: no title, text or link"]


def test_missing_title_uses_the_first_sentence():
    [article] = parse(rss([{"description": "Russia and the US met in Anchorage. Talks went on."}])
                      ).articles
    assert article.title == "Russia and the US met in Anchorage."


def test_html_to_text_keeps_paragraphs():
    assert html_to_text("<div>a<br>b</div><ul><li>c</li><li>d</li></ul>") == "a\nb\nc\nd"
    assert html_to_text("") == ""
    assert html_to_text("nul\x00 byte") == "nul byte"


def test_canonical_links_follow_rfc_3986():
    assert canonical_url("http://[fd00::1]/") == "http://[fd00::1]/"
    assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert canonical_url("HTTP://Example.COM:80/a/../b?utm_source=x&id=2#top") == \
        "http://example.com/b?id=2"
    assert canonical_url("https://a.org/p%7ex") == "https://a.org/p~x"
    assert canonical_url("https://münchen.de/x") == "https://xn--mnchen-3ya.de/x"
    assert canonical_url("https://user:pw@a.org/x") == "https://a.org/x"
    assert canonical_url("not a url") is None and canonical_url("ftp://a.org/") is None


def test_authors_are_names_and_addresses_are_kept_apart():
    from tracker.sources.feedparse import parse_author

    assert parse_author({"author": "desk@polarwire.example (Anna Larsen)"}) == (
        "Anna Larsen", "desk@polarwire.example")
    assert parse_author({"author": "Anna Larsen <desk@x.org>"}) == ("Anna Larsen", "desk@x.org")
    assert parse_author({"author": "Anna Larsen"}) == ("Anna Larsen", None)
    assert parse_author({"author": "desk@x.org"}) == (None, "desk@x.org")
    assert parse_author({"author_detail": {"name": "A B", "email": "a@b.org"},
                         "author": "A B"}) == ("A B", "a@b.org")

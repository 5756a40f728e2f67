"""The analyst's pages, corrections and Atom feeds, in-process on hand-made databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import xml.etree.ElementTree as ElementTree

import feedparser
import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.domain import Article, StanceTag
from tracker.publish import build_datasette
from tracker.store.articles import save_articles
from tracker.store.stance_tags import save_tags, tag_row
from tracker.testing.synthetic import set_events
from tracker_db import open_db

ATOM = "{http://www.w3.org/2005/Atom}"
WEEK_A, WEEK_B = dt.date(2025, 3, 3), dt.date(2025, 3, 10)  # two Mondays


def add(db, rows: list[tuple[str, dt.date | None, str, str, int | None]]) -> None:
    """Articles (id, day, outlet, stance, event) through the real store functions."""
    save_articles(db, [Article(id=aid, title=f"Arctic report {aid}",
                               text=f"Arctic report {aid}. Officials met in Anchorage to talk. "
                                    f"The talks on shipping were called productive by both sides.",
                               kind="file", outlet=outlet,
                               published=f"{day}T09:00:00Z" if day else None,
                               published_date=day.isoformat() if day else None)
                       for aid, day, outlet, _, _ in rows])
    save_tags(db, [tag_row({"id": aid, "content_hash": content}, StanceTag(
        label=stance, scores={"favor": 0.1, "against": 0.1, "neutral": 0.1, "unrelated": 0.1,
                              stance: 0.7}, confidence=0.7, relevance=0.9,
        evidence="The talks on shipping were called productive by both sides."),
        "model", "mh", "ch", "hybrid", "2025-03-20T00:00:00Z")
        for (aid, _, _, stance, _), content in zip(rows, [
            db.execute("select content_hash from articles where id = ?", [r[0]]).fetchone()[0]
            for r in rows])])
    events: dict[int, list[str]] = {}
    for aid, _, _, _, event in rows:
        if event:
            events.setdefault(event, []).append(aid)
    set_events(db, events, replace_all=False)


@pytest.fixture
def story_db(tmp_path):
    """Week A: 10 favor articles (event 1); week B: 3 favor and 7 against (event 2);
    one undated against article (event 2)."""
    path = tmp_path / "tracker.db"
    db = open_db(path)
    add(db, [(f"a{n}", WEEK_A + dt.timedelta(days=n % 5), "North Wire", "favor", 1)
             for n in range(10)])
    add(db, [(f"b{n}", WEEK_B + dt.timedelta(days=n % 5), "Polar Ledger",
              "favor" if n < 3 else "against", 2) for n in range(10)]
        + [("u1", None, None, "against", 2)])
    db.close()
    return path


def get(datasette, path: str, **kwargs):
    async def fetch():
        await datasette.invoke_startup()
        return await datasette.client.get(path, **kwargs)
    return asyncio.run(fetch())


def post(datasette, path: str, data: dict, cookies: dict):
    async def send():
        return await datasette.client.post(path, data=data, cookies=cookies)
    return asyncio.run(send())


def test_story_page(story_db):
    datasette = build_datasette(story_db)
    page = get(datasette, "/")
    assert page.status_code == 200
    html = page.text
    assert "US–Russia cooperation in the Arctic" in html
    for label in ("favor", "against", "neutral", "unrelated"):  # the definitions
        assert f'chip-{label}">{label}</b>' in html
    assert re.search(r"<strong>21</strong> articles", html)
    assert re.search(r"<strong>21</strong> relevant", html)
    assert re.search(r"<strong>2</strong> events", html)
    # Days of data: a bar per day, each linking to its articles, shares on hover.
    assert "Relevant articles per day" in html
    assert html.count('class="bar-favor"') == 8  # five days of week A, three of week B
    assert "2 relevant articles — favor 2 (100%), against 0 (0%), neutral 0 (0%)" in html
    assert "published_date__gte=2025-03-03&amp;published_date__lte=2025-03-03" in html
    assert "1 relevant article without a publication date is not on the chart" in html
    # Event cards link to the event pages; the feeds are announced.
    assert 'href="/event/2"' in html and 'href="/event/1"' in html
    assert 'type="application/atom+xml"' in html and "/tracker/new_events.atom" in html
    # The chart reads the period asked for.
    week = get(datasette, "/?start=2025-03-10&end=2025-03-16").text
    assert week.count('class="bar-favor"') == 3 and "Whole story" in week


def test_event_page(story_db):
    datasette = build_datasette(story_db)
    html = get(datasette, "/event/2").text
    assert "Arctic report b0" in html  # the title: its representative article's headline
    rows = re.findall(r'<a href="/article/(\w+)">', html)
    assert rows == [f"b{n}" for n in (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)] + ["u1"]  # time order, undated last
    assert "favor 3 · against 8 · neutral 0" in html
    assert get(datasette, "/event/999").status_code == 404


def test_article_page_and_a_correction_round_trip(story_db):
    datasette = build_datasette(story_db)
    html = get(datasette, "/article/b5").text
    assert '<span class="chip chip-against">against</span> 70% confident (moderate)' in html
    assert "<mark>The talks on shipping were called productive by both sides.</mark>" in html
    assert 'href="/event/2"' in html and "Sign in</a> to correct it" in html
    assert get(datasette, "/article/nope").status_code == 404

    # Anonymous: the canned query refuses, with or without a CSRF token.
    anonymous = post(datasette, "/tracker/correct_stance",
                     {"article_id": "b5", "label": "neutral"}, {})
    assert anonymous.status_code == 403

    # Signed in: the form carries a CSRF token; a POST without it is refused.
    actor = {"ds_actor": datasette.sign({"a": {"id": "alice"}}, "actor")}
    page = get(datasette, "/article/b5", cookies=actor)
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = {**actor, "ds_csrftoken": page.cookies["ds_csrftoken"]}
    assert post(datasette, "/tracker/correct_stance",
                {"article_id": "b5", "label": "neutral"}, actor).status_code == 403
    saved = post(datasette, "/tracker/correct_stance",
                 {"csrftoken": token, "article_id": "b5", "label": "neutral",
                  "note": "balanced report"}, cookies)
    assert saved.status_code == 302 and saved.headers["location"] == "/-/corrected"
    back = get(datasette, "/-/corrected", cookies=cookies)
    assert back.status_code == 302 and back.headers["location"] == "/article/b5"
    html = get(datasette, "/article/b5", cookies=cookies).text
    assert 'chip chip-against">against</span>' in html  # both labels
    assert 'corrected by alice: <span class="chip chip-corrected">neutral</span>' in html
    assert "balanced report" in html
    # The event page shows the correction beside the tag.
    assert "corrected: neutral" in get(datasette, "/event/2").text
    # What no form sends is refused by the table itself, with the reason shown.
    for data, reason in (({"article_id": "b5", "label": "sarcastic"}, "unknown stance label"),
                         ({"article_id": "missing", "label": "favor"}, "no such article")):
        refused = post(datasette, "/tracker/correct_stance",
                       {"csrftoken": token, "note": "", **data}, cookies)
        assert refused.status_code == 302
        shown = get(datasette, refused.headers["location"],
                    cookies={**cookies, "ds_messages": refused.cookies["ds_messages"]})
        assert reason in shown.text
    db = open_db(story_db)
    assert [tuple(r) for r in db.execute("select article_id, label, note, actor from corrections")
            ] == [("b5", "neutral", "balanced report", "alice")]


def feed(datasette, path: str) -> list[dict]:
    response = get(datasette, path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    entries = []
    for entry in root.findall(f"{ATOM}entry"):
        assert all(entry.find(f"{ATOM}{tag}") is not None for tag in ("id", "title", "updated"))
        link = entry.find(f"{ATOM}link")
        entries.append({"id": entry.find(f"{ATOM}id").text, "title": entry.find(f"{ATOM}title").text,
                        "link": link.get("href") if link is not None else None})
    return entries


def test_atom_feed_of_new_events(story_db):
    datasette = build_datasette(story_db)
    entries = feed(datasette, "/tracker/new_events.atom")
    assert [e["id"] for e in entries] == ["urn:arctic-stance-tracker:event:2",
                                          "urn:arctic-stance-tracker:event:1"]
    assert [e["link"] for e in entries] == ["/event/2", "/event/1"]
    assert entries[0]["title"] == "Arctic report b0"


def test_atom_feed_of_stance_shifts(story_db):
    datasette = build_datasette(story_db)
    entries = feed(datasette, "/tracker/stance_shifts.atom")
    assert [e["title"] for e in entries] == [
        "Share of against rose from 0% to 70% in the week of 2025-03-10",
        "Share of favor fell from 100% to 30% in the week of 2025-03-10"]
    assert entries[0]["link"] == "/?start=2025-03-03&end=2025-03-16"
    # Thresholds are the subscriber's: a larger move, or more articles, is needed.
    for query in ("min_shift=0.75", "min_relevant=11"):
        none = feed(datasette, f"/tracker/stance_shifts.atom?{query}")
        assert [e["title"] for e in none] == ["No stance shift yet"]


def test_feeds_of_an_empty_database(db_path):
    open_db(db_path).close()
    datasette = build_datasette(db_path)
    assert [e["title"] for e in feed(datasette, "/tracker/new_events.atom")] == ["No events yet"]
    assert get(datasette, "/").status_code == 200


def test_eval_against_corrections(story_db, tiny_nli):
    config = story_db.parent / "tracker.toml"
    config.write_text(f'[tagger]\nmodel = "{tiny_nli}"\n')
    args = ["eval", "--corrections", "--db", str(story_db), "--config", str(config)]
    nothing = CliRunner().invoke(cli, args)
    assert nothing.exit_code == 1
    assert nothing.output.strip() == ("Error: no stance corrections to score against: "
                                      "correct a tag on an article page first")
    db = open_db(story_db)
    db["corrections"].insert_all([
        {"article_id": "a1", "label": "neutral", "actor": "alice", "created_at": "2025-03-20T00:00:00Z"},
        {"article_id": "b5", "label": "favor", "actor": "alice", "created_at": "2025-03-20T00:00:00Z"},
        {"article_id": "b5", "label": "against", "actor": "bob", "created_at": "2025-03-21T00:00:00Z"},
    ])
    db.conn.commit()
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    import json

    metrics = json.loads(result.output)
    assert metrics["n"] == 2  # the latest correction of each corrected article
    both = CliRunner().invoke(cli, ["eval", "x.jsonl", "--corrections", "--db", str(story_db)])
    assert both.exit_code == 2 and "give either FILE or --corrections" in both.output


def test_pages_and_feeds_in_public_mode(story_db):
    datasette = build_datasette(story_db, public=True)
    for path in ("/", "/event/2", "/article/b5", "/tracker/new_events.atom",
                 "/tracker/stance_shifts.atom", "/tracker/articles?_search=Anchorage"):
        assert get(datasette, path).status_code == 200, path
    assert post(datasette, "/tracker/correct_stance",
                {"article_id": "b5", "label": "favor"}, {}).status_code == 403
    assert get(datasette, "/tracker.json?sql=select+1").status_code == 403


def test_analyst_signs_in_with_a_password_and_corrects(story_db, monkeypatch):
    """The README's way in on a server: datasette-auth-passwords, hash in the environment."""
    from datasette_auth_passwords.utils import hash_password

    monkeypatch.setenv("TRACKER_ANALYST_PASSWORD_HASH", hash_password("polar-bear-7"))
    datasette = build_datasette(story_db)
    login = get(datasette, "/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', login.text).group(1)
    csrf = {"ds_csrftoken": login.cookies["ds_csrftoken"]}
    wrong = post(datasette, "/-/login", {"csrftoken": token, "username": "analyst",
                                         "password": "nope"}, csrf)
    assert "ds_actor" not in wrong.cookies
    signed = post(datasette, "/-/login", {"csrftoken": token, "username": "analyst",
                                          "password": "polar-bear-7"}, csrf)
    cookies = {**csrf, "ds_actor": signed.cookies["ds_actor"]}
    saved = post(datasette, "/tracker/correct_stance",
                 {"csrftoken": token, "article_id": "a3", "label": "against", "note": ""}, cookies)
    assert saved.status_code == 302 and saved.headers["location"] == "/-/corrected"
    assert open_db(story_db).execute("select actor, label from corrections").fetchall() == [
        ("analyst", "against")]


def test_evidence_is_marked_in_a_wrapped_text_and_in_the_headline():
    from tracker.publish.pages import headline, highlight

    text = ("Officials met in Anchorage.\n\nThe talks on shipping were\ncalled productive "
            "by both sides. Critics said nothing.")
    marked = str(highlight(text, "The talks on shipping were called productive by both sides."))
    assert marked == ("<p>Officials met in Anchorage.</p><p><mark>The talks on shipping were\n"
                      "called productive by both sides.</mark> Critics said nothing.</p>")
    # Evidence that is the headline marks the headline, not the text; other evidence does not.
    title = "US, Russia Mull Cooperation on Arctic Shipping"
    assert str(headline(title, title)) == f"<mark>{title}</mark>"
    assert str(highlight(text, title)).count("<mark>") == 0
    assert str(headline(title, "The talks on shipping were called productive.")) == title
    # Escaped once: a headline with markup characters stays text.
    assert str(headline("Arctic <b>talks</b> & trade", "Arctic <b>talks</b> & trade")) == \
        "<mark>Arctic &lt;b&gt;talks&lt;/b&gt; &amp; trade</mark>"

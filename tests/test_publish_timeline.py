"""The timeline views, canned queries and dashboard charts on a small hand-made database."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest
from datasette_dashboards import replace_opts_in_query

from tracker.store.events import update_event_stats
from tracker.domain import Article
from tracker.store.articles import save_articles
from tracker.publish import build_datasette, load_metadata
from tracker_db import open_db

from tracker.testing import datasette_json as get

# id, date, title, outlet, stance, event
ROWS = [
    ("a1", "2025-02-26", "Alpha pact on Arctic shipping", "North Wire", "favor", 1),
    ("a2", "2025-02-27", "Alpha pact draws criticism", "Polar Ledger", "against", 1),
    ("a3", "2025-02-27", "Beta coast guard talks", "North Wire", "neutral", 2),
    ("a4", "2025-02-27", "Gamma football results", "Tundra Times", "unrelated", None),
    ("a5", "2025-03-04", "Delta icebreaker deal", "Polar Ledger", "favor", 3),
    ("a6", "2025-03-09", "Delta icebreaker deal signed", None, "favor", 3),  # a Sunday
    ("a7", "2025-03-10", "Epsilon fisheries meeting", "North Wire", None, 4),  # untagged
    ("a8", None, "Zeta undated note", "Tundra Times", None, None),
]


def make_timeline_db(path):
    db = open_db(path)
    save_articles(db, [
        Article(id=aid, title=title, text=f"{title}. Reported in detail.", kind="file", outlet=outlet,
                published=f"{day}T08:00:00Z" if day else None, published_date=day,
                date_source="dateline" if day else "unknown")
        for aid, day, title, outlet, _, _ in ROWS
    ])
    for aid, _, title, _, stance, event in ROWS:
        if stance:
            db["stance_tags"].insert({
                "article_id": aid, "label": stance, "score_favor": 0.8 if stance == "favor" else 0.1,
                "score_against": 0.8 if stance == "against" else 0.1, "score_neutral": 0.1,
                "confidence": 0.8, "evidence": f"{title} (evidence)", "status": "ok",
                "tagged_at": "2025-03-11T00:00:00Z"})
            db["articles"].update(aid, {"stance": stance})
        if event:
            db["events"].insert({"id": event, "title": title, "representative_article_id": aid},
                                pk="id", ignore=True)  # the first article represents it
            db["event_articles"].insert({"event_id": event, "article_id": aid, "similarity": 0.9,
                                         "assigned_at": "2025-03-11T00:00:00Z"})
            db["articles"].update(aid, {"event_id": event})
    update_event_stats(db, [1, 2, 3, 4])
    db.close()
    return path


@pytest.fixture
def timeline_db(tmp_path):
    return make_timeline_db(tmp_path / "tracker.db")


def pick(rows, *keys):
    return [tuple(row[k] for k in keys) for row in rows]


def test_views(timeline_db):
    db = open_db(timeline_db)
    daily = {r["date"]: r for r in db.query("select * from stance_daily")}
    assert "None" not in daily and len(daily) == 5  # the undated article has no day
    day = daily["2025-02-27"]
    assert (day["articles"], day["relevant"], day["favor"], day["against"], day["neutral"],
            day["unrelated"], day["untagged"]) == (3, 2, 0, 1, 1, 1, 0)
    assert (day["favor_share"], day["against_share"], day["neutral_share"]) == (0.0, 0.5, 0.5)
    weekly = list(db.query("select * from stance_weekly"))
    assert pick(weekly, "week", "week_end", "articles", "relevant", "favor", "favor_share", "untagged") == [
        ("2025-03-10", "2025-03-16", 1, 0, 0, None, 1),
        ("2025-03-03", "2025-03-09", 2, 2, 2, 1.0, 0),
        ("2025-02-24", "2025-03-02", 4, 3, 1, 0.3333, 0),
    ]
    outlets = {r["outlet"]: r for r in db.query("select * from stance_by_outlet")}
    assert pick([outlets["North Wire"]], "articles", "relevant", "favor", "neutral", "untagged",
                "favor_share", "events", "first_date", "last_date") == [
        (3, 2, 1, 1, 1, 0.5, 3, "2025-02-26", "2025-03-10")]
    assert outlets["(unknown)"]["favor"] == 1
    timeline = list(db.query("select * from timeline order by date desc, article_count desc"))
    assert pick(timeline, "date", "event_id", "article_count", "stance") == [
        ("2025-03-10", 4, 1, None), ("2025-03-04", 3, 2, "favor"),
        ("2025-02-27", 2, 1, "neutral"), ("2025-02-26", 1, 2, "mixed")]


def test_canned_queries(timeline_db):
    datasette = build_datasette(timeline_db)
    rows = get(datasette, "/tracker/timeline_between.json?start=2025-02-27&end=2025-03-04&_shape=array")
    assert pick(rows, "event_id", "date", "title", "article_count", "favor", "stance") == [
        (3, "2025-03-04", "Delta icebreaker deal", 2, 2, "favor"),
        (2, "2025-02-27", "Beta coast guard talks", 1, 0, "neutral"),
    ]
    assert rows[0]["evidence"] in {"Delta icebreaker deal (evidence)", "Delta icebreaker deal signed (evidence)"}
    everything = get(datasette, "/tracker/timeline_between.json?start=&end=&_shape=array")
    assert [r["event_id"] for r in everything] == [4, 3, 2, 1]

    weekly = get(datasette, "/tracker/stance_over_time.json?start=2025-03-05&end=&period=&_shape=array")
    assert pick(weekly, "period", "period_start", "articles", "favor", "favor_share") == [
        ("week", "2025-03-03", 2, 2, 1.0), ("week", "2025-03-10", 1, 0, None)]
    daily = get(datasette, "/tracker/stance_over_time.json?start=2025-02-27&end=2025-03-04&period=day&_shape=array")
    assert pick(daily, "period_start", "articles", "against_share") == [
        ("2025-02-27", 3, 0.5), ("2025-03-04", 1, 0.0)]

    members = get(datasette, "/tracker/articles_in_event.json?event_id=1&_shape=array")
    assert pick(members, "article_id", "date", "outlet", "stance", "similarity") == [
        ("a1", "2025-02-26", "North Wire", "favor", 0.9), ("a2", "2025-02-27", "Polar Ledger", "against", 0.9)]

    found = get(datasette, "/tracker/search.json?q=icebreaker+deal&_shape=array")
    assert pick(found, "article_id", "event_id", "event_title") == [
        ("a6", 3, "Delta icebreaker deal"), ("a5", 3, "Delta icebreaker deal")]
    assert "[icebreaker]" in found[0]["snippet"]
    assert get(datasette, "/tracker/search.json?q=&_shape=array") == []
    # Odd input is escaped, not an FTS syntax error.
    odd = get(datasette, '/tracker/search.json?q=%22Delta-icebreaker&_shape=array')
    assert [r["article_id"] for r in odd] == ["a6", "a5"]


def test_tables_are_published_with_facets_search_and_sorting(timeline_db):
    datasette = build_datasette(timeline_db)
    events = get(datasette, "/tracker/events.json")
    assert "sorted by first_seen descending" in events["human_description_en"]
    assert {"stance", "first_date"} <= set(events["facet_results"])
    found = get(datasette, "/tracker/events.json?_search=icebreaker&_shape=array")
    assert [r["id"] for r in found] == [3]
    timeline = get(datasette, "/tracker/timeline.json")
    assert "sorted by date descending" in timeline["human_description_en"]
    assert {"stance", "date"} <= set(timeline["facet_results"])
    meta = get(datasette, "/-/metadata.json")
    columns = meta["databases"]["tracker"]["tables"]["stance_weekly"]["columns"]
    assert {"week", "favor_share", "untagged"} <= set(columns)
    page = asyncio.run(datasette.client.get("/tracker/stance_weekly"))
    assert "First day (Monday) of the week" in page.text


def chart_rows(datasette, metadata, db_name, options):
    charts = metadata["plugins"]["datasette-dashboards"]["timeline"]["charts"]
    results = {}
    for name, chart in charts.items():
        assert chart["db"] == db_name and chart["library"] == "vega-lite"
        sql = replace_opts_in_query(chart["query"], options)
        query = urllib.parse.urlencode({"sql": sql, **options, "_shape": "array"})
        results[name] = get(datasette, f"/{db_name}.json?{query}")
    return results


def test_dashboard_follows_the_database_name(tmp_path):
    other = make_timeline_db(tmp_path / "elsewhere.db")
    metadata = load_metadata(other)
    datasette = build_datasette(other)
    page = asyncio.run(datasette.client.get("/-/dashboards/timeline"))
    assert page.status_code == 200 and "The story over time" in page.text
    assert '"db": "elsewhere"' in page.text
    rows = chart_rows(datasette, metadata, "elsewhere", {})
    assert sorted(pick(rows["stance-over-time"], "week", "stance", "articles")) == [
        ("2025-02-24", "against", 1), ("2025-02-24", "favor", 1), ("2025-02-24", "neutral", 1),
        ("2025-03-03", "against", 0), ("2025-03-03", "favor", 2), ("2025-03-03", "neutral", 0)]
    assert sorted(pick(rows["event-timeline"], "event_id", "stance")) == [
        (1, "mixed"), (2, "neutral"), (3, "favor"), (4, "untagged")]
    assert sorted(pick(rows["stance-by-outlet"], "outlet", "stance", "articles")) == [
        ("(unknown)", "favor", 1), ("North Wire", "favor", 1), ("North Wire", "neutral", 1),
        ("Polar Ledger", "against", 1), ("Polar Ledger", "favor", 1)]
    # The date filters narrow every chart.
    rows = chart_rows(datasette, metadata, "elsewhere", {"date_start": "2025-03-03", "date_end": "2025-03-31"})
    assert {r["week"] for r in rows["stance-over-time"]} == {"2025-03-03"}
    assert sorted(r["event_id"] for r in rows["event-timeline"]) == [3, 4]
    assert sorted(pick(rows["stance-by-outlet"], "outlet", "articles")) == [("(unknown)", 1), ("Polar Ledger", 1)]

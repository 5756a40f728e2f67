"""The articles page from the summary tables: facets counted from them equal Datasette's
own column facets, and the search box is bounded to the most recent matches."""

from __future__ import annotations

import datetime as dt

import pytest

from tracker.domain import Article
from tracker.publish import build_datasette
from tracker.store.articles import save_articles
from tracker.testing import datasette_json
from tracker.testing.synthetic import build_synthetic
from tracker_db import open_db


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("summaries") / "tracker.db"
    db = open_db(path)
    build_synthetic(db, articles=800, days=40, start=dt.date(2025, 1, 6))
    # What the synthetic data lacks: an unknown outlet, no date, another label.
    save_articles(db, [Article(id=f"x{n}", title=f"Icebreaker note {n}", text="Icebreaker talks.",
                               kind="file", language="de") for n in range(3)])
    db["articles"].update("x0", {"stance": "unsupported_language"})
    db.close()
    return path


def facets(datasette, query: str) -> dict[str, dict[str, list]]:
    """``{type: {column: [(value, count), ...]}}`` of one articles page."""
    table = datasette_json(datasette, f"/tracker/articles.json?{query}")
    found: dict[str, dict[str, list]] = {}
    for facet in table["facet_results"].values():
        found.setdefault(facet["type"], {})[facet["name"]] = [
            (value["value"], value["count"]) for value in facet["results"]]
    return found


COLUMNS = ["stance", "outlet", "language", "published_date", "date_source"]


@pytest.mark.parametrize("filters", [
    "", "stance=favor", "outlet=North+Wire", "published_date=2025-01-20",
    "stance=against&outlet=Polar+Ledger", "stance=unsupported_language", "language=de",
    "_search=icebreaker", "published_date__gte=2025-01-20",
])
def test_summary_facets_count_what_column_facets_count(synthetic_db, filters):
    datasette = build_datasette(synthetic_db)
    both = facets(datasette, "&".join(
        [filters, "_facet_size=max"] + [f"_facet={column}" for column in COLUMNS]))
    assert set(both["summary"]) == set(COLUMNS)
    assert both["summary"] == both["column"]


def test_summary_facets_read_the_summaries_when_they_can(synthetic_db):
    """Without filters, the facets come from the summary tables: a count written into
    them (and only there) shows up. Unsummarised filters count the articles."""
    db = open_db(synthetic_db)
    db.execute("update summary_values set articles = articles + 1000 "
               "where column_name = 'language' and value = 'de' and stance = ''")
    db.conn.commit()
    try:
        datasette = build_datasette(synthetic_db)
        assert dict(facets(datasette, "")["summary"]["language"])["de"] == 1003
        assert dict(facets(datasette, "outlet__contains=Wire")["summary"]["stance"])
        assert dict(facets(datasette, "language=de")["summary"]["language"])["de"] == 3
    finally:
        db.execute("update summary_values set articles = articles - 1000 "
                   "where column_name = 'language' and value = 'de' and stance = ''")
        db.conn.commit()
        db.close()


def test_search_is_bounded_to_the_most_recent_matches(synthetic_db):
    db = open_db(synthetic_db)
    matching = [row[0] for row in db.execute(
        "select a.id from articles_fts join articles a on a.rowid = articles_fts.rowid "
        "where articles_fts match 'icebreaker' order by a.rowid desc")]
    in_titles = db.execute("select count(*) from articles_fts "
                           "where articles_fts match 'title: icebreaker'").fetchone()[0]
    db.close()
    assert len(matching) > 50
    datasette = build_datasette(synthetic_db)
    metadata = datasette.metadata()
    metadata["databases"]["tracker"]["tables"]["articles"]["plugins"]["tracker"]["search_limit"] = 20
    table = datasette_json(datasette, "/tracker/articles.json?_search=icebreaker&_size=100")
    ids = [row[table["columns"].index("id")] for row in table["rows"]]
    assert table["filtered_table_rows_count"] == 20
    assert sorted(ids) == sorted(matching[:20])
    assert "20 most recently stored matches" in table["human_description_en"]
    # Column searches and tables without a limit keep Datasette's own search.
    titled = datasette_json(datasette, "/tracker/articles.json?_search_title=icebreaker&_size=0")
    assert titled["filtered_table_rows_count"] == in_titles > 20
    events = datasette_json(datasette, "/tracker/events.json?_search=icebreaker&_size=0")
    assert events["filtered_table_rows_count"] > 20


def test_search_canned_query_returns_the_most_recent_matches(synthetic_db):
    db = open_db(synthetic_db)
    newest = {row[0] for row in db.execute(
        "select a.id from articles_fts join articles a on a.rowid = articles_fts.rowid "
        "where articles_fts match 'talks' order by a.rowid desc limit 200")}
    assert db.execute("select count(*) from articles_fts where articles_fts match 'talks'"
                      ).fetchone()[0] > 500
    db.close()
    datasette = build_datasette(synthetic_db)
    rows = datasette_json(datasette, "/tracker/search.json?q=talks&_shape=array")
    assert {row["article_id"] for row in rows} == newest
    assert rows[0]["snippet"] and "[" in rows[0]["snippet"]
    dates = [row["date"] for row in rows if row["date"]]
    assert dates == sorted(dates, reverse=True)
    assert datasette_json(datasette, "/tracker/search.json?q=+&_shape=array") == []

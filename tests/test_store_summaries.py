"""The summary tables: maintained incrementally by the jobs' writes, equal to a rebuild.

Random inserts, edits (new date or outlet), tags and re-tags (failed ones and
unsupported languages too), regroupings into events and deletions go through
the real store functions, on a real SQLite file. After every round the stored
summaries must equal what a rebuild computes, and the views must equal the
counts computed here in Python straight from the articles.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import pytest

from tracker.domain import Article, StanceTag
from tracker.store import summaries
from tracker.store.articles import delete_articles, save_articles
from tracker.store.events import event_ids, members_of
from tracker.store.stance_tags import save_tags, tag_row
from tracker.testing.synthetic import set_events
from tracker_db import open_db

LABELS = ["favor", "against", "neutral", "unrelated", "unsupported_language", None]
OUTLETS = ["North Wire", "Polar Ledger", "Tundra Times", None]


def random_article(rng: random.Random, number: int) -> Article:
    day = None if rng.random() < 0.1 else dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(60))
    title = f"Report {number} on Arctic talks"
    return Article(id=f"a{number}", title=title, text=f"{title}. Version {rng.random()}.",
                   kind="file", outlet=rng.choice(OUTLETS),
                   published=f"{day}T08:00:00Z" if day else None,
                   published_date=day.isoformat() if day else None,
                   date_source=rng.choice(["dateline", "inferred", "unknown"]),
                   language=rng.choice(["en", "en", "de", None]))


def tag(rng: random.Random, article_ids: list[str], db) -> None:
    rows = []
    for aid in article_ids:
        label = rng.choice(LABELS)
        scores = {lab: rng.random() for lab in ("favor", "against", "neutral", "unrelated")}
        stance = (StanceTag.failed("model error") if label is None else
                  StanceTag(label=label, scores=scores, confidence=rng.random(),
                            evidence=f"evidence of {aid}"))
        content = db.execute("select content_hash from articles where id = ?", [aid]).fetchone()[0]
        rows.append(tag_row({"id": aid, "content_hash": content}, stance, "m", "mh", "ch",
                            "hybrid", "2025-03-01T00:00:00Z"))
    save_tags(db, rows)


def regroup(rng: random.Random, db) -> None:
    """Put every article not tagged unrelated into random events (as a rebuild would)."""
    before = members_of(db, event_ids(db))
    eligible = [row[0] for row in db.execute(
        "select id from articles where coalesce(stance, '') != 'unrelated' order by id")]
    rng.shuffle(eligible)
    events: dict[int, list[str]] = {}
    next_id = 1
    old_ids = sorted(before)
    while eligible:
        size = min(len(eligible), rng.randint(1, 4))
        members, eligible = eligible[:size], eligible[size:]
        # Reuse old ids sometimes, so that articles move between existing events.
        event_id = old_ids.pop(0) if old_ids and rng.random() < 0.5 else 1000 + next_id
        next_id += 1
        events[event_id] = members
    set_events(db, events, similarity={a: 0.8 for ids in events.values() for a in ids})


def expected_views(db) -> dict[str, dict]:
    """stance_daily / stance_weekly / stance_by_outlet computed in Python from articles."""
    daily: dict[str, Counter] = defaultdict(Counter)
    weekly: dict[str, Counter] = defaultdict(Counter)
    outlets: dict[str, Counter] = defaultdict(Counter)
    outlet_events: dict[str, set] = defaultdict(set)
    outlet_days: dict[str, list] = defaultdict(list)
    for day, outlet, stance, event_id in db.execute(
            "select published_date, outlet, stance, event_id from articles"):
        counts = Counter(articles=1)
        counts[stance if stance in ("favor", "against", "neutral", "unrelated") else
               "untagged" if stance is None else "other"] += 1
        outlet = outlet or "(unknown)"
        outlets[outlet] += counts
        if event_id is not None:
            outlet_events[outlet].add(event_id)
        if day:
            daily[day] += counts
            monday = dt.date.fromisoformat(day) - dt.timedelta(days=dt.date.fromisoformat(day).weekday())
            weekly[monday.isoformat()] += counts
            outlet_days[outlet].append(day)

    def shaped(counts: Counter) -> tuple:
        return tuple(counts[k] for k in ("articles", "favor", "against", "neutral", "unrelated",
                                         "untagged"))

    return {
        "stance_daily": {d: shaped(c) for d, c in daily.items()},
        "stance_weekly": {w: shaped(c) for w, c in weekly.items()},
        "stance_by_outlet": {
            o: shaped(c) + (len(outlet_events[o]), min(outlet_days[o], default=None),
                            max(outlet_days[o], default=None))
            for o, c in outlets.items()},
    }


def stored_views(db) -> dict[str, dict]:
    counts = "articles, favor, against, neutral, unrelated, untagged"
    return {
        "stance_daily": {r[0]: tuple(r[1:]) for r in db.execute(
            f"select date, {counts} from stance_daily")},
        "stance_weekly": {r[0]: tuple(r[1:]) for r in db.execute(
            f"select week, {counts} from stance_weekly")},
        "stance_by_outlet": {r[0]: tuple(r[1:]) for r in db.execute(
            f"select outlet, {counts}, events, first_date, last_date from stance_by_outlet")},
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_equals_rebuild(tmp_path, seed):
    rng = random.Random(seed)
    db = open_db(tmp_path / "tracker.db")
    number = 0
    for _ in range(6):
        new = [random_article(rng, number + k) for k in range(40)]
        number += len(new)
        save_articles(db, new)
        ids = [row[0] for row in db.execute("select id from articles")]
        # Edits: another date, outlet or text (the same id)
        edited = [random_article(rng, int(aid[1:])) for aid in rng.sample(ids, 8)]
        save_articles(db, edited)
        tag(rng, rng.sample(ids, len(ids) * 2 // 3), db)  # tags and re-tags
        regroup(rng, db)
        tag(rng, rng.sample(ids, 10), db)  # re-tags after grouping: event stats follow
        delete_articles(db, rng.sample(ids, 6))
        result = summaries.check(db)
        assert result.ok, result.differences
        assert stored_views(db) == expected_views(db)
    assert db["summary_outlet_events"].count > 0 and db["events"].count > 0
    before = stored_views(db)
    event_rows = list(db.query("select * from events order by id"))
    summaries.rebuild(db)
    assert stored_views(db) == before
    assert [{k: v for k, v in r.items() if k != "updated_at"} for r in event_rows] == [
        {k: v for k, v in r.items() if k != "updated_at"}
        for r in db.query("select * from events order by id")]


def test_check_finds_drift_and_rebuild_repairs_it(db):
    save_articles(db, [random_article(random.Random(3), n) for n in range(20)])
    assert summaries.check(db).ok
    # A write that bypasses the triggers' bookkeeping: the check must notice.
    db.execute("update summary_daily set favor = favor + 5")
    db.execute("delete from summary_outlet_events")
    db.execute("update events set article_count = 99")
    result = summaries.check(db)
    assert not result.ok and result.differences["summary_daily"] > 0
    summaries.rebuild(db)
    assert summaries.check(db).ok


def test_summaries_are_built_for_an_existing_database(db_path):
    """A database from before the summary tables gets them filled on its next open."""
    db = open_db(db_path)
    save_articles(db, [random_article(random.Random(4), n) for n in range(30)])
    expected = stored_views(db)
    for name in [r[0] for r in db.execute(
            "select name from sqlite_master where type = 'trigger' and name like 'summary_%'")]:
        db.execute(f"drop trigger [{name}]")
    for table in ("summary_daily", "summary_weekly", "summary_outlets", "summary_settings"):
        db.execute(f"delete from {table}")
    db.conn.commit()
    db.close()
    db = open_db(db_path)
    assert stored_views(db) == expected
    assert summaries.check(db).ok


def test_cli_checks_and_rebuilds(db_path):
    from click.testing import CliRunner

    from tracker.cli import cli

    db = open_db(db_path)
    save_articles(db, [random_article(random.Random(5), n) for n in range(10)])
    runner = CliRunner()
    result = runner.invoke(cli, ["summaries", "--db", str(db_path)])
    assert result.exit_code == 0 and "Summaries agree with the articles." in result.output
    db.execute("update summary_weekly set articles = articles + 1")
    db.conn.commit()
    result = runner.invoke(cli, ["summaries", "--db", str(db_path)])
    assert result.exit_code == 1
    assert "summary_weekly:" in result.output and "differ from a rebuild" in result.output
    assert result.output.strip().endswith("run tracker summaries --rebuild")
    result = runner.invoke(cli, ["summaries", "--rebuild", "--db", str(db_path)])
    assert result.exit_code == 0 and result.output.startswith("Rebuilt: ")
    assert runner.invoke(cli, ["summaries", "--db", str(db_path)]).exit_code == 0

"""What the story, event and article pages show (tracker/publish/pages.py), read-only.

Every query reads summary tables or goes through an index, so a page costs
the same with five articles as with a million (bench/timeline_queries.py).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlite_utils import Database

STANCES = ("favor", "against", "neutral")
# The volume chart's bars: a day up to this many days of data, then a week, then a month.
DAYS_AS_DAYS = 120
DAYS_AS_WEEKS = 3 * 365
EVENT_ARTICLES_SHOWN = 500


@dataclass
class Headline:
    articles: int = 0
    relevant: int = 0
    unrelated: int = 0
    untagged: int = 0
    undated_relevant: int = 0  # relevant articles the volume chart cannot place
    events: int = 0
    outlets: int = 0
    open_errors: int = 0
    first_date: str | None = None
    last_date: str | None = None
    last_refresh: str | None = None  # the latest finished ingest or refresh run (UTC)


@dataclass
class Volume:
    """Relevant articles per period, by stance."""

    period: str  # day / week / month
    rows: list[dict] = field(default_factory=list)  # start, end, favor, against, neutral


def headline(db: Database) -> Headline:
    totals = db.execute(
        "select sum(articles), sum(favor + against + neutral), sum(unrelated), sum(untagged), "
        "count(case when outlet != '' then 1 end) from summary_outlets").fetchone()
    undated = db.execute("select coalesce(sum(favor + against + neutral), 0) "
                         "from summary_outlet_daily where date = ''").fetchone()[0]
    span = db.execute("select min(date), max(date) from summary_daily").fetchone()
    refreshed = [db.execute("select finished_at from job_runs where job = ? and finished_at is not null "
                            "order by started_at desc limit 1", [job]).fetchone()
                 for job in ("ingest", "refresh")]
    return Headline(
        articles=totals[0] or 0, relevant=totals[1] or 0, unrelated=totals[2] or 0,
        untagged=totals[3] or 0, undated_relevant=undated, outlets=totals[4] or 0,
        events=db.execute("select count(*) from events").fetchone()[0],
        open_errors=db.execute("select count(*) from errors where resolved_at is null").fetchone()[0],
        first_date=span[0], last_date=span[1],
        last_refresh=max((r[0] for r in refreshed if r), default=None))


def volume(db: Database, start: str | None = None, end: str | None = None) -> Volume:
    """Relevant articles per day, week or month (by the span of the data shown)."""
    first, last = db.execute(
        "select min(date), max(date) from summary_daily where favor + against + neutral > 0 "
        "and date >= coalesce(?, '') and date <= coalesce(?, '9999')", [start, end]).fetchone()
    if first is None:
        return Volume("day")
    days = (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days
    counts = ", ".join(f"sum({s}) as {s}" for s in STANCES)
    if days <= DAYS_AS_DAYS:
        period, sql = "day", (f"select date as start, date as end, {counts} from summary_daily "
                              "where date >= ? and date <= ? group by date")
    elif days <= DAYS_AS_WEEKS:
        period, sql = "week", (f"select week as start, date(week, '+6 days') as end, {counts} "
                               "from summary_weekly where week >= date(?, 'weekday 0', '-6 days') "
                               "and week <= ? group by week")
    else:
        period, sql = "month", (f"select substr(date, 1, 7) || '-01' as start, "
                                f"date(substr(date, 1, 7) || '-01', '+1 month', '-1 day') as end, "
                                f"{counts} from summary_daily where date >= ? and date <= ? "
                                "group by substr(date, 1, 7)")
    rows = [dict(row) for row in db.query(sql + " order by start", [first, last])]
    return Volume(period, rows)


EVENT_CARD = """select id, title, first_date, substr(last_seen, 1, 10) as last_date,
                       article_count, outlet_count, favor, against, neutral, stance, evidence
                from events"""


def latest_events(db: Database, limit: int = 6) -> list[dict]:
    return list(db.query(f"{EVENT_CARD} where first_date is not null "
                         "order by first_date desc, article_count desc limit ?", [limit]))


def largest_events(db: Database, since: str | None, limit: int = 6) -> list[dict]:
    """The most reported events first reported on or after ``since``."""
    return list(db.query(f"{EVENT_CARD} where first_date >= coalesce(?, '') "
                         "order by article_count desc, first_date desc limit ?", [since, limit]))


def event(db: Database, event_id: int) -> dict | None:
    """An event with its articles in time order (the first ``EVENT_ARTICLES_SHOWN``)."""
    row = next(db.query("select * from events where id = ?", [event_id]), None)
    if row is None:
        return None
    row["articles"] = list(db.query(
        """select a.id, a.title, a.outlet, a.published, a.published_date, a.url,
                  coalesce(t.label, a.stance) as stance, t.confidence, t.evidence, ea.similarity,
                  (select c.label from corrections c where c.article_id = a.id
                   order by c.id desc limit 1) as corrected
           from event_articles ea
           join articles a on a.id = ea.article_id
           left join stance_tags t on t.article_id = a.id
           where ea.event_id = ?
           order by a.published is null, a.published, a.id
           limit ?""", [event_id, EVENT_ARTICLES_SHOWN]))
    return row


def article(db: Database, article_id: str) -> dict | None:
    """An article with its stance tag, its event and the corrections made to its stance."""
    row = next(db.query(
        """select id, title, outlet, author, published, published_date, date_source, url,
                  path, text, language, event_id from articles where id = ?""", [article_id]), None)
    if row is None:
        return None
    tag = next(db.query("select * from stance_tags where article_id = ?", [article_id]), None)
    if tag is not None:
        # Every label's probability; rows written before the scores column have only
        # the per-label columns.
        tag["scores"] = (json.loads(tag["scores"]) if tag.get("scores") else
                         {label: tag[f"score_{label}"] for label in (*STANCES, "unrelated")
                          if tag.get(f"score_{label}") is not None})
        tag["evidence_passages"] = json.loads(tag["evidence_passages"] or "[]")
    row["tag"] = tag
    row["event"] = next(db.query("select id, title, article_count, first_date, stance "
                                 "from events where id = ?", [row["event_id"]]), None)
    row["corrections"] = list(db.query(
        "select label, note, actor, created_at from corrections where article_id = ? "
        "order by id desc", [article_id]))
    return row


def corrected_examples(db: Database) -> list[dict]:
    """The latest correction of each corrected article, with the article's title and text."""
    return list(db.query(
        """select c.article_id, c.label, a.title, a.text from corrections c
           join articles a on a.id = c.article_id
           where c.id = (select max(id) from corrections where article_id = c.article_id)
           order by c.id"""))


def last_corrected(db: Database, actor: str) -> str | None:
    """The article ``actor`` corrected most recently."""
    row = db.execute("select article_id from corrections where actor = ? order by id desc limit 1",
                     [actor]).fetchone()
    return row[0] if row else None

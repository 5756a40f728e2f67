"""SQL views, re-created on every open (``replace=True``) so they track the code."""

from __future__ import annotations

from sqlite_utils import Database

# The stance views read the summary tables that triggers on articles keep up to
# date (db/summaries.py), so a page reads the rows it shows, not every article.
# "relevant" = favor + against + neutral, and the shares are of relevant
# articles, NULL when there are none. articles.stance is copied from
# stance_tags by the tagger.
RELEVANT = "(favor + against + neutral)"
STANCE_COLUMNS = (f"articles, {RELEVANT} as relevant, favor, against, neutral, unrelated, "
                  "untagged")
STANCE_SHARES = ", ".join(
    f"round(1.0 * {label} / nullif({RELEVANT}, 0), 4) as {label}_share"
    for label in ("favor", "against", "neutral")
)

# One column of an article's stance tag (article_stance).
TAG_COLUMN = "(select {expr} from stance_tags t where t.article_id = a.id) as {name}"

VIEWS: dict[str, str] = {
    # The latest run of every job.
    "job_status": """
        select job, max(started_at) as last_started, status, finished_at, duration_s,
               counts, error
        from job_runs
        group by job
        order by job
    """,
    # Inputs that are failing now (not yet resolved by a later success).
    "open_errors": """
        select input, stage, reason, first_seen, last_seen, occurrences
        from errors
        where resolved_at is null
        order by last_seen desc
    """,
    # Every article with its stance and the evidence that decided it (issue 4).
    # Stance and confidence are the copies on articles (indexed, for filters and
    # facets); the rest of the tag is looked up per row shown. No join and no
    # ORDER BY: counting the view's rows reads one index of articles (a LEFT JOIN
    # is not dropped by SQLite, even unused: 1 s to count a million rows).
    # relevance is the probability that the article is on topic (1 - unrelated),
    # on the scale of the scores beside it; relevance_score is the tagger's raw
    # score of its best passage (compared with the relevance threshold).
    "article_stance": f"""
        select a.id, a.title, a.outlet, a.published_date, a.url,
               a.stance, a.stance_confidence as confidence,
               {TAG_COLUMN.format(expr="round(1 - t.score_unrelated, 4)", name="relevance")},
               {", ".join(TAG_COLUMN.format(expr=f"t.{c}", name=c) for c in (
                   "evidence", "score_favor", "score_against", "score_neutral",
                   "score_unrelated", "passages", "engine", "model_id", "tagged_at", "status",
                   "error"))},
               {TAG_COLUMN.format(expr="t.relevance", name="relevance_score")},
               (select c.label from corrections c where c.article_id = a.id
                order by c.id desc limit 1) as corrected_stance
        from articles a
    """,
    # One row per feed with its health (what `tracker feeds list` prints).
    "feeds": """
        select s.id, s.name, s.location as url, s.feed_title, s.site_url,
               case when s.enabled = 0 then 'disabled'
                    when s.last_fetched_at is null then 'new'
                    when s.consecutive_failures > 0 then 'failing'
                    else 'ok' end as health,
               s.enabled, s.full_text, s.last_fetched_at, s.last_success_at, s.last_status,
               s.last_error, s.consecutive_failures,
               case when s.enabled = 1 then s.next_fetch_at end as next_fetch_at,
               s.disabled_reason,
               (select count(*) from articles a where a.source_id = s.id) as articles,
               (select max(a.published) from articles a where a.source_id = s.id)
                   as latest_published,
               (select count(*) from fetches f where f.source_id = s.id) as fetches
        from sources s
        where s.kind = 'feed'
        order by s.id
    """,
    # --- The timeline (issue 7); example SQL for each is in the README. ---
    # Events by the day they were first reported, with their stance. No ORDER BY
    # and no join: SQLite then flattens the view into a query on it, so counting
    # its rows or faceting it reads events' indexes (0.3 s at 35,000 events with
    # them); Datasette and the canned queries sort it themselves.
    "timeline": """
        select e.first_date as date, e.id as event_id, e.title, e.article_count,
               e.outlet_count, e.stance, e.favor, e.against, e.neutral, e.unrelated,
               e.mean_favor, e.mean_against, e.mean_neutral, e.first_seen, e.last_seen,
               e.evidence, e.representative_article_id,
               (select a.url from articles a where a.id = e.representative_article_id)
                   as representative_url
        from events e
    """,
    "stance_daily": f"""
        select date, {STANCE_COLUMNS}, {STANCE_SHARES}
        from summary_daily
        order by date desc
    """,
    # Weeks start on Monday (summary_weekly.week); week_end is the Sunday.
    "stance_weekly": f"""
        select week, date(week, '+6 days') as week_end, {STANCE_COLUMNS}, {STANCE_SHARES}
        from summary_weekly
        order by week desc
    """,
    # An unknown outlet is '' in the summaries; an outlet's first and last day
    # are two index lookups in summary_outlet_daily ('' = undated sorts first).
    "stance_by_outlet": f"""
        select case when o.outlet = '' then '(unknown)' else o.outlet end as outlet,
               {STANCE_COLUMNS}, {STANCE_SHARES}, events,
               (select min(d.date) from summary_outlet_daily d
                where d.outlet = o.outlet and d.date > '') as first_date,
               (select max(d.date) from summary_outlet_daily d
                where d.outlet = o.outlet and d.date > '') as last_date
        from summary_outlets o
        where articles > 0
        order by articles desc
    """,
}


def create_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)

"""SQL views, re-created on every open (``replace=True``) so they track the code."""

from __future__ import annotations

from sqlite_utils import Database

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
        from ingest_errors
        where resolved_at is null
        order by last_seen desc
    """,
    # One row per feed with its health (what `tracker feeds list` prints).
    "feeds": """
        select s.id, s.name, s.location as url, s.feed_title, s.site_url,
               case when s.enabled = 0 then 'disabled'
                    when s.last_fetched_at is null then 'new'
                    when s.consecutive_failures > 0 then 'failing'
                    else 'ok' end as health,
               s.enabled, s.full_text, s.last_fetched_at, s.last_success_at, s.last_status,
               s.last_error, s.consecutive_failures, s.next_fetch_at, s.disabled_reason,
               (select count(*) from articles a where a.source_id = s.id) as articles,
               (select max(a.published) from articles a where a.source_id = s.id)
                   as latest_published,
               (select count(*) from fetches f where f.source_id = s.id) as fetches
        from sources s
        where s.kind = 'feed'
        order by s.id
    """,
}


def create_views(db: Database) -> None:
    for name, sql in VIEWS.items():
        db.create_view(name, sql.strip(), replace=True)

"""The schema, declared once as sqlite-utils migrations.

Never edit a migration that has shipped: add a new function below the last
one. Migrations run in the order they are defined here, each in a transaction.
Column meanings are documented in ``metadata.yml`` (shown in Datasette) and
in the README.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("tracker")


@migrations(name="0001_initial")
def initial(db: Database) -> None:
    # Where articles come from: a folder or file of text articles, or a feed.
    db["sources"].create(
        {
            "id": int,
            "kind": str,  # "files" or "feed"
            "location": str,  # folder/file path or feed URL
            "name": str,
            "enabled": int,
            "full_text": int,  # feeds: fetch the linked page for the article text
            "etag": str,
            "last_modified": str,
            "last_fetched_at": str,
            "last_status": str,
            "last_error": str,
            "consecutive_failures": int,
            "next_fetch_at": str,
            "disabled_reason": str,
            "created_at": str,
        },
        pk="id",
        not_null={"kind", "location"},
        defaults={"enabled": 1, "full_text": 0, "consecutive_failures": 0},
    )
    db["sources"].create_index(["location"], unique=True)

    db["articles"].create(
        {
            "id": str,  # stable: hash of the file path, or of the feed entry's GUID/link
            "source_id": int,
            "kind": str,  # "file" or "feed"
            "url": str,
            "path": str,
            "guid": str,
            "title": str,
            "outlet": str,
            "author": str,
            "published": str,  # UTC ISO 8601, e.g. 2025-02-27T00:00:00Z
            "published_date": str,  # YYYY-MM-DD, for date facets
            "date_source": str,  # dateline / inferred / published / updated / fetched / unknown
            "text": str,
            "content_hash": str,
            "word_count": int,
            "bozo": int,  # feed entry from a feed that was not well-formed
            "stance": str,  # copied from stance_tags for facets
            "stance_confidence": float,
            "event_id": int,  # copied from event_articles for facets
            "ingested_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
        not_null={"title", "text", "content_hash"},
    )
    db["articles"].create_index(["published"])
    db["articles"].create_index(["published_date"])
    db["articles"].create_index(["content_hash"])
    db["articles"].create_index(["source_id"])
    db["articles"].create_index(["stance"])
    db["articles"].create_index(["event_id"])
    db["articles"].create_index(["outlet"])
    db["articles"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter")

    # One row per article: the latest stance tag and what produced it.
    db["stance_tags"].create(
        {
            "article_id": str,
            "label": str,  # favor / against / neutral / unrelated, or NULL on error
            "relevance": float,
            "score_favor": float,
            "score_against": float,
            "score_neutral": float,
            "confidence": float,
            "evidence": str,  # the passage that decided the label
            "evidence_passages": str,  # JSON list of the relevant passages and their scores
            "engine": str,
            "model_id": str,
            "model_hash": str,
            "config_hash": str,
            "content_hash": str,
            "status": str,  # ok / error
            "error": str,
            "tagged_at": str,
        },
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["stance_tags"].create_index(["label"])
    db["stance_tags"].create_index(["content_hash", "model_hash", "config_hash"])

    db["events"].create(
        {
            "id": int,
            "title": str,
            "representative_article_id": str,
            "first_seen": str,
            "last_seen": str,
            "first_date": str,
            "article_count": int,
            "outlet_count": int,
            "favor": int,
            "against": int,
            "neutral": int,
            "unrelated": int,
            "stance": str,
            "mean_favor": float,
            "mean_against": float,
            "mean_neutral": float,
            "evidence": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("representative_article_id", "articles", "id")],
    )
    db["events"].create_index(["first_seen"])
    db["events"].create_index(["first_date"])
    db["event_articles"].create(
        {"event_id": int, "article_id": str, "similarity": float, "assigned_at": str},
        pk="article_id",
        foreign_keys=[("event_id", "events", "id"), ("article_id", "articles", "id")],
    )
    db["event_articles"].create_index(["event_id"])

    # Every feed fetch, for politeness auditing and feed health.
    db["fetches"].create(
        {
            "id": int,
            "source_id": int,
            "started_at": str,
            "status_code": int,
            "outcome": str,  # ok / not_modified / error / skipped
            "bytes": int,
            "duration_ms": float,
            "new_entries": int,
            "updated_entries": int,
            "bozo": int,
            "error": str,
        },
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
    )
    db["fetches"].create_index(["source_id", "started_at"])
    db["fetches"].create_index(["started_at"])

    db["job_runs"].create(
        {
            "id": int,
            "job": str,
            "trigger": str,  # cli / schedule / once / startup
            "started_at": str,
            "finished_at": str,
            "duration_s": float,
            "status": str,  # running / ok / partial / error / interrupted
            "counts": str,  # JSON object of what the job did
            "error": str,
            "pid": int,
        },
        pk="id",
    )
    db["job_runs"].create_index(["job", "started_at"])

    # Inputs that could not be used, with the reason; resolved_at is set when
    # the same input later succeeds.
    db["ingest_errors"].create(
        {
            "id": int,
            "input": str,  # file path or feed URL
            "stage": str,  # read / parse / fetch / tag
            "reason": str,
            "first_seen": str,
            "last_seen": str,
            "occurrences": int,
            "resolved_at": str,
        },
        pk="id",
        defaults={"occurrences": 1},
    )
    db["ingest_errors"].create_index(["input", "stage"], unique=True)


@migrations(name="0002_feeds")
def feeds(db: Database) -> None:
    # Feed health beyond what 0001 had: the feed's own title and site, when it
    # last succeeded, and a hash of the last body so an unchanged 200 (servers
    # without ETag/Last-Modified) costs no parsing either.
    db["sources"].add_column("feed_title", str)
    db["sources"].add_column("site_url", str)
    db["sources"].add_column("last_success_at", str)
    db["sources"].add_column("body_hash", str)
    # Linked pages of full_text feeds are fetched too and recorded beside feed fetches.
    db["fetches"].add_column("kind", str)  # feed / page
    db["fetches"].add_column("url", str)
    db["fetches"].create_index(["url"])
    # Cross-feed dedupe looks articles up by canonical link.
    db["articles"].create_index(["url"])
    db["articles"].create_index(["guid"])


@migrations(name="0003_tagging")
def tagging(db: Database) -> None:
    # Every label's score (JSON, so another topic's labels fit too), the
    # unrelated score beside the per-label columns of 0001, and how many
    # passages the article was split into.
    db["stance_tags"].add_column("score_unrelated", float)
    db["stance_tags"].add_column("scores", str)
    db["stance_tags"].add_column("passages", int)
    db["stance_tags"].create_index(["status"])


@migrations(name="0004_events")
def events(db: Database) -> None:
    # Headline+lead embeddings for event grouping, so an incremental run embeds
    # only new or changed articles. A cache: no foreign key, rows of deleted
    # articles are pruned by the events job.
    db["article_embeddings"].create(
        {
            "article_id": str,
            "content_hash": str,  # articles.content_hash the vector was made from
            "model": str,  # model@weights-hash/leadN: what made the vector
            "dims": int,
            "vector": bytes,  # float32, unit length
            "embedded_at": str,
        },
        pk="article_id",
    )
    # Settings the current grouping was made with (key settings_hash): when
    # they change, the next events run rebuilds.
    db["event_settings"].create({"key": str, "value": str}, pk="key")
    # Covering indexes for the timeline views (stance per day, per outlet) and
    # the stance facet of events: 2-20x faster at 100,000 articles
    # (bench/timeline_queries.py).
    db["articles"].create_index(["published_date", "stance"])
    db["articles"].create_index(["outlet", "stance", "published_date", "event_id"])
    db["events"].create_index(["stance"])
    # The search box on the events table: headlines and evidence.
    db["events"].enable_fts(["title", "evidence"], create_triggers=True, tokenize="porter")


@migrations(name="0005_service")
def service(db: Database) -> None:
    # Written by the running `tracker run` so that `tracker status` and
    # Datasette can show when each job runs next.
    db["schedule"].create(
        {
            "job": str,
            "schedule": str,  # "every 15 min" or "cron 17 3 * * *"
            "timezone": str,
            "enabled": int,
            "timeout_minutes": float,
            "next_run_at": str,  # UTC ISO 8601; NULL when disabled
            "updated_at": str,
        },
        pk="job",
    )
    # One row (id 1): the service process, while it runs and after it stopped.
    db["service_state"].create(
        {
            "id": int,
            "pid": int,
            "state": str,  # running / stopped
            "started_at": str,
            "stopped_at": str,
            "serving": str,  # Datasette URL, or NULL with --no-serve
            "note": str,  # why it stopped (SIGTERM, Ctrl-C, an error)
        },
        pk="id",
    )


@migrations(name="0006_errors")
def errors(db: Database) -> None:
    # Failures of every stage (read, parse, fetch, fulltext, store, config, tag)
    # live here, not only ingest's: the table's name now says so.
    db.rename_table("ingest_errors", "errors")


@migrations(name="0007_feeds_and_languages")
def feeds_and_languages(db: Database) -> None:
    # The language each article is written in (ISO 639-1, py3langid) and how sure
    # the detector is: the tagger reads only the languages its models support.
    db["articles"].add_column("language", str)
    db["articles"].add_column("language_confidence", float)
    db["articles"].create_index(["language"])
    # Authors' e-mail addresses, kept apart from articles.author (a name) and not
    # published: metadata.yml lets only the root actor see this table.
    db["author_emails"].create(
        {"article_id": str, "email": str},
        pk="article_id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    # A feed that moved for good (301/308): its stored URL follows, and the move is kept.
    db["feed_moves"].create(
        {"id": int, "source_id": int, "old_url": str, "new_url": str, "status_code": int,
         "moved_at": str},
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
    )
    db["feed_moves"].create_index(["source_id"])


@migrations(name="0010_summaries")
def summaries(db: Database) -> None:
    # Counts of articles by stance per day, week, outlet, outlet and day, outlet
    # and event, and per value of the faceted columns, so that the timeline views,
    # the charts and the articles page read a few rows instead of every article
    # (issue 17). db/summaries.py fills them and creates the triggers that keep
    # them up to date (on the first open after this migration).
    counts = {"articles": int, "favor": int, "against": int, "neutral": int,
              "unrelated": int, "untagged": int}
    zeros = {column: 0 for column in counts}
    db["summary_daily"].create({"date": str, **counts}, pk="date", defaults=zeros,
                               not_null=set(counts))
    db["summary_weekly"].create({"week": str, **counts}, pk="week", defaults=zeros,
                                not_null=set(counts))
    db["summary_outlets"].create({"outlet": str, **counts, "events": int}, pk="outlet",
                                 defaults={**zeros, "events": 0}, not_null={*counts, "events"})
    db["summary_outlet_daily"].create({"outlet": str, "date": str, **counts},
                                      pk=("outlet", "date"), defaults=zeros, not_null=set(counts))
    db["summary_outlet_events"].create({"outlet": str, "event_id": int, "articles": int},
                                       pk=("outlet", "event_id"), defaults={"articles": 0},
                                       not_null={"articles"})
    # Per stance too, so that facets of articles filtered by stance are counted here.
    db["summary_values"].create({"column_name": str, "value": str, "stance": str, "articles": int},
                                pk=("column_name", "value", "stance"), defaults={"articles": 0},
                                not_null={"articles"})
    # The hash of the trigger definitions the tables were built with.
    db["summary_settings"].create({"key": str, "value": str}, pk="key")
    # The largest events first (the dashboard's event chart, the story page), and
    # the timeline's own order (newest day first, then the largest): its pages and
    # timeline_between then read the rows they show instead of sorting every event.
    db["events"].create_index(["article_count", "first_date"])
    db["events"].create_index(["first_date", "article_count"])
    # Deleting an article checks (foreign key) and clears the events it represents:
    # without this index, each deleted article scanned every event (5,000 articles
    # out of 100,000 took 47 s; bench/summary_writes.py).
    db["events"].create_index(["representative_article_id"])


@migrations(name="0011_corrections")
def corrections(db: Database) -> None:
    # An analyst's correction of an article's stance (issue 14), written by the
    # correct_stance canned query (signed-in actors only). The tag stays as the
    # tagger made it; pages show both, and `tracker eval --corrections` scores
    # the tagger against the latest correction of each article.
    db["corrections"].create(
        {"id": int, "article_id": str, "label": str, "note": str, "actor": str,
         "created_at": str},
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        not_null={"article_id", "label", "actor", "created_at"},
    )
    db["corrections"].create_index(["article_id"])
    # The canned query is SQL on a form: refuse what no page would send. (Datasette's
    # connections do not enforce foreign keys, so the trigger checks the article.)
    db.execute("""
        create trigger corrections_valid before insert on corrections
        begin
          select raise(abort, 'no such article')
          where not exists (select 1 from articles where id = new.article_id);
          select raise(abort, 'unknown stance label')
          where new.label not in ('favor', 'against', 'neutral', 'unrelated')
            and not exists (select 1 from stance_tags where label = new.label);
          select raise(abort, 'the note is longer than 2000 characters')
          where length(new.note) > 2000;
        end
    """)


@migrations(name="0020_events_sweep")
def events_sweep(db: Database) -> None:
    # Events are made by a sweep in publication order (tracker/analysis/events.py);
    # an undated article joins the event of its most similar dated article, which is
    # kept here so that a run need not compare it with every dated article again.
    db["event_articles"].add_column("linked_to", str)

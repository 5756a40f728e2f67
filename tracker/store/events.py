"""``events``, ``event_articles``, ``article_embeddings`` and ``event_settings``.

The events job (``jobs/events.py``) reads the current grouping and cached
vectors through these functions, regroups with :mod:`tracker.analysis.events`
and writes the result back with :func:`write_grouping`, in one transaction
that also refreshes the stance statistics of every touched event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from sqlite_utils import Database

from tracker.analysis.events import majority_stance
from tracker.store.articles import chunks, placeholders, titles
from tracker.timeutil import utc_now_iso

# -- the grouping as it stands ---------------------------------------------------------


def settings_hash(db: Database) -> str | None:
    """The hash of the ``[events]`` settings the current grouping was made with."""
    row = db.execute("select value from event_settings where key = 'settings_hash'").fetchone()
    return row[0] if row else None


def has_grouping(db: Database) -> bool:
    return db.execute("select 1 from event_articles limit 1").fetchone() is not None


# Whether an article is grouped: not tagged unrelated (untagged ones are).
ELIGIBLE = "coalesce(t.label, a.stance, '') != 'unrelated'"


def new_articles(db: Database) -> dict[str, str | None]:
    """``id -> published`` of eligible articles in no event (new, or relevant again)."""
    return {row[0]: row[1] for row in db.execute(
        f"""select a.id, a.published from articles a
            left join stance_tags t on t.article_id = a.id
            left join event_articles ea on ea.article_id = a.id
            where ea.article_id is null and {ELIGIBLE}""")}


def gone_members(db: Database) -> dict[str, dict]:
    """Grouped articles that may no longer be grouped (now tagged unrelated):
    ``id -> {published, event_id}``."""
    return {row["article_id"]: row for row in db.query(
        f"""select ea.article_id, a.published, ea.event_id from event_articles ea
            join articles a on a.id = ea.article_id
            left join stance_tags t on t.article_id = a.id
            where not ({ELIGIBLE})""")}


def members_info(db: Database, ids: Iterable[str]) -> dict[str, dict]:
    """``id -> {published, event_id, first_seen}`` of grouped articles among ``ids``
    (``first_seen``: when their event started)."""
    found = {}
    for chunk in chunks(sorted(ids)):
        for row in db.query(
            f"""select ea.article_id, a.published, ea.event_id, e.first_seen
                from event_articles ea join articles a on a.id = ea.article_id
                left join events e on e.id = ea.event_id
                where ea.article_id in ({placeholders(chunk)})""", chunk):
            found[row["article_id"]] = row
    return found


def eligible_ids(db: Database, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(sorted(ids)):
        found |= {row[0] for row in db.execute(
            f"""select a.id from articles a left join stance_tags t on t.article_id = a.id
                where a.id in ({placeholders(chunk)}) and {ELIGIBLE}""", chunk)}
    return found


def dated_since(db: Database, start_iso: str | None) -> list[dict]:
    """Eligible dated articles published at or after ``start_iso`` (all with None):
    id, published, their event (None if in none)."""
    return list(db.query(
        f"""select a.id, a.published, ea.event_id from articles a
            left join stance_tags t on t.article_id = a.id
            left join event_articles ea on ea.article_id = a.id
            where a.published is not null and a.published >= ? and {ELIGIBLE}""",
        [start_iso or ""]))


def grouped_dated_between(db: Database, start_iso: str, end_iso: str) -> list[dict]:
    """Grouped, eligible articles published in ``[start_iso, end_iso)``: id, published,
    event, and when that event started (``first_seen``)."""
    return list(db.query(
        f"""select a.id, a.published, ea.event_id, e.first_seen from event_articles ea
            join articles a on a.id = ea.article_id
            join events e on e.id = ea.event_id
            left join stance_tags t on t.article_id = a.id
            where a.published >= ? and a.published < ? and {ELIGIBLE}""",
        [start_iso, end_iso]))


def undated_articles(db: Database) -> list[dict]:
    """Eligible articles without a date: id, their event, similarity and ``linked_to``."""
    return list(db.query(
        f"""select a.id, ea.event_id, ea.similarity, ea.linked_to from articles a
            left join stance_tags t on t.article_id = a.id
            left join event_articles ea on ea.article_id = a.id
            where a.published is null and {ELIGIBLE}"""))


def dated_in_chunks(db: Database, size: int = 5000) -> Iterable[list[str]]:
    """Every eligible dated article's id, a chunk at a time (for undated articles,
    whose match may be anywhere in time)."""
    ids = [row[0] for row in db.execute(
        f"""select a.id from articles a left join stance_tags t on t.article_id = a.id
            where a.published is not null and {ELIGIBLE} order by a.id""")]
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def members_of(db: Database, event_ids: Iterable[int]) -> dict[int, set[str]]:
    """``event_id -> its articles`` for ``event_ids``."""
    found: dict[int, set[str]] = {}
    for chunk in chunks(sorted(e for e in set(event_ids) if e is not None)):
        for row in db.execute(
            f"select event_id, article_id from event_articles where event_id in "
            f"({placeholders(chunk)})", chunk):
            found.setdefault(row[0], set()).add(row[1])
    return found


def assignments(db: Database, ids: Iterable[str]) -> dict[str, dict]:
    """``article_id -> {event_id, similarity, linked_to, assigned_at}`` of grouped ``ids``."""
    found = {}
    for chunk in chunks(sorted(ids)):
        for row in db.query(
            f"select article_id, event_id, similarity, linked_to, assigned_at from "
            f"event_articles where article_id in ({placeholders(chunk)})", chunk):
            found[row["article_id"]] = row
    return found


def published(db: Database, ids: Iterable[str]) -> dict[str, str | None]:
    found = {}
    for chunk in chunks(sorted(ids)):
        found.update(db.execute(
            f"select id, published from articles where id in ({placeholders(chunk)})", chunk))
    return found


def eligible_count(db: Database) -> int:
    return db.execute(f"select count(*) from articles a left join stance_tags t "
                      f"on t.article_id = a.id where {ELIGIBLE}").fetchone()[0]


def next_event_id(db: Database) -> int:
    return (db.execute("select max(id) from events").fetchone()[0] or 0) + 1


def event_count(db: Database) -> int:
    return db.execute("select count(*) from events").fetchone()[0]


# -- cached headline+lead vectors ------------------------------------------------------


def stale_embeddings(db: Database, model_key: str) -> set[str]:
    """Eligible articles whose cached vector is missing, or made from another text or
    model (articles tagged unrelated are never embedded: most of a stream)."""
    return {row[0] for row in db.execute(
        f"""select a.id from articles a left join article_embeddings e on e.article_id = a.id
            left join stance_tags t on t.article_id = a.id
            where (e.article_id is null or e.content_hash is not a.content_hash
                   or e.model is not ?) and {ELIGIBLE}""", [model_key])}


def save_embeddings(db: Database, rows: list[dict], vectors: np.ndarray, model_key: str) -> None:
    """Cache one vector per article row (``id``, ``content_hash``) in one transaction."""
    now = utc_now_iso()
    with db.atomic():
        db["article_embeddings"].upsert_all(
            ({"article_id": r["id"], "content_hash": r["content_hash"], "model": model_key,
              "dims": int(v.shape[0]), "vector": v.astype(np.float32).tobytes(),
              "embedded_at": now} for r, v in zip(rows, vectors)),
            pk="article_id",
        )


def load_vectors(db: Database, ids: Iterable[str]) -> dict[str, np.ndarray]:
    found = {}
    for chunk in chunks(list(ids)):
        for row in db.query(
            f"select article_id, vector from article_embeddings "
            f"where article_id in ({placeholders(chunk)})", chunk,
        ):
            found[row["article_id"]] = np.frombuffer(row["vector"], dtype=np.float32)
    return found


# -- writing a regrouping ------------------------------------------------------------


@dataclass
class Placed:
    """An article's place after a run: its event and how it joined it."""

    event_id: int
    similarity: float | None
    linked_to: str | None = None


def write_grouping(db: Database, placed: dict[str, Placed], *, gone: Iterable[str],
                   changed: set[str], representatives: dict[int, str],
                   deleted_events: set[int], settings_hash_value: str) -> int:
    """Write the new places of ``placed`` articles, drop ``gone`` ones from their events.

    One transaction: memberships (``assigned_at`` kept for an article that stays
    in its event), ``articles.event_id``, the rows of the events given with their
    ``representatives``, deleted events, the vector cache of deleted articles,
    the settings hash and the statistics of every touched or retagged event --
    no event is ever visible with stale counts. Returns how many events'
    statistics were rewritten.
    """
    now = utc_now_iso()
    gone = sorted(gone)
    with db.atomic():
        before = assignments(db, placed)
        for chunk in chunks(sorted(set(placed) | set(gone))):
            db.execute(f"delete from event_articles where article_id in ({placeholders(chunk)})",
                       chunk)
        names = titles(db, list(representatives.values()))
        db["events"].upsert_all(
            ({"id": event_id, "title": names[aid], "representative_article_id": aid,
              "updated_at": now} for event_id, aid in representatives.items()),
            pk="id",
        )
        rows = []
        by_event: dict[int, list[str]] = {}
        for aid, place in placed.items():
            old = before.get(aid)
            kept = old is not None and old["event_id"] == place.event_id and aid not in changed
            rows.append({"event_id": place.event_id, "article_id": aid,
                         "similarity": None if place.similarity is None
                         else round(place.similarity, 4),
                         "assigned_at": old["assigned_at"] if kept else now,
                         "linked_to": place.linked_to})
            by_event.setdefault(place.event_id, []).append(aid)
        db["event_articles"].insert_all(rows, pk="article_id")
        for event_id, ids in by_event.items():
            for chunk in chunks(sorted(ids)):
                db.execute(
                    f"""update articles set event_id = ? where id in ({placeholders(chunk)})
                        and event_id is not ?""",
                    [event_id, *chunk, event_id])
        for chunk in chunks(gone):
            db.execute(f"""update articles set event_id = null
                           where id in ({placeholders(chunk)}) and event_id is not null""", chunk)
        for chunk in chunks(sorted(deleted_events)):
            db.execute(f"delete from events where id in ({placeholders(chunk)})", chunk)
        # Cached vectors of deleted articles are of no use any more.
        db.execute("delete from article_embeddings where article_id not in (select id from articles)")
        db["event_settings"].upsert({"key": "settings_hash", "value": settings_hash_value},
                                    pk="key")
        stale_stats = set(representatives) | retagged_events(db)
        return update_event_stats(db, sorted(stale_stats))


def retagged_events(db: Database) -> set[int]:
    """Events with an article tagged or changed since the event row was written."""
    return {row[0] for row in db.execute(
        """select distinct ea.event_id from event_articles ea
           join events e on e.id = ea.event_id
           join articles a on a.id = ea.article_id
           left join stance_tags t on t.article_id = ea.article_id
           where e.updated_at is null or t.tagged_at >= e.updated_at or a.updated_at >= e.updated_at"""
    )}


STATS_SQL = """
select ea.event_id as id,
       count(*) as article_count,
       -- an article whose outlet is unknown counts as an outlet of its own
       count(distinct coalesce(a.outlet, a.id)) as outlet_count,
       count(case when coalesce(t.label, a.stance) = 'favor' then 1 end) as favor,
       count(case when coalesce(t.label, a.stance) = 'against' then 1 end) as against,
       count(case when coalesce(t.label, a.stance) = 'neutral' then 1 end) as neutral,
       count(case when coalesce(t.label, a.stance) = 'unrelated' then 1 end) as unrelated,
       avg(case when t.label is not null then t.score_favor end) as mean_favor,
       avg(case when t.label is not null then t.score_against end) as mean_against,
       avg(case when t.label is not null then t.score_neutral end) as mean_neutral,
       coalesce(min(a.published), min(a.ingested_at)) as first_seen,
       coalesce(max(a.published), max(a.ingested_at)) as last_seen
from event_articles ea
join articles a on a.id = ea.article_id
left join stance_tags t on t.article_id = ea.article_id
where ea.event_id in ({ids})
group by ea.event_id
"""


def event_stats(db: Database, event_ids: list[int]) -> list[dict]:
    """Counts, dates, stance and evidence of ``event_ids`` computed from their articles
    and stance tags (stance counts are 0 while nothing is tagged)."""
    found = []
    for chunk in chunks(event_ids):
        for row in list(db.query(STATS_SQL.format(ids=placeholders(chunk)), chunk)):
            row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
            row["stance"] = majority_stance(row["favor"], row["against"], row["neutral"])
            row["first_date"] = row["first_seen"][:10] if row["first_seen"] else None
            row["evidence"] = _evidence(db, row["id"], row["stance"])
            found.append(row)
    return found


def update_event_stats(db: Database, event_ids: list[int]) -> int:
    """Recompute the statistics of ``event_ids`` (:func:`event_stats`) and store them."""
    now = utc_now_iso()
    with db.atomic():
        rows = event_stats(db, event_ids)
        if rows:
            # One prepared statement (Table.update() reads the schema on every call).
            columns = [c for c in rows[0] if c != "id"] + ["updated_at"]
            db.conn.executemany(
                f"update events set {', '.join(f'[{c}] = ?' for c in columns)} where id = ?",
                [[row[c] for c in columns[:-1]] + [now, row["id"]] for row in rows])
    return len(rows)


def event_ids(db: Database) -> list[int]:
    return [row[0] for row in db.execute("select id from events order by id")]


def events_of_articles(db: Database, article_ids: list[str]) -> set[int]:
    """The events these articles belong to."""
    found: set[int] = set()
    for chunk in chunks(article_ids):
        found |= {row[0] for row in db.execute(
            f"select distinct event_id from event_articles where article_id in ({placeholders(chunk)})",
            chunk)}
    return found


def stored_event_stats(db: Database, columns: list[str]) -> dict[int, dict]:
    """``columns`` of every event row, by id (to compare with :func:`event_stats`)."""
    return {row["id"]: row for row in db.query(
        f"select id, {', '.join(columns)} from events")}


def _evidence(db: Database, event_id: int, stance: str | None) -> str | None:
    """The evidence passage of the most confident tag agreeing with the event's stance
    (for a mixed or untagged event: the representative article's, if any)."""
    if stance in ("favor", "against", "neutral"):
        row = db.execute(
            """select t.evidence from event_articles ea join stance_tags t on t.article_id = ea.article_id
               where ea.event_id = ? and t.label = ? and t.evidence is not null
               order by t.confidence desc, ea.article_id limit 1""",
            [event_id, stance]).fetchone()
        if row:
            return row[0]
    row = db.execute(
        """select t.evidence from events e join stance_tags t on t.article_id = e.representative_article_id
           where e.id = ?""", [event_id]).fetchone()
    return row[0] if row else None

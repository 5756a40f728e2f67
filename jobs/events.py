"""Job: group relevant articles into events, incrementally.

Which articles: every article not tagged ``unrelated``. Untagged articles are
grouped too (a story is followed before the tagger has caught up); an article
that the tagger later calls ``unrelated`` leaves its event on the next run.

Each run:

1. embeds headline + lead of articles that are new or changed (vectors are
   cached in ``article_embeddings`` by content hash and model);
2. finds the events the new articles link to, and the events that lost an
   article (deleted, changed or now ``unrelated``);
3. regroups exactly those events plus the new articles with
   :func:`tracker.events.group_articles` -- the link graph is local, so this
   equals a full rebuild (``rebuild=True``, ``tracker events --rebuild``);
4. writes ``events``, ``event_articles`` and ``articles.event_id``, and
   refreshes the stance statistics of every event whose articles were
   (re)tagged since it was last written.

Changing ``[events]`` settings (threshold, window, lead, model) makes the next
run a full rebuild by itself, since old links were made under other rules.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
from sqlite_utils import Database

from tracker.config import Config, EventsConfig
from tracker.events import GroupingArticle, group_articles, grouping_text, iso_to_day, majority_stance
from tracker.shutdown import should_stop
from tracker.timeutil import utc_now_iso

CHUNK = 500  # ids per "in (...)" query, well under SQLite's variable limit


@dataclass
class EventsSummary:
    articles: int = 0  # relevant (or untagged) articles, all grouped after the run
    new: int = 0  # articles grouped this run (new, changed, or relevant again)
    removed: int = 0  # articles that left their event (deleted, changed or now unrelated)
    embedded: int = 0  # embeddings computed this run; the rest came from the cache
    regrouped: int = 0  # articles whose grouping was recomputed (new + their events)
    events: int = 0  # events after the run
    created: int = 0
    deleted: int = 0  # events merged into another or left empty
    stats_updated: int = 0  # events whose counts and stance were rewritten
    rebuilt: bool = False
    failed: int = 0


def settings_hash(settings: EventsConfig, model_key: str) -> str:
    """What the links depend on: changing any of it invalidates the grouping."""
    payload = json.dumps(
        {"threshold": settings.similarity_threshold, "window_days": settings.window_days,
         "lead_words": settings.lead_words, "model": model_key},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(items: list) -> str:
    return ", ".join("?" for _ in items)


class EmbeddingCache:
    """Headline+lead vectors in ``article_embeddings``, keyed by content hash and model."""

    def __init__(self, db: Database, settings: EventsConfig, embedder=None):
        self.db = db
        self.settings = settings
        self._embedder = embedder

    @property
    def embedder(self):
        if self._embedder is None:
            from tracker.embeddings import get_embedder

            self._embedder = get_embedder(self.settings.embedding_model)
        return self._embedder

    @functools.cached_property
    def model_key(self) -> str:
        # From the weight files, without loading the model: a run with nothing
        # new to embed never loads it.
        from tracker.embeddings import resolve_model_path, weights_hash

        path = resolve_model_path(self.settings.embedding_model)
        return f"{self.settings.embedding_model}@{weights_hash(path)}/lead{self.settings.lead_words}"

    def stale(self) -> set[str]:
        """Articles whose cached vector is missing, or made from another text or model."""
        return {row[0] for row in self.db.execute(
            """select a.id from articles a left join article_embeddings e on e.article_id = a.id
               where e.article_id is null or e.content_hash is not a.content_hash
                  or e.model is not ?""", [self.model_key])}

    def ensure(self, stale: list[str]) -> tuple[int, bool]:
        """Embed the articles ``stale`` (see :meth:`stale`) and cache their vectors.

        Returns how many were embedded, and whether all of them were: on a
        shutdown or time limit it stops between batches (what is embedded is
        kept, the next run goes on from there)."""
        model = self.model_key
        done = 0
        for chunk in _chunks(stale, 256):
            if should_stop():
                return done, False
            rows = list(self.db.query(
                f"select id, title, text, content_hash from articles where id in ({_placeholders(chunk)})",
                chunk))
            vectors = self.embedder.encode(
                [grouping_text(r["title"], r["text"], self.settings.lead_words) for r in rows])
            now = utc_now_iso()
            with self.db.atomic():
                self.db["article_embeddings"].upsert_all(
                    ({"article_id": r["id"], "content_hash": r["content_hash"], "model": model,
                      "dims": int(v.shape[0]), "vector": v.astype(np.float32).tobytes(),
                      "embedded_at": now} for r, v in zip(rows, vectors)),
                    pk="article_id",
                )
            done += len(rows)
        return done, True

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        found = {}
        for chunk in _chunks(list(ids)):
            for row in self.db.query(
                f"select article_id, vector from article_embeddings where article_id in ({_placeholders(chunk)})",
                chunk,
            ):
                found[row["article_id"]] = np.frombuffer(row["vector"], dtype=np.float32)
        return found


def run_events(db: Database, config: Config, rebuild: bool = False, embedder=None) -> EventsSummary:
    """Bring events up to date with the articles (everything again with ``rebuild``).

    Runs on one database take turns (a `tracker events` while the service's
    job runs waits for it): each reads the grouping the other may be changing.
    """
    with _exclusive(db):
        return _run_events(db, config, rebuild, embedder)


@contextlib.contextmanager
def _exclusive(db: Database) -> Iterator[None]:
    """An flock on ``<database>.events.lock``, released however the process ends."""
    row = db.execute("pragma database_list").fetchone()
    if not row or not row[2]:  # in-memory database: one process only
        yield
        return
    with open(f"{row[2]}.events.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_events(db: Database, config: Config, rebuild: bool, embedder) -> EventsSummary:
    settings = config.events
    summary = EventsSummary()
    cache = EmbeddingCache(db, settings, embedder)
    current_hash = settings_hash(settings, cache.model_key)
    stored = db.execute("select value from event_settings where key = 'settings_hash'").fetchone()
    has_events = db.execute("select 1 from event_articles limit 1").fetchone() is not None
    if has_events and (stored is None or stored[0] != current_hash):
        rebuild = True  # the old links were made under other settings
    summary.rebuilt = rebuild

    eligible = {
        row["id"]: row
        for row in db.query(
            """select a.id, a.published, a.content_hash, ea.event_id, ea.assigned_at
               from articles a
               left join stance_tags t on t.article_id = a.id
               left join event_articles ea on ea.article_id = a.id
               where coalesce(t.label, a.stance, '') != 'unrelated'"""
        )
    }
    summary.articles = len(eligible)
    members = {
        row["article_id"]: row
        for row in db.query("select article_id, event_id, assigned_at from event_articles")
    }
    # Members that may no longer be grouped: deleted or now unrelated.
    gone = [aid for aid in members if aid not in eligible]
    # Changed text (or model): the cached vector, and so every link, is out of date.
    stale = cache.stale()
    changed_before = (stale & members.keys()) - set(gone)
    summary.embedded, complete = cache.ensure(sorted(stale & eligible.keys()))
    if not complete:
        return summary  # stopped early: grouping needs every vector, next run goes on

    if rebuild:
        local_ids = set(eligible)
        new_ids = {aid for aid in eligible if aid not in members} | changed_before
    else:
        new_ids = {aid for aid in eligible if aid not in members} | changed_before
        affected = {members[aid]["event_id"] for aid in gone} | {
            members[aid]["event_id"] for aid in changed_before}
        affected |= _linked_events(db, cache, settings, eligible, new_ids)
        local_ids = set(new_ids)
        for chunk in _chunks(sorted(e for e in affected if e is not None)):
            local_ids |= {row["article_id"] for row in db.query(
                f"select article_id from event_articles where event_id in ({_placeholders(chunk)})",
                chunk)}
        local_ids &= set(eligible)
    summary.new = len(new_ids)
    summary.removed = len(gone) + len(changed_before)
    summary.regrouped = len(local_ids)

    vectors = cache.vectors(local_ids)
    local = [
        GroupingArticle(
            id=aid, day=iso_to_day(eligible[aid]["published"]), vector=vectors[aid],
            old_event_id=members[aid]["event_id"] if aid in members and aid not in changed_before else None,
        )
        for aid in sorted(local_ids)
    ]
    next_id = (db.execute("select max(id) from events").fetchone()[0] or 0) + 1
    events = group_articles(local, settings.similarity_threshold, settings.window_days, next_id)

    old_event_ids = {members[aid]["event_id"] for aid in (local_ids | set(gone)) if aid in members}
    new_event_ids = {event.id for event in events}
    summary.created = len(new_event_ids - old_event_ids)
    summary.deleted = len(old_event_ids - new_event_ids)
    now = utc_now_iso()
    with db.atomic():
        touched = sorted(local_ids | set(gone))
        for chunk in _chunks(touched):
            db.execute(f"delete from event_articles where article_id in ({_placeholders(chunk)})", chunk)
        titles = _titles(db, [e.representative_article_id for e in events])
        db["events"].upsert_all(
            ({"id": e.id, "title": titles[e.representative_article_id],
              "representative_article_id": e.representative_article_id, "updated_at": now}
             for e in events),
            pk="id",
        )
        rows = []
        for event in events:
            for aid in event.article_ids:
                before = members.get(aid)
                kept = before is not None and before["event_id"] == event.id and aid not in changed_before
                similarity = event.similarity.get(aid)
                rows.append({"event_id": event.id, "article_id": aid,
                             "similarity": None if similarity is None else round(similarity, 4),
                             "assigned_at": before["assigned_at"] if kept else now})
        db["event_articles"].insert_all(rows, pk="article_id")
        for event in events:
            for chunk in _chunks(event.article_ids):
                db.execute(
                    f"""update articles set event_id = ? where id in ({_placeholders(chunk)})
                        and event_id is not ?""",
                    [event.id, *chunk, event.id])
        for chunk in _chunks(gone):
            db.execute(f"""update articles set event_id = null
                           where id in ({_placeholders(chunk)}) and event_id is not null""", chunk)
        for chunk in _chunks(sorted(old_event_ids - new_event_ids)):
            db.execute(f"delete from events where id in ({_placeholders(chunk)})", chunk)
        # Cached vectors of deleted articles are of no use any more.
        db.execute("delete from article_embeddings where article_id not in (select id from articles)")
        db["event_settings"].upsert({"key": "settings_hash", "value": current_hash}, pk="key")
        # In the same transaction: no event is ever visible with stale counts.
        stale_stats = new_event_ids | _retagged_events(db)
        summary.stats_updated = update_event_stats(db, sorted(stale_stats))
    summary.events = db.execute("select count(*) from events").fetchone()[0]
    return summary


def _linked_events(db: Database, cache: EmbeddingCache, settings: EventsConfig,
                   eligible: dict[str, dict], new_ids: set[str]) -> set[int]:
    """Events that contain an article a new article may link to (a superset is fine:
    regrouping an event that does not change leaves it as it was)."""
    if not new_ids:
        return set()
    threshold, window = settings.similarity_threshold, settings.window_days
    new_vectors = cache.vectors(new_ids)
    dated_new = [aid for aid in new_ids if eligible[aid]["published"]]
    undated_new = [aid for aid in new_ids if not eligible[aid]["published"]]
    affected: set[int] = set()

    def grouped(where: str, params: list) -> list[dict]:
        return list(db.query(
            f"""select ea.article_id, ea.event_id, a.published from event_articles ea
                join articles a on a.id = ea.article_id where {where}""", params))

    def link(candidates: list[dict], sources: list[str], use_window: bool) -> None:
        candidates = [c for c in candidates if c["article_id"] not in new_ids]
        if not candidates or not sources:
            return
        stored = cache.vectors(c["article_id"] for c in candidates)
        candidates = [c for c in candidates if c["article_id"] in stored]
        if not candidates:
            return
        matrix = np.stack([stored[c["article_id"]] for c in candidates])
        sims = np.stack([new_vectors[s] for s in sources]) @ matrix.T
        hit = sims >= threshold
        if use_window:
            cand_days = np.array([iso_to_day(c["published"]) for c in candidates])
            src_days = np.array([iso_to_day(eligible[s]["published"]) for s in sources])
            hit &= np.abs(cand_days[None, :] - src_days[:, None]) <= window
        for col in np.nonzero(hit.any(axis=0))[0].tolist():
            affected.add(candidates[col]["event_id"])

    # Dated new articles: grouped dated articles inside the window, and grouped
    # undated articles (whose best dated match may now be the new one).
    if dated_new:
        days = sorted(iso_to_day(eligible[aid]["published"]) for aid in dated_new)
        for lo, hi in _merge_ranges([(d - window, d + window) for d in days]):
            candidates = grouped("a.published >= ? and a.published <= ?",
                                 [_day_to_iso(lo), _day_to_iso(hi)])
            link(candidates, dated_new, use_window=True)
        link(grouped("a.published is null", []), dated_new, use_window=False)
    # Undated new articles: every grouped article, whatever its date.
    if undated_new:
        everyone = [row[0] for row in db.execute("select article_id from event_articles")]
        for chunk in _chunks(everyone):
            link(grouped(f"ea.article_id in ({_placeholders(chunk)})", chunk), undated_new,
                 use_window=False)
    return affected


def _merge_ranges(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _day_to_iso(day: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(day * 86400.0, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _titles(db: Database, ids: list[str]) -> dict[str, str]:
    titles = {}
    for chunk in _chunks(ids):
        for row in db.query(f"select id, title from articles where id in ({_placeholders(chunk)})", chunk):
            titles[row["id"]] = row["title"]
    return titles


def _retagged_events(db: Database) -> set[int]:
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


def update_event_stats(db: Database, event_ids: list[int]) -> int:
    """Recompute counts, dates, stance and evidence of ``event_ids`` from their articles
    and stance tags (stance counts are 0 while nothing is tagged)."""
    now = utc_now_iso()
    updated = 0
    with db.atomic():
        for chunk in _chunks(event_ids):
            for row in list(db.query(STATS_SQL.format(ids=_placeholders(chunk)), chunk)):
                row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
                row["stance"] = majority_stance(row["favor"], row["against"], row["neutral"])
                row["first_date"] = row["first_seen"][:10] if row["first_seen"] else None
                row["evidence"] = _evidence(db, row["id"], row["stance"])
                row["updated_at"] = now
                db["events"].update(row["id"], row)
                updated += 1
    return updated


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

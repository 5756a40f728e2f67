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
   :func:`tracker.analysis.events.group_articles` -- the link graph is local, so this
   equals a full rebuild (``rebuild=True``, ``tracker events --rebuild``);
4. writes ``events``, ``event_articles`` and ``articles.event_id``, and
   refreshes the stance statistics of every event whose articles were
   (re)tagged since it was last written.

Changing ``[events]`` settings (threshold, window, lead, model) makes the next
run a full rebuild by itself, since old links were made under other rules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from sqlite_utils import Database

from tracker.analysis.events import GroupingArticle, group_articles, grouping_text, iso_to_day
from tracker.config import Config, EventsConfig
from tracker.lock import take_turns
from tracker.shutdown import should_stop
from tracker.store import events as store
from tracker.store.articles import texts
from tracker.store.maintenance import database_file

EMBED_BATCH = 256  # articles embedded (and committed) at a time


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


def embedding_model_key(settings: EventsConfig) -> str:
    """What makes a cached vector: the model, its weights and the lead length. From the
    weight files, without loading the model: a run with nothing new never loads it."""
    from tracker.analysis.models import model_fingerprint

    return (f"{settings.embedding_model}@{model_fingerprint(settings.embedding_model)}"
            f"/lead{settings.lead_words}")


def embed_articles(db: Database, settings: EventsConfig, ids: list[str], model_key: str,
                   embedder=None) -> tuple[int, bool]:
    """Embed headline + lead of ``ids`` and cache the vectors, a batch per transaction.

    Returns how many were embedded, and whether all of them were: on a
    shutdown or time limit it stops between batches (what is embedded is
    kept, the next run goes on from there)."""
    done = 0
    for start in range(0, len(ids), EMBED_BATCH):
        if should_stop():
            return done, False
        if embedder is None:
            from tracker.analysis.models import get_embedder

            embedder = get_embedder(settings.embedding_model)
        found = texts(db, ids[start : start + EMBED_BATCH])
        rows = [found[i] for i in ids[start : start + EMBED_BATCH] if i in found]
        vectors = embedder.encode(
            [grouping_text(r["title"], r["text"], settings.lead_words) for r in rows])
        store.save_embeddings(db, rows, vectors, model_key)
        done += len(rows)
    return done, True


def run_events(db: Database, config: Config, rebuild: bool = False, embedder=None) -> EventsSummary:
    """Bring events up to date with the articles (everything again with ``rebuild``).

    Runs on one database take turns (a `tracker events` while the service's
    job runs waits for it): each reads the grouping the other may be changing.
    """
    with take_turns(database_file(db), "events"):
        return _run_events(db, config, rebuild, embedder)


def _run_events(db: Database, config: Config, rebuild: bool, embedder) -> EventsSummary:
    settings = config.events
    summary = EventsSummary()
    model_key = embedding_model_key(settings)
    current_hash = settings_hash(settings, model_key)
    if store.has_grouping(db) and store.settings_hash(db) != current_hash:
        rebuild = True  # the old links were made under other settings
    summary.rebuilt = rebuild

    eligible = store.eligible_articles(db)
    summary.articles = len(eligible)
    members = store.memberships(db)
    # Members that may no longer be grouped: deleted or now unrelated.
    gone = [aid for aid in members if aid not in eligible]
    # Changed text (or model): the cached vector, and so every link, is out of date.
    stale = store.stale_embeddings(db, model_key)
    changed_before = (stale & members.keys()) - set(gone)
    summary.embedded, complete = embed_articles(db, settings, sorted(stale & eligible.keys()),
                                                model_key, embedder)
    if not complete:
        return summary  # stopped early: grouping needs every vector, next run goes on

    new_ids = {aid for aid in eligible if aid not in members} | changed_before
    if rebuild:
        local_ids = set(eligible)
    else:
        affected = {members[aid]["event_id"] for aid in gone} | {
            members[aid]["event_id"] for aid in changed_before}
        affected |= _linked_events(db, settings, eligible, new_ids)
        local_ids = (set(new_ids) | store.member_ids(db, affected)) & set(eligible)
    summary.new = len(new_ids)
    summary.removed = len(gone) + len(changed_before)
    summary.regrouped = len(local_ids)

    vectors = store.load_vectors(db, local_ids)
    local = [
        GroupingArticle(
            id=aid, day=iso_to_day(eligible[aid]["published"]), vector=vectors[aid],
            old_event_id=members[aid]["event_id"] if aid in members and aid not in changed_before else None,
        )
        for aid in sorted(local_ids)
    ]
    events = group_articles(local, settings.similarity_threshold, settings.window_days,
                            store.next_event_id(db))

    old_event_ids = {members[aid]["event_id"] for aid in (local_ids | set(gone)) if aid in members}
    new_event_ids = {event.id for event in events}
    summary.created = len(new_event_ids - old_event_ids)
    summary.deleted = len(old_event_ids - new_event_ids)
    summary.stats_updated = store.write_grouping(
        db, events, memberships_before=members, regrouped=local_ids, gone=gone,
        changed=changed_before, deleted_events=old_event_ids - new_event_ids,
        settings_hash_value=current_hash)
    summary.events = store.event_count(db)
    return summary


def _linked_events(db: Database, settings: EventsConfig, eligible: dict[str, dict],
                   new_ids: set[str]) -> set[int]:
    """Events that contain an article a new article may link to (a superset is fine:
    regrouping an event that does not change leaves it as it was)."""
    if not new_ids:
        return set()
    threshold, window = settings.similarity_threshold, settings.window_days
    new_vectors = store.load_vectors(db, new_ids)
    dated_new = [aid for aid in new_ids if eligible[aid]["published"]]
    undated_new = [aid for aid in new_ids if not eligible[aid]["published"]]
    affected: set[int] = set()

    def link(candidates: list[dict], sources: list[str], use_window: bool) -> None:
        candidates = [c for c in candidates if c["article_id"] not in new_ids]
        if not candidates or not sources:
            return
        stored = store.load_vectors(db, (c["article_id"] for c in candidates))
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
            link(store.grouped_between(db, _day_to_iso(lo), _day_to_iso(hi)), dated_new,
                 use_window=True)
        link(store.grouped_undated(db), dated_new, use_window=False)
    # Undated new articles: every grouped article, whatever its date.
    if undated_new:
        for chunk in store.grouped_in_chunks(db):
            link(chunk, undated_new, use_window=False)
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

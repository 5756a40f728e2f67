"""Job: group relevant articles into events, incrementally.

Which articles: every article not tagged ``unrelated``. Untagged articles are
grouped too (a story is followed before the tagger has caught up); an article
that the tagger later calls ``unrelated`` leaves its event on the next run.

Events are made by a sweep in publication order (:mod:`tracker.analysis.events`):
an article's event depends only on the articles published before it. Each run:

1. embeds headline + lead of articles that are new or changed (vectors are
   cached in ``article_embeddings`` by content hash and model);
2. finds the earliest publication among what changed (new articles, articles
   that left, changed ones -- for those, also where they were before) and
   places again every article published since then, continuing from the
   stored events of the ``window_days`` before it: the result is exactly
   that of a full rebuild (``rebuild=True``, ``tracker events --rebuild``), and
   the work is that of the articles since the change, whatever the size of
   the events they join;
3. places undated articles: a new one is compared with every dated article,
   a grouped one only with the dated articles that are new this run (its
   match is kept in ``event_articles.linked_to``);
4. writes the places that changed, and refreshes the representative and the
   stance statistics of every event that gained or lost an article, or whose
   articles were (re)tagged since it was last written.

Changing ``[events]`` settings (threshold, window, span, lead, model) makes the
next run a full rebuild by itself, since old places were made under other rules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterator

from sqlite_utils import Database

from tracker.analysis.events import (
    GroupingArticle, assign_ids, best_dated_match, better_match, grouping_text, iso_to_day,
    orphan_groups, representative, sweep,
)
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
    regrouped: int = 0  # articles placed again: those published since the earliest change
    events: int = 0  # events after the run
    created: int = 0
    deleted: int = 0  # events left empty (their articles left or were placed elsewhere)
    stats_updated: int = 0  # events whose counts and stance were rewritten
    rebuilt: bool = False
    failed: int = 0


# How events are made; a new way regroups every database once, on its next run.
GROUPING = "sweep-1"


def settings_hash(settings: EventsConfig, model_key: str) -> str:
    """What the places depend on: changing any of it invalidates the grouping."""
    payload = json.dumps(
        {"threshold": settings.similarity_threshold, "window_days": settings.window_days,
         "max_span_days": settings.max_span_days, "lead_words": settings.lead_words,
         "model": model_key, "grouping": GROUPING},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def embedding_model_key(settings: EventsConfig) -> str:
    """What makes a cached vector: the model, its weights and the lead length. From the
    weight files, without loading the model: a run with nothing new never loads it."""
    from tracker.analysis.models import model_fingerprint

    return (f"{settings.embedding_model}@{model_fingerprint(settings.embedding_model)}"
            f"/lead{settings.lead_words}")


def embed_articles(db: Database, config: Config, ids: list[str], model_key: str,
                   embedder=None) -> tuple[int, bool]:
    """Embed headline + lead of ``ids`` and cache the vectors, a batch per transaction
    (on the workers ``[scale]`` names; an explicit ``embedder`` runs here).

    Returns how many were embedded, and whether all of them were: on a
    shutdown or time limit it stops between batches (what is embedded is
    kept, the next run goes on from there)."""
    from tracker.analysis.workers import workers_for

    settings = config.events
    workers = workers_for(config.scale, embedding_model=settings.embedding_model,
                          embedder=embedder)
    size = workers.batch_size or EMBED_BATCH
    complete = True

    def batches() -> Iterator[tuple[list[dict], list[str]]]:
        nonlocal complete
        for start in range(0, len(ids), size):
            if should_stop():
                complete = False
                return
            found = texts(db, ids[start : start + size])
            rows = [found[i] for i in ids[start : start + size] if i in found]
            yield rows, [grouping_text(r["title"], r["text"], settings.lead_words) for r in rows]

    done = 0
    for rows, vectors in workers.embed(batches()):
        if rows:
            store.save_embeddings(db, rows, vectors, model_key)
        done += len(rows)
    return done, complete


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
        rebuild = True  # the old places were made under other settings
    summary.rebuilt = rebuild

    new = store.new_articles(db)  # eligible and in no event: id -> published
    gone = store.gone_members(db)  # in an event, now tagged unrelated
    # Changed text (or model): the cached vector, and so the article's place, is out of date.
    stale = store.stale_embeddings(db, model_key)
    changed = store.members_info(db, stale)
    summary.embedded, complete = embed_articles(db, config, sorted(stale), model_key, embedder)
    if not complete:
        return summary  # stopped early: placing needs every vector, the next run goes on
    fresh = new.keys() | changed.keys()  # placed for the first time (or again) this run
    summary.new, summary.removed = len(fresh), len(gone) + len(changed)

    # Where the sweep starts: the earliest publication among what changed (for a
    # changed article also the start of its old event: its date may have changed).
    start: str | None = None
    if rebuild:
        start = ""
    else:
        moments = [p for p in new.values() if p] + [g["published"] for g in gone.values()
                                                      if g["published"]]
        for info in changed.values():
            moments += [m for m in (info["published"], info["first_seen"]) if m]
        start = min(moments) if moments else None
    region_rows = store.dated_since(db, start) if start is not None else []
    context_rows = [] if not start else [
        r for r in store.grouped_dated_between(
            db, _day_to_iso(iso_to_day(start) - settings.window_days - 1 / 86400), start)
        if r["id"] not in fresh]
    vectors = store.load_vectors(db, [r["id"] for r in region_rows + context_rows])
    # Articles stored by another job after the embedding step have no vector yet:
    # they wait for the next run, which places them (and what follows them) as new.
    region_rows = [r for r in region_rows if r["id"] in vectors]
    context_rows = [r for r in context_rows if r["id"] in vectors]
    region = [GroupingArticle(r["id"], iso_to_day(r["published"]), vectors[r["id"]],
                              old_event_id=None if r["id"] in changed else r["event_id"])
              for r in region_rows]
    context = [GroupingArticle(r["id"], iso_to_day(r["published"]), vectors[r["id"]],
                               old_event_id=r["event_id"]) for r in context_rows]
    starts = {r["event_id"]: iso_to_day(r["first_seen"]) for r in context_rows}
    placed = sweep(region, settings.similarity_threshold, settings.window_days,
                   settings.max_span_days, context, starts)
    labels = {aid: p.event for aid, p in placed.items()}
    how = {aid: (p.similarity, None) for aid, p in placed.items()}
    undated, recomputed = _place_undated(db, settings, rebuild, fresh, gone.keys() | changed.keys(),
                                         [a for a in region if a.id in fresh], labels, how)
    summary.regrouped = len(region) + recomputed

    # Event ids: events that go on from before the sweep keep theirs; the others
    # take the old id they share most articles with, if no event keeps it.
    members = {a.id: a for a in region + undated}
    groups: dict[int, list[GroupingArticle]] = {}
    for aid, label in labels.items():
        groups.setdefault(label, []).append(members[aid])
    old_events = {a.old_event_id for a in members.values() if a.old_event_id is not None}
    before = store.members_of(db, old_events | {g["event_id"] for g in gone.values()}
                              | {i["event_id"] for i in changed.values()})
    leaving = members.keys() | gone.keys()
    alive = {e for e, ids in before.items() if ids - leaving}
    next_id = store.next_event_id(db)
    ids = assign_ids(groups, alive, next_id)

    stored = store.assignments(db, members)
    to_write: dict[str, store.Placed] = {}
    for aid, label in labels.items():
        similarity, via = how[aid]
        old = stored.get(aid)
        rounded = None if similarity is None else round(similarity, 4)
        if aid in fresh or old is None or (old["event_id"], old["similarity"], old["linked_to"]) \
                != (ids[label], rounded, via):
            to_write[aid] = store.Placed(ids[label], similarity, via)

    # Every event that gains or loses an article: its members after this run.
    touched = {p.event_id for p in to_write.values()} | {
        stored[aid]["event_id"] for aid in to_write if aid in stored} | {
        g["event_id"] for g in gone.values()} | {i["event_id"] for i in changed.values()}
    moved = set(to_write) | set(gone)
    after = {e: ids_ - moved for e, ids_ in store.members_of(db, touched).items()}
    for aid, place in to_write.items():
        after.setdefault(place.event_id, set()).add(aid)
    deleted = {e for e in touched if not after.get(e)}
    representatives = _representatives(db, {e: m for e, m in after.items() if m})
    summary.created = len({p.event_id for p in to_write.values() if p.event_id >= next_id})
    summary.deleted = len(deleted)
    summary.stats_updated = store.write_grouping(
        db, to_write, gone=gone.keys(), changed=set(changed), representatives=representatives,
        deleted_events=deleted, settings_hash_value=current_hash)
    summary.articles = store.eligible_count(db)
    summary.events = store.event_count(db)
    return summary


def _place_undated(db: Database, settings: EventsConfig, rebuild: bool, fresh: set[str],
                   invalid: set[str], fresh_dated: list[GroupingArticle],
                   labels: dict[str, int], how: dict[str, tuple]) -> tuple[list, int]:
    """Place every undated article (few: text files without a date) by its best dated
    match; those without one group among themselves. Adds to ``labels`` and ``how``;
    returns the undated articles and how many were compared with every dated article."""
    rows = store.undated_articles(db)
    if not rows:
        return [], 0
    threshold = settings.similarity_threshold
    vectors = store.load_vectors(db, [r["id"] for r in rows]
                                 + [r["linked_to"] for r in rows if r["linked_to"]])
    rows = [r for r in rows if r["id"] in vectors]  # stored after the embedding step: next run
    valid = store.eligible_ids(db, {r["linked_to"] for r in rows if r["linked_to"]} - invalid)
    articles, matches, full = [], {}, []
    for row in rows:
        article = GroupingArticle(row["id"], None, vectors[row["id"]],
                                  old_event_id=None if row["id"] in fresh else row["event_id"])
        articles.append(article)
        if rebuild or row["id"] in fresh or (row["linked_to"] and row["linked_to"] not in valid):
            full.append(article)
            continue
        if row["linked_to"]:  # its match, exactly (the stored similarity is rounded)
            current = (row["linked_to"], float(vectors[row["linked_to"]] @ article.vector))
        else:
            current = None
        matches[article.id] = better_match(
            current, best_dated_match(article.vector, fresh_dated, threshold))
    if full:
        for chunk in store.dated_in_chunks(db):
            loaded = store.load_vectors(db, chunk)
            dated = [GroupingArticle(aid, 0.0, loaded[aid]) for aid in chunk if aid in loaded]
            for article in full:
                matches[article.id] = better_match(
                    matches.get(article.id), best_dated_match(article.vector, dated, threshold))
    # A match outside this run's sweep keeps the event it has.
    outside = store.assignments(db, {m[0] for m in matches.values() if m} - labels.keys())
    orphans = []
    for article in articles:
        match = matches.get(article.id)
        if match is None or (match[0] not in labels and match[0] not in outside):
            orphans.append(article)
            continue
        labels[article.id] = labels[match[0]] if match[0] in labels else outside[match[0]]["event_id"]
        how[article.id] = (match[1], match[0])
    components, best = orphan_groups(orphans, threshold)
    label = min([-1, *labels.values()]) - 1
    for indexes in components:
        for i in indexes:
            labels[orphans[i].id], how[orphans[i].id] = label, (best[i], None)
        label -= 1
    return articles, len(full)


def _representatives(db: Database, members: dict[int, set[str]]) -> dict[int, str]:
    """Each event's most central article, from all its members' vectors."""
    ids = set().union(*members.values()) if members else set()
    vectors = store.load_vectors(db, ids)
    days = store.published(db, ids)
    return {event: representative([GroupingArticle(aid, iso_to_day(days.get(aid)), vectors[aid])
                                   for aid in sorted(ids_)])
            for event, ids_ in members.items()}


def _day_to_iso(day: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(day * 86400.0, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""A synthetic timeline: articles, stance tags and events, written straight to the database.

Used by ``bench/timeline_queries.py`` (100,000 articles over five years) and by
the dashboard browser test (a few hundred). Deterministic for a given seed.
No model runs: events are drawn first and articles are generated for them, so
the grouping job is not involved -- this is data for the timeline views,
canned queries and charts. The stance mix drifts over time (favor falls,
against rises) so that charts show a trend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from sqlite_utils import Database

from tracker.store.events import (
    Placed, event_ids, members_of, update_event_stats, write_grouping,
)
from tracker.store.maintenance import bulk_insert, max_id

OUTLETS = [
    "Polar Ledger", "North Wire", "Barents Post", "Tundra Times", "Ice Route Review",
    "High Latitude Daily", "Bering Bulletin", "Svalbard Courier", "Aurora Press", "Kola Chronicle",
    "Nordic Dispatch", "Arctic Desk", "Murmansk Monitor", "Alaska Ledger", "Greenland Gazette",
] + [f"Outlet {i:02d}" for i in range(16, 41)]
SUBJECTS = ["US and Russian officials", "Moscow and Washington", "Arctic envoys", "Energy firms",
            "Coast guards", "Shipping lines", "Lawmakers", "NATO allies", "Rosatom", "Analysts"]
VERBS = ["discuss", "sign", "reject", "question", "explore", "suspend", "announce", "debate"]
OBJECTS = ["Northern Sea Route shipping", "joint resource exploration", "an Arctic fisheries deal",
           "search-and-rescue cooperation", "LNG projects in the Arctic", "icebreaker contracts",
           "Bering Strait talks", "Arctic Council work", "sanctions on Arctic energy",
           "polar research cooperation"]
LABELS = ("favor", "against", "neutral")


def _stance_mix(progress: float) -> list[float]:
    """favor / against / neutral weights at ``progress`` (0 = start, 1 = end)."""
    return [0.5 - 0.3 * progress, 0.2 + 0.35 * progress, 0.3 - 0.05 * progress]


def build_synthetic(db: Database, articles: int, days: int, start: dt.date = dt.date(2021, 1, 1),
                    seed: int = 7, unrelated_share: float = 0.2, untagged_share: float = 0.05,
                    with_events: bool = True) -> dict:
    """Write ``articles`` articles over ``days`` days (plus their tags, and their
    events unless ``with_events`` is false: then they wait for the events job)."""
    rng = random.Random(seed)
    source_id = max_id(db, "sources") + 1
    bulk_insert(db, {"sources": [{"id": source_id, "kind": "files",
                                  "location": f"synthetic:{seed}", "name": "synthetic",
                                  "enabled": 1}]})
    article_rows, tag_rows, event_rows, member_rows = [], [], [], []
    event_id = max_id(db, "events")
    made = 0
    while made < articles:
        event_id += 1
        day = rng.randrange(days)
        progress = day / max(days - 1, 1)
        size = min(articles - made, max(1, int(rng.paretovariate(1.6))))
        headline = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        event_label = rng.choices(LABELS, _stance_mix(progress))[0]
        related = rng.random() >= unrelated_share
        members = []
        for k in range(size):
            made += 1
            article_day = start + dt.timedelta(days=min(days - 1, day + int(rng.expovariate(1.5))))
            article_id = hashlib.sha256(f"{seed}/{made}".encode()).hexdigest()[:16]
            title = headline if k == 0 else f"{headline} ({rng.choice(OUTLETS)} report)"
            text = (f"{title}. Officials said on {article_day:%B %d, %Y} that talks on "
                    f"{rng.choice(OBJECTS)} would continue. {rng.choice(SUBJECTS)} were quoted.")
            label = None
            if not related:
                label = "unrelated"
            elif rng.random() >= untagged_share:
                # Most reports share their event's stance; some do not.
                label = event_label if rng.random() < 0.75 else rng.choices(LABELS, _stance_mix(progress))[0]
            scores = {lab: rng.uniform(0.05, 0.3) for lab in LABELS}
            if label in LABELS:
                scores[label] = rng.uniform(0.5, 0.95)
            article_rows.append({
                "id": article_id, "source_id": source_id, "kind": "file", "title": title, "text": text,
                "outlet": rng.choice(OUTLETS), "published": f"{article_day.isoformat()}T{rng.randrange(24):02d}:00:00Z",
                "published_date": article_day.isoformat(), "date_source": "dateline",
                "content_hash": hashlib.sha256(text.encode()).hexdigest(), "word_count": len(text.split()),
                "stance": label, "stance_confidence": scores.get(label) if label in LABELS else None,
                "event_id": event_id if related and with_events else None,
                "ingested_at": f"{article_day.isoformat()}T23:00:00Z",
                "updated_at": f"{article_day.isoformat()}T23:00:00Z",
            })
            if label is not None:
                tag_rows.append({
                    "article_id": article_id, "label": label, "relevance": 0.9 if related else 0.1,
                    "score_favor": scores["favor"], "score_against": scores["against"],
                    "score_neutral": scores["neutral"],
                    "confidence": scores.get(label, 0.9), "evidence": f"{title}: evidence sentence.",
                    "status": "ok", "tagged_at": f"{article_day.isoformat()}T23:30:00Z",
                })
            members.append(article_id)
        if related and with_events:
            event_rows.append({"id": event_id, "title": headline, "representative_article_id": members[0]})
            member_rows += [{"event_id": event_id, "article_id": m, "similarity": 0.8,
                             "assigned_at": f"{start.isoformat()}T00:00:00Z"} for m in members]
    bulk_insert(db, {"articles": article_rows, "stance_tags": tag_rows, "events": event_rows,
                     "event_articles": member_rows})
    update_event_stats(db, [row["id"] for row in event_rows])
    return {"articles": len(article_rows), "events": len(event_rows), "tags": len(tag_rows)}


def set_events(db: Database, events: dict[int, list[str]],
               similarity: dict[str, float] | None = None, settings_hash: str = "s",
               replace_all: bool = True) -> int:
    """Write ``events`` (``event id -> its articles``, the first one representing it) the
    way the events job writes a grouping (:func:`tracker.store.events.write_grouping`).
    With ``replace_all`` they become the whole grouping: articles left out lose their
    event and events left out are deleted; otherwise other events stay as they are.
    Returns how many events' statistics were written."""
    before = members_of(db, event_ids(db) if replace_all else events)
    grouped = {aid for ids in before.values() for aid in ids}
    placed = {aid: Placed(event_id=event_id, similarity=(similarity or {}).get(aid))
              for event_id, ids in events.items() for aid in ids}
    return write_grouping(db, placed, gone=grouped - set(placed), changed=set(),
                          representatives={event_id: ids[0] for event_id, ids in events.items()},
                          deleted_events=set(before) - set(events),
                          settings_hash_value=settings_hash)

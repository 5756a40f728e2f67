"""Events: grouping articles that report the same development (I/O-free).

Two articles are *linked* when the cosine similarity of their embeddings
(headline + lead, see :func:`grouping_text`) is at least ``threshold`` and
they were published at most ``window_days`` apart. Events are made by one
pass over the dated articles in the order they were published (ties: by id),
the *sweep* (:func:`sweep`):

* an article joins the event of the earlier article it is most similar to
  among those it links to, as long as that event started at most
  ``max_span_days`` before it (the event is still *open*);
* otherwise it starts an event of its own.

The span is the guard against chaining: with single-link grouping, a story
with near-identical daily updates became one event that grew for as long as
the story went on (459 of 462 articles of a soak in one event, regrouped on
every run); here it becomes a new event every ``max_span_days`` at most. And
events never merge: an article that links two events joins the closer one.

Articles without a date (``published`` unknown) join the event of their single
most similar dated article, wherever that is in time, so that they join the
development they report without bridging developments months apart; those
with no dated match at all group among themselves (connected components).

Why this makes incremental runs cheap and exact: an article's event depends
only on the articles published before it. So when articles arrive, only the
articles published since the earliest of them are placed again, starting
from what is stored for the ones before (``jobs/events.py``), and the result
is exactly that of a full rebuild -- whatever the size of the events they
join. :func:`group_articles` is the full computation over any set.

Why embeddings and not MinHash: syndicated copies are rewritten, not copied.
On the five seed articles (one Bloomberg report, five outlets) MinHash on word
3-shingles gives Jaccard 0.008-0.125, no better than unrelated articles, while
MiniLM cosine on headline + first 60 words gives 0.79-0.90 for seed pairs and
at most 0.48 for hard negatives of the same days (``bench/event_similarity.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_DAY = 86400.0


@dataclass
class GroupingArticle:
    """An article as grouping sees it: an id, a time and an embedding."""

    id: str
    day: float | None  # publication time in days since the epoch; None when unknown
    vector: np.ndarray  # unit length, float32
    old_event_id: int | None = None  # the event it belonged to before this run


@dataclass
class Event:
    """One development: its articles, and which of them represents it."""

    id: int
    article_ids: list[str]
    representative_article_id: str
    # The link each article joined through (None for the one that started the event).
    similarity: dict[str, float | None] = field(default_factory=dict)


def grouping_text(title: str | None, text: str | None, lead_words: int) -> str:
    """Headline plus the first ``lead_words`` words: what a development is about.

    Whole texts drift into background paragraphs that many unrelated reports
    share (war in Ukraine, NATO worries); the lead is where reports of one
    development agree.
    """
    words = f"{(title or '').strip()}. {text or ''}".split()
    return " ".join(words[: max(lead_words, 1)])


def iso_to_day(value: str | None) -> float | None:
    """``2025-02-27T00:00:00Z`` -> days since the epoch (float); None stays None."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp() / SECONDS_PER_DAY


class _UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


@dataclass
class Placement:
    """Where the sweep put an article: an event (an existing id, or a negative
    provisional label for an event started in this sweep) and how it got there."""

    event: int
    similarity: float | None = None  # the link it joined through; None: it started the event
    via: str | None = None  # the article it joined through


def sweep_order(article: GroupingArticle) -> tuple[float, str]:
    return (article.day, article.id)  # type: ignore[return-value]


def sweep(
    region: list[GroupingArticle],
    threshold: float,
    window_days: float,
    max_span_days: float,
    context: list[GroupingArticle] | None = None,
    starts: dict[int, float] | None = None,
    first_label: int = -1,
) -> dict[str, Placement]:
    """Place the dated articles of ``region`` in publication order.

    ``context``: the dated articles published in the ``window_days`` before
    the region, already placed (their ``old_event_id``), and ``starts``: the
    day each of their events started. Returns each region article's
    placement; events started here get labels ``first_label``, -2, ... .
    """
    context = sorted(context or [], key=sweep_order)
    region = sorted(region, key=sweep_order)
    start_of = dict(starts or {})
    pool = context + region
    if not pool:
        return {}
    vectors = np.stack([a.vector for a in pool]).astype(np.float32)
    days = np.array([a.day for a in pool], dtype=np.float64)
    labels = np.array([a.old_event_id if a.old_event_id is not None else 0 for a in context]
                      + [0] * len(region), dtype=np.int64)
    # The day each pool article's event started: events never merge, so it never changes.
    started = np.array([start_of.get(int(label), -np.inf) for label in labels[:len(context)]]
                       + [0.0] * len(region), dtype=np.float64)
    placed: dict[str, Placement] = {}
    next_label = first_label
    low = 0
    for k in range(len(context), len(pool)):
        article = pool[k]
        while days[low] < article.day - window_days:
            low += 1
        best = None
        if low < k:
            sims = vectors[low:k] @ vectors[k]
            candidates = labels[low:k]
            linked = (sims >= threshold) & (started[low:k] >= article.day - max_span_days)
            if linked.any():
                # The most similar; ties: the earliest published (then smallest id).
                best = int(np.argmax(np.where(linked, sims, -np.inf)))
        if best is None:
            label = next_label
            next_label -= 1
            start_of[label] = article.day
            placed[article.id] = Placement(label)
        else:
            label = int(candidates[best])
            placed[article.id] = Placement(label, float(sims[best]), pool[low + best].id)
        labels[k] = label
        started[k] = start_of[label]
    return placed


def best_dated_match(vector: np.ndarray, dated: list[GroupingArticle],
                     threshold: float) -> tuple[str, float] | None:
    """The most similar dated article at or above ``threshold`` (ties: smallest id)."""
    if not dated:
        return None
    sims = np.stack([a.vector for a in dated]) @ vector
    top = float(sims.max())
    if top < threshold:
        return None
    best = min((dated[k].id for k in np.nonzero(sims == sims.max())[0].tolist()))
    return best, top


def better_match(current: tuple[str, float] | None,
                 candidate: tuple[str, float] | None) -> tuple[str, float] | None:
    """The better of two matches: higher similarity, then smaller id."""
    if candidate is None:
        return current
    if current is None:
        return candidate
    return min(current, candidate, key=lambda m: (-m[1], m[0]))


def orphan_groups(orphans: list[GroupingArticle],
                  threshold: float) -> tuple[list[list[int]], list[float | None]]:
    """Undated articles with no dated match: connected components of their links
    among themselves (indexes into ``orphans``), and each one's strongest link."""
    union = _UnionFind(len(orphans))
    best: list[float | None] = [None] * len(orphans)
    if len(orphans) > 1:
        sims = np.stack([a.vector for a in orphans]) @ np.stack([a.vector for a in orphans]).T
        for a in range(len(orphans)):
            for b in range(a + 1, len(orphans)):
                if sims[a, b] >= threshold:
                    union.union(a, b)
                    for k in (a, b):
                        if best[k] is None or sims[a, b] > best[k]:
                            best[k] = float(sims[a, b])
    members: dict[int, list[int]] = {}
    for i in range(len(orphans)):
        members.setdefault(union.find(i), []).append(i)
    return list(members.values()), best


def assign_ids(groups: dict[int, list[GroupingArticle]], unavailable: set[int],
               next_event_id: int) -> dict[int, int]:
    """Event ids for provisional labels (negative keys of ``groups``; positive keys are
    event ids already and stay). Each takes the old event id it shares most
    articles with (ties: the smaller id) unless that id is in ``unavailable``
    or taken; the rest get new ids from ``next_event_id`` on, oldest first."""
    ids = {label: label for label in groups if label > 0}
    taken = set(ids) | set(unavailable)
    overlaps = []
    for label, members in groups.items():
        if label > 0:
            continue
        counts: dict[int, int] = {}
        for article in members:
            if article.old_event_id is not None:
                counts[article.old_event_id] = counts.get(article.old_event_id, 0) + 1
        overlaps += [(-n, old, label) for old, n in counts.items()]
    for _, old, label in sorted(overlaps):
        if label not in ids and old not in taken:
            ids[label] = old
            taken.add(old)

    def start(label: int) -> tuple:
        days = [a.day for a in groups[label] if a.day is not None]
        return (min(days) if days else float("inf"), min(a.id for a in groups[label]))

    for label in sorted((l for l in groups if l not in ids), key=start):
        ids[label] = next_event_id
        next_event_id += 1
    return ids


def group_articles(
    articles: list[GroupingArticle],
    threshold: float,
    window_days: float,
    next_event_id: int,
    max_span_days: float = float("inf"),
) -> list[Event]:
    """Group a whole set of articles into events (what a rebuild computes).

    Event ids are kept stable: each event takes the old event id it shares
    most articles with (ties: the smaller id), so a rebuild keeps every id
    it can; events with no old id get new ids from ``next_event_id`` on,
    oldest first.
    """
    dated = [a for a in articles if a.day is not None]
    placed = sweep(dated, threshold, window_days, max_span_days)
    labels = {aid: p.event for aid, p in placed.items()}
    similarity = {aid: p.similarity for aid, p in placed.items()}
    orphans = []
    for article in articles:
        if article.day is not None:
            continue
        match = best_dated_match(article.vector, dated, threshold)
        if match is None:
            orphans.append(article)
        else:
            labels[article.id], similarity[article.id] = labels[match[0]], match[1]
    components, best = orphan_groups(orphans, threshold)
    label = min([-1, *labels.values()]) - 1
    for indexes in components:
        for i in indexes:
            labels[orphans[i].id], similarity[orphans[i].id] = label, best[i]
        label -= 1
    groups: dict[int, list[GroupingArticle]] = {}
    by_id = {a.id: a for a in articles}
    for aid, lab in labels.items():
        groups.setdefault(lab, []).append(by_id[aid])
    ids = assign_ids(groups, set(), next_event_id)
    events = [
        Event(id=ids[lab], article_ids=sorted(a.id for a in members),
              representative_article_id=representative(members),
              similarity={a.id: similarity[a.id] for a in members})
        for lab, members in groups.items()
    ]
    return sorted(events, key=lambda e: e.id)


def representative(members: list[GroupingArticle]) -> str:
    """The medoid: the article most similar on average to the others in its event
    (ties: the earliest dated, then the smallest id)."""
    if len(members) == 1:
        return members[0].id
    vectors = np.stack([a.vector for a in members])
    # Each row sum of the similarity matrix is the dot product with the sum of the
    # vectors: O(n) time and memory, where the matrix was O(n^2) (400 MB at 10,000).
    centrality = vectors @ vectors.sum(axis=0)
    # Rounded so that float noise does not decide between equally central copies.
    key = [
        (-round(float(centrality[k]), 5), a.day if a.day is not None else float("inf"), a.id)
        for k, a in enumerate(members)
    ]
    return members[min(range(len(members)), key=lambda k: key[k])].id


def majority_stance(favor: int, against: int, neutral: int) -> str | None:
    """The event's stance: the most frequent relevant label; ``mixed`` on a tie
    at the top; None while no article is tagged relevant."""
    counts = {"favor": favor or 0, "against": against or 0, "neutral": neutral or 0}
    top = max(counts.values())
    if top == 0:
        return None
    leaders = [label for label, n in counts.items() if n == top]
    return leaders[0] if len(leaders) == 1 else "mixed"

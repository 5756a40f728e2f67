"""Events: grouping articles that report the same development (I/O-free).

An event is a connected component of the *link graph* over relevant articles.
Two articles are linked when the cosine similarity of their embeddings
(headline + lead, see :func:`grouping_text`) is at least ``threshold`` and:

* both are dated and published at most ``window_days`` apart; or
* one has no date (``published`` unknown): an undated article links only to
  its single most similar dated article, wherever that is in time, so that
  it joins the development it reports without bridging two developments
  months apart; an undated article with no dated match at all links to
  other such undated articles.

The link graph is defined by the set of articles alone, so components do not
depend on the order articles arrive in: an incremental run (new articles
join, events merge when a new article links them) gives exactly what a full
rebuild gives. :func:`group_articles` computes the components of any *closed*
set of articles (whole events plus new articles); ``jobs/events.py`` decides
which set that is and does the I/O.

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
    # Each article's strongest link inside the event (None for a lone article).
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


def find_links(
    articles: list[GroupingArticle], threshold: float, window_days: float, chunk: int = 512
) -> list[tuple[int, int, float]]:
    """Every link ``(i, j, similarity)`` (indexes into ``articles``) of the link graph."""
    links: list[tuple[int, int, float]] = []
    if not articles:
        return links
    dated = [i for i, a in enumerate(articles) if a.day is not None]
    undated = [i for i, a in enumerate(articles) if a.day is None]
    vectors = np.stack([a.vector for a in articles]).astype(np.float32)

    # Dated pairs: sort by time and compare each chunk only with the articles
    # inside its window, so a rebuild over years stays near-linear.
    if dated:
        order = sorted(dated, key=lambda i: (articles[i].day, articles[i].id))
        days = np.array([articles[i].day for i in order])
        dated_vectors = vectors[order]
        for start in range(0, len(order), chunk):
            stop = min(start + chunk, len(order))
            end = int(np.searchsorted(days, days[stop - 1] + window_days, side="right"))
            sims = dated_vectors[start:stop] @ dated_vectors[start:end].T
            gaps = days[start:end][None, :] - days[start:stop][:, None]
            later = np.arange(start, end)[None, :] > np.arange(start, stop)[:, None]
            rows, cols = np.nonzero((sims >= threshold) & (gaps <= window_days) & later)
            for r, c in zip(rows.tolist(), cols.tolist()):
                links.append((order[start + r], order[start + c], float(sims[r, c])))

    # Undated articles: one link to the best dated match (ties: smallest id).
    orphans = []
    for u in undated:
        if dated:
            sims = vectors[dated] @ vectors[u]
            top = sims.max()
            if top >= threshold:
                # Ties (identical copies): the smallest id, whatever the order.
                best = min(np.nonzero(sims == top)[0].tolist(), key=lambda k: articles[dated[k]].id)
                links.append((u, dated[best], float(top)))
                continue
        orphans.append(u)
    # Undated articles with no dated match group among themselves.
    if len(orphans) > 1:
        sims = vectors[orphans] @ vectors[orphans].T
        for a in range(len(orphans)):
            for b in range(a + 1, len(orphans)):
                if sims[a, b] >= threshold:
                    links.append((orphans[a], orphans[b], float(sims[a, b])))
    return links


def group_articles(
    articles: list[GroupingArticle],
    threshold: float,
    window_days: float,
    next_event_id: int,
) -> list[Event]:
    """Group a closed set of articles into events.

    Event ids are kept stable: each component takes the old event id it
    shares most articles with (ties: the smaller id), so a merge keeps the
    bigger event's id and a rebuild keeps every id it can; components with
    no old id get new ids from ``next_event_id`` on, oldest first.
    """
    links = find_links(articles, threshold, window_days)
    union = _UnionFind(len(articles))
    best: list[float | None] = [None] * len(articles)
    for i, j, sim in links:
        union.union(i, j)
        for k in (i, j):
            if best[k] is None or sim > best[k]:
                best[k] = sim
    members: dict[int, list[int]] = {}
    for i in range(len(articles)):
        members.setdefault(union.find(i), []).append(i)

    def start(indexes: list[int]) -> tuple:
        days = [articles[i].day for i in indexes if articles[i].day is not None]
        return (min(days) if days else float("inf"), min(articles[i].id for i in indexes))

    components = sorted(members.values(), key=start)
    overlaps = []
    for c, indexes in enumerate(components):
        counts: dict[int, int] = {}
        for i in indexes:
            if articles[i].old_event_id is not None:
                counts[articles[i].old_event_id] = counts.get(articles[i].old_event_id, 0) + 1
        overlaps += [(-n, old, c) for old, n in counts.items()]
    ids: dict[int, int] = {}
    taken: set[int] = set()
    for _, old, c in sorted(overlaps):
        if c not in ids and old not in taken:
            ids[c] = old
            taken.add(old)
    events = []
    for c, indexes in enumerate(components):
        if c not in ids:
            ids[c] = next_event_id
            next_event_id += 1
        events.append(
            Event(
                id=ids[c],
                article_ids=sorted(articles[i].id for i in indexes),
                representative_article_id=_representative(articles, indexes),
                similarity={articles[i].id: best[i] for i in indexes},
            )
        )
    return events


def _representative(articles: list[GroupingArticle], indexes: list[int]) -> str:
    """The medoid: the article most similar on average to the others in its event
    (ties: the earliest dated, then the smallest id)."""
    if len(indexes) == 1:
        return articles[indexes[0]].id
    vectors = np.stack([articles[i].vector for i in indexes])
    centrality = (vectors @ vectors.T).sum(axis=1)
    # Rounded so that float noise does not decide between equally central copies.
    key = [
        (-round(float(centrality[k]), 5),
         articles[i].day if articles[i].day is not None else float("inf"),
         articles[i].id)
        for k, i in enumerate(indexes)
    ]
    return articles[indexes[min(range(len(indexes)), key=lambda k: key[k])]].id


def majority_stance(favor: int, against: int, neutral: int) -> str | None:
    """The event's stance: the most frequent relevant label; ``mixed`` on a tie
    at the top; None while no article is tagged relevant."""
    counts = {"favor": favor or 0, "against": against or 0, "neutral": neutral or 0}
    top = max(counts.values())
    if top == 0:
        return None
    leaders = [label for label, n in counts.items() if n == top]
    return leaders[0] if len(leaders) == 1 else "mixed"

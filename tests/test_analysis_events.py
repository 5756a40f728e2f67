"""tracker.analysis.events: grouping on hand-made vectors (pure, no model)."""

from __future__ import annotations

import random

import numpy as np

from tracker.analysis.events import GroupingArticle, group_articles, grouping_text, majority_stance


def unit(*values) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_links_need_similarity_and_the_time_window():
    a = GroupingArticle("a", 0.0, unit(1, 0, 0))
    b = GroupingArticle("b", 3.0, unit(1, 0.1, 0))  # similar, 3 days later
    c = GroupingArticle("c", 9.0, unit(1, 0.1, 0))  # similar, but 6 days after b
    d = GroupingArticle("d", 0.5, unit(0, 1, 0))  # same day as a, unrelated
    events = group_articles([a, b, c, d], threshold=0.65, window_days=4, next_event_id=1)
    assert {frozenset(e.article_ids) for e in events} == {
        frozenset("ab"), frozenset("c"), frozenset("d")}
    # Ids in order of first appearance; the lone article has no link similarity.
    assert [e.article_ids for e in events] == [["a", "b"], ["d"], ["c"]]
    assert events[2].similarity == {"c": None}


def test_an_undated_article_joins_its_best_match_only():
    # Two developments months apart, both similar to one undated article: it
    # joins the closer match and does not bridge them into one event.
    feb = GroupingArticle("feb", 0.0, unit(1, 0.3, 0))
    oct_ = GroupingArticle("oct", 240.0, unit(1, 0, 0.3))
    undated = GroupingArticle("u", None, unit(1, 0.25, 0.05))
    events = group_articles([feb, oct_, undated], 0.65, 4, 1)
    assert {frozenset(e.article_ids) for e in events} == {frozenset({"feb", "u"}), frozenset({"oct"})}
    # Undated articles without a dated match group among themselves.
    other = GroupingArticle("v", None, unit(0, 0, 1))
    again = GroupingArticle("w", None, unit(0, 0.1, 1))
    events = group_articles([feb, other, again], 0.65, 4, 1)
    assert {frozenset(e.article_ids) for e in events} == {frozenset({"feb"}), frozenset({"v", "w"})}


def test_grouping_does_not_depend_on_order_and_keeps_ids():
    rng = np.random.default_rng(3)
    centres = [unit(*rng.normal(size=8)) for _ in range(6)]
    articles = []
    for n in range(60):
        c = n % 6
        vector = unit(*(centres[c] + rng.normal(scale=0.15, size=8)))
        day = None if n % 17 == 0 else float(c * 10 + rng.integers(0, 3))
        articles.append(GroupingArticle(f"a{n:02d}", day, vector))
    first = group_articles(articles, 0.65, 4, 1)
    shuffled = articles[:]
    random.Random(1).shuffle(shuffled)
    second = group_articles(shuffled, 0.65, 4, 1)
    assert {frozenset(e.article_ids) for e in first} == {frozenset(e.article_ids) for e in second}
    assert len(first) > 1
    # With old ids, every event keeps its id.
    old = {aid: e.id + 100 for e in first for aid in e.article_ids}
    with_old = [GroupingArticle(a.id, a.day, a.vector, old_event_id=old[a.id]) for a in articles]
    again = group_articles(with_old, 0.65, 4, 1000)
    assert {e.id: frozenset(e.article_ids) for e in again} == {
        e.id + 100: frozenset(e.article_ids) for e in first}


def test_grouping_text_and_majority_stance():
    assert grouping_text("Headline", "one two three four", 3) == "Headline. one two"
    assert majority_stance(3, 1, 0) == "favor"
    assert majority_stance(2, 2, 1) == "mixed"
    assert majority_stance(0, 0, 0) is None



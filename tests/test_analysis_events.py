"""tracker.analysis.events: grouping on hand-made vectors (pure, no model)."""

from __future__ import annotations

import random

import numpy as np

from tracker.analysis.events import (
    GroupingArticle, group_articles, grouping_text, majority_stance, sweep,
)


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




def test_an_event_spans_at_most_max_span_days_and_never_merges():
    # Near-identical daily updates for 10 days: each links to the day before.
    story = [GroupingArticle(f"d{day:02d}", float(day), unit(1, 0.01 * day, 0))
             for day in range(10)]
    assert len(group_articles(story, 0.65, 4, 1)) == 1  # no guard: one event, and growing
    events = group_articles(story, 0.65, 4, 1, max_span_days=3)
    assert [e.article_ids for e in events] == [
        ["d00", "d01", "d02", "d03"], ["d04", "d05", "d06", "d07"], ["d08", "d09"]]
    # An article similar to two open events joins the closer one; they stay two.
    left = GroupingArticle("left", 0.0, unit(1, 0.6, 0))  # 0.47 from right: no link
    right = GroupingArticle("right", 0.0, unit(1, -0.6, 0))
    bridge = GroupingArticle("bridge", 1.0, unit(1, 0.05, 0))  # 0.88 to left, 0.83 to right
    events = group_articles([left, right, bridge], 0.65, 4, 1)
    assert {frozenset(e.article_ids) for e in events} == {
        frozenset({"left", "bridge"}), frozenset({"right"})}
    # Each article records the link it joined through; the first has none.
    assert next(e for e in events if "bridge" in e.article_ids).similarity["left"] is None


def test_a_sweep_from_the_middle_continues_what_is_stored():
    rng = np.random.default_rng(8)
    centres = [unit(*rng.normal(size=8)) for _ in range(3)]
    articles = [GroupingArticle(f"a{n:02d}", float(n % 12) + n / 100,
                                unit(*(centres[n % 3] + rng.normal(scale=0.2, size=8))))
                for n in range(36)]
    full = sweep(articles, 0.65, 4, 5)
    # Place the articles from day 6 on again, from the stored places of the days before.
    cut = 6.0
    before = [a for a in articles if a.day < cut]
    context = [GroupingArticle(a.id, a.day, a.vector, old_event_id=full[a.id].event)
               for a in before if a.day >= cut - 4]
    starts = {}
    for a in sorted(before, key=lambda a: a.day):
        starts.setdefault(full[a.id].event, a.day)
    again = sweep([a for a in articles if a.day >= cut], 0.65, 4, 5, context,
                  {e: d for e, d in starts.items()}, first_label=-100)
    relabel = {}
    for aid, place in again.items():
        expected = full[aid].event
        # Events started in the second sweep have labels of their own: map them.
        assert relabel.setdefault(place.event, expected) == expected
        assert place.similarity == full[aid].similarity and place.via == full[aid].via

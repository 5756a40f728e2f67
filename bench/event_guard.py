"""Which maximum event span? The chaining guard measured on real and streamed reports.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/event_guard.py [--spans 1,2,4,7,14,inf]

Events are made by a sweep in publication order (tracker/analysis/events.py):
an article joins the event of its most similar earlier linked article if that
event started at most ``max_span_days`` before it. For each span it groups,
with the packaged embedding model and the default threshold and window:

* the five seeds (one Bloomberg report, five outlets, 26-27 February plus one
  undated copy) and the twelve hand-written reports of other developments of
  the same days in tests/data/events: pairwise precision and recall against
  "the seeds are one event, every other report its own";
* the seeds again, as a story with near-identical daily updates over 60 days
  (seed texts in turn, one a day, "day N" in the headline): how many events,
  the longest span and the largest event -- single-link grouping made one;
* the stream of bench/soak.py (tracker/testing/newsstream.py) over 8 days of
  news: developments reported for about two days each, and the daily story:
  how many events each development was cut into, pairwise precision and
  recall against the developments, and the daily story's events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import re
from itertools import combinations

from tracker.analysis.events import GroupingArticle, group_articles, grouping_text, iso_to_day
from tracker.analysis.models import get_embedder
from tracker.config import EventsConfig
from tracker.sources.textfiles import parse_text_file
from tracker.testing import ROOT, SEEDS
from tracker.testing.newsstream import NewsStream

NEGATIVES = ROOT / "tests" / "data" / "events"


def pairwise(events, truth: dict[str, str]) -> tuple[float, float]:
    """Precision and recall of same-event pairs against ``truth`` (id -> group)."""
    event_of = {aid: e.id for e in events for aid in e.article_ids}
    ids = sorted(truth)
    same_event = {(a, b) for a, b in combinations(ids, 2) if event_of[a] == event_of[b]}
    same_truth = {(a, b) for a, b in combinations(ids, 2) if truth[a] == truth[b]}
    precision = len(same_event & same_truth) / len(same_event) if same_event else 1.0
    recall = len(same_event & same_truth) / len(same_truth) if same_truth else 1.0
    return precision, recall


def span_days(event, days: dict[str, float | None]) -> float:
    dated = [days[a] for a in event.article_ids if days[a] is not None]
    return max(dated) - min(dated) if dated else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", default="1,2,4,7,14,inf")
    args = parser.parse_args()
    spans = [float(s) for s in args.spans.split(",")]
    settings = EventsConfig()
    embedder = get_embedder(settings.embedding_model)

    def articles(items: list[tuple[str, str | None, str, str]]) -> list[GroupingArticle]:
        """(id, published ISO or None, title, text) -> grouping articles."""
        vectors = embedder.encode([grouping_text(t, x, settings.lead_words) for _, _, t, x in items])
        return [GroupingArticle(i, iso_to_day(p), v) for (i, p, _, _), v in zip(items, vectors)]

    def group(items: list[GroupingArticle], span: float):
        return group_articles(items, settings.similarity_threshold, settings.window_days, 1, span)

    # 1. Seeds and hand-written reports of other developments.
    files = sorted(SEEDS.glob("*.txt")) + sorted(NEGATIVES.glob("*.txt"))
    parsed = [(p, parse_text_file(p)) for p in files]
    real = articles([(p.stem, f.published, f.title, f.text) for p, f in parsed])
    truth = {p.stem: ("seeds" if p.parent == SEEDS else p.stem) for p, _ in parsed}

    # 2. The seeds as a story with daily updates, 60 days.
    seeds = [f for p, f in parsed if p.parent == SEEDS]
    start = dt.date(2025, 3, 1)
    daily_items = [(f"day{d:02d}", f"{start + dt.timedelta(days=d)}T09:00:00Z",
                    f"Day {d + 1}: " + seeds[d % 5].title, seeds[d % 5].text) for d in range(60)]
    daily = articles(daily_items)
    daily_days = {a.id: a.day for a in daily}

    # 3. The soak's stream: 8 days of news at 3 news-hours a tick.
    stream = NewsStream(20, seed=7, news_hours_per_tick=3.0, keep=10**6)  # keep every item
    for _ in range(64):
        stream.tick()
    items = [it for feed in stream.items for it in feed if it.relevant]
    streamed = articles([(it.guid, it.published.strftime("%Y-%m-%dT%H:%M:%SZ"), it.title,
                          html.unescape(re.sub("<[^>]+>", " ", it.description))) for it in items])
    story = {it.guid: it.story for it in items}
    stream_days = {a.id: a.day for a in streamed}
    developments = {it.guid: it.story for it in items if it.story != "daily"}

    print(f"threshold {settings.similarity_threshold}, window {settings.window_days} days; "
          f"{len(real)} real reports, {len(daily)} daily updates, {len(streamed)} streamed "
          f"reports ({len(set(developments.values()))} developments + the daily story)\n")
    print("| max span (days) | seeds + other developments: events, precision, recall "
          "| 60 daily updates: events, longest span, largest "
          "| stream: events per development, precision, recall | stream daily story: events, longest |")
    print("|---|---|---|---|---|")
    for span in spans:
        events = group(real, span)
        precision, recall = pairwise(events, truth)
        cells = [f"{span:g}", f"{len(events)}, {precision:.2f}, {recall:.2f}"]
        events = group(daily, span)
        cells.append(f"{len(events)}, {max(span_days(e, daily_days) for e in events):.0f} d, "
                     f"{max(len(e.article_ids) for e in events)}")
        events = group(streamed, span)
        dev_events = {}
        for event in events:
            for aid in event.article_ids:
                if aid in developments:
                    dev_events.setdefault(developments[aid], set()).add(event.id)
        precision, recall = pairwise(
            [e for e in events], {a: story[a] for a in story})
        per_dev = sorted(len(v) for v in dev_events.values())
        daily_events = [e for e in events if any(story[a] == "daily" for a in e.article_ids)]
        cells.append(f"{sum(per_dev) / len(per_dev):.2f} (max {per_dev[-1]}), "
                     f"{precision:.2f}, {recall:.2f}")
        cells.append(f"{len(daily_events)}, "
                     f"{max(span_days(e, stream_days) for e in daily_events):.1f} d")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

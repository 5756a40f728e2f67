"""A steady stream of news on loopback feeds, for the soak bench (bench/soak.py) and tests.

``NewsStream`` holds ``feeds`` RSS feeds; every :meth:`NewsStream.tick` adds
1-3 items to each and bumps its ETag, and each feed keeps only its newest
``keep`` items, as real feeds do. About ``relevant_share`` of the items are
about the topic (US-Russia cooperation in the Arctic); the rest are ordinary
news, a few of which mention the Arctic without being about the topic (the
tagger's near misses).

The topical items report *developments*, as real coverage does:

* short stories: a new development every ``story_every_days`` of news time,
  reported for about two days by several outlets in rewritten copies (the
  seeds are such copies), then forgotten;
* one long-running story with near-identical daily updates ("talks go on,
  day N"): consecutive days look alike, so single-link grouping chains all
  of them into one event that grows for as long as the stream runs.

News time is the items' publication time. It runs ``news_hours_per_tick``
per tick from ``news_start``, so a short soak covers days of news (and events
that span days) -- without any date in the future, which feeds may not give.

The texts are made from templates with a seeded random generator: the same
arguments give the same stream.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import threading
from dataclasses import dataclass

from tracker.testing.feedserver import FeedServer, Route, escape, rss

OUTLETS = ["Polar Wire", "Northern Ledger", "Harbor Times", "Capital Report", "Evening Post",
           "Daily Courier", "Metro Herald", "Coastal News", "Frontier Gazette", "Union Tribune"]

# Short stories: (headlines, facts). Reports of one development share its facts,
# in another order and with other headlines, like syndicated rewrites.
DEVELOPMENTS = [
    (["US and Russia agree joint search-and-rescue drills in the Bering Strait",
      "Washington and Moscow plan Bering Strait rescue exercise",
      "Russian and American coast guards to train together in the Arctic"],
     ["Coast guard officials from the United States and Russia agreed to hold joint search and rescue drills in the Bering Strait next summer.",
      "The exercise would be the first such joint training in the Arctic since 2021.",
      "Both sides said the drills would cover ship evacuation and oil spill response.",
      "A Russian official said the agreement showed that practical cooperation in the Arctic was still possible.",
      "Critics in Congress warned that any cooperation with Moscow rewards aggression."]),
    (["Russia offers US companies stake in Arctic LNG project",
      "Novatek invites American investors into Arctic gas venture",
      "Moscow pitches Arctic LNG partnership to Washington"],
     ["Russia has offered American energy companies a stake in an Arctic liquefied natural gas project on the Yamal peninsula.",
      "The offer was made by Kremlin envoy Kirill Dmitriev during talks with US officials.",
      "US sanctions still bar American firms from investing in the project.",
      "Analysts said the proposal was meant to split Washington from its European allies.",
      "The White House said it was studying the proposal but made no commitment."]),
    (["US and Russian scientists resume joint Arctic sea ice research",
      "American and Russian researchers restart polar ice survey",
      "Arctic science cooperation between Moscow and Washington resumes"],
     ["Scientists from the United States and Russia resumed a joint survey of Arctic sea ice that was suspended three years ago.",
      "The survey will measure ice thickness in the Chukchi Sea from a Russian research vessel.",
      "Researchers said the data is vital for forecasting shipping seasons.",
      "The resumption was approved by both governments after months of talks.",
      "Some European researchers said they were not consulted."]),
    (["US and Russia discuss opening Northern Sea Route to American shipping",
      "Talks on Northern Sea Route access for US carriers",
      "Moscow floats Northern Sea Route deal for American cargo"],
     ["Russian and American trade officials discussed opening the Northern Sea Route to American container shipping.",
      "Russia wants the route to carry more international cargo between Asia and Europe.",
      "American shippers would need Russian icebreaker escorts on the route.",
      "The talks took place in Riyadh on the sidelines of wider negotiations.",
      "NATO officials expressed concern about depending on Russian infrastructure in the Arctic."]),
    (["US and Russia sign Bering Sea fisheries agreement",
      "New Bering Sea fishing deal between Washington and Moscow",
      "Fishing fleets win from US-Russia Bering Sea accord"],
     ["The United States and Russia signed an agreement on managing fish stocks in the Bering Sea.",
      "The accord sets shared quotas for pollock and crab for the next five years.",
      "Alaska fishing groups welcomed the deal as overdue.",
      "Russian officials called it proof that the two countries can still cooperate in the Arctic.",
      "Environmental groups said the quotas were too high."]),
    (["Russia proposes US-Russian Arctic council on climate monitoring",
      "Moscow calls for joint Arctic climate monitoring with Washington",
      "Kremlin suggests permafrost monitoring partnership with the United States"],
     ["Russia proposed a joint council with the United States to monitor permafrost thaw and climate change in the Arctic.",
      "The council would share data from stations in Siberia and Alaska.",
      "American officials said they would consider the proposal carefully.",
      "Nordic governments said Arctic questions belong in the Arctic Council, which has been paused.",
      "Climate scientists on both sides supported more data sharing."]),
]

# The long-running story: near-identical daily updates.
DAILY_HEADLINE = "US and Russian aviation officials continue polar flight route talks, day {day}"
DAILY_FACTS = [
    "Aviation officials from the United States and Russia met for day {day} of talks in Anchorage on reopening polar flight routes.",
    "American airlines want to fly again over Siberia and the Arctic on routes between Asia and North America.",
    "Officials said progress was slow but both sides wanted an agreement on Arctic air corridors.",
    "A statement after the session said the talks would resume the next morning.",
]

BACKGROUND = [
    "The talks come as the war in Ukraine continues and relations between Moscow and Washington remain tense.",
    "European allies have watched the contacts between the two countries with unease.",
    "Arctic cooperation between the two countries largely stopped after 2022.",
    "The Arctic has warmed nearly four times faster than the rest of the planet.",
]

OFF_TOPIC = {
    "markets": ["Shares of {company} rose {n} percent after the company reported higher quarterly profit.",
                "Investors bought bank stocks as bond yields fell for a {nth} day.",
                "The central bank left interest rates unchanged at {n} percent.",
                "Oil prices slipped as traders weighed weaker demand from {country}.",
                "Analysts expect {company} to cut costs as sales slow in {country}."],
    "sports": ["{city} beat {city2} {n} to {m} in a tense match on Saturday.",
               "The coach of {city} said the team had finally found its rhythm.",
               "Fans filled the stadium for the first home game of the season.",
               "A late goal by the captain sealed the win for {city}.",
               "{city2} will play again on Wednesday after a short rest."],
    "local": ["The city council of {city} approved a new budget for schools and roads.",
              "Residents of {city} complained about rising rents and long waits for buses.",
              "The mayor promised {n} new homes by the end of the year.",
              "A new library opened in the centre of {city} on Monday.",
              "Police in {city} asked drivers to take care as roadworks begin."],
    "weather": ["Heavy rain is expected across {country} over the weekend.",
                "Forecasters warned of strong winds along the coast of {country}.",
                "Temperatures will climb to {n} degrees by Thursday.",
                "Farmers in {country} welcomed the rain after a dry spring.",
                "Flights were delayed at the main airport of {city} because of fog."],
    "technology": ["{company} unveiled a new phone with a larger battery.",
                   "Regulators in {country} opened an inquiry into {company}'s app store.",
                   "The startup raised {n} million dollars to build cheaper batteries.",
                   "{company} said it would hire {n} engineers in {city}.",
                   "Security researchers found a flaw in a widely used router."],
}
# Arctic news that is not about US-Russia cooperation: passes the keyword prefilter.
ARCTIC_NEAR_MISS = ["Norway opened new areas of the Barents Sea to oil exploration.",
                    "Greenland's government said tourism in the Arctic grew strongly this year.",
                    "Researchers tracked polar bears on Svalbard as the sea ice retreated.",
                    "Canada ordered a new icebreaker for its coast guard.",
                    "Finland and Sweden held a joint Arctic military exercise."]
FILL = {"company": ["Northwind", "Acme Holdings", "Bluefin Systems", "Orbital Foods", "Kestrel Bank"],
        "country": ["Spain", "Brazil", "India", "Kenya", "Japan", "Chile", "Poland"],
        "city": ["Lyon", "Porto", "Leeds", "Turin", "Ghent", "Malmo", "Graz"],
        "city2": ["Bilbao", "Bremen", "Cork", "Bergamo", "Utrecht"],
        "nth": ["second", "third", "fourth", "fifth"]}


@dataclass
class StreamItem:
    guid: str
    title: str
    description: str
    published: dt.datetime
    relevant: bool
    story: str | None = None  # e.g. "dev3", "daily", None for off-topic news


class NewsStream:
    """``feeds`` RSS feeds that grow by 1-3 items per feed and tick; thread-safe."""

    def __init__(self, feeds: int = 40, *, seed: int = 0, relevant_share: float = 0.1,
                 keep: int = 50, news_start: dt.datetime | None = None,
                 news_hours_per_tick: float = 0.0, story_every_days: float = 0.75,
                 daily_share: float = 0.3):
        self.feeds = feeds
        self.keep = keep
        self.relevant_share = relevant_share
        self.news_hours_per_tick = news_hours_per_tick
        self.story_every_days = story_every_days
        self.daily_share = daily_share
        self.news_start = news_start or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        self.rng = random.Random(seed)
        self.items: list[list[StreamItem]] = [[] for _ in range(feeds)]
        self.versions = [0] * feeds
        self.ticks = 0
        self.total = 0
        self.relevant = 0
        self._lock = threading.Lock()
        self._server: FeedServer | None = None

    # -- news time ------------------------------------------------------------

    def news_time(self, tick: int | None = None) -> dt.datetime:
        ticks = self.ticks if tick is None else tick
        return self.news_start + dt.timedelta(hours=self.news_hours_per_tick * ticks)

    def _days(self, moment: dt.datetime) -> float:
        return (moment - self.news_start).total_seconds() / 86400.0

    # -- texts ----------------------------------------------------------------

    def _fill(self, sentence: str) -> str:
        values = {k: self.rng.choice(v) for k, v in FILL.items()}
        values.update(n=self.rng.randint(2, 90), m=self.rng.randint(0, 5))
        return sentence.format(**values)

    def _topical(self, moment: dt.datetime) -> tuple[str, list[str], str]:
        day = self._days(moment)
        if self.rng.random() < self.daily_share:
            number = int(day) + 1
            facts = [f.format(day=number) for f in DAILY_FACTS]
            return DAILY_HEADLINE.format(day=number), facts, "daily"
        # The development of the moment, or the one before it (still reported).
        current = int(day / self.story_every_days)
        index = max(0, current - (1 if self.rng.random() < 0.3 else 0))
        headlines, facts = DEVELOPMENTS[index % len(DEVELOPMENTS)]
        round_ = index // len(DEVELOPMENTS)
        facts = facts[:1] + self.rng.sample(facts[1:], len(facts) - 1)
        headline = self.rng.choice(headlines)
        if round_:  # the same kind of development again, weeks later: another occasion
            headline += f" ({['spring', 'autumn', 'winter'][round_ % 3]} round {round_})"
        return headline, facts[: self.rng.randint(3, len(facts))], f"dev{index}"

    def _ordinary(self) -> tuple[str, list[str]]:
        topic = self.rng.choice(sorted(OFF_TOPIC))
        sentences = [self._fill(s) for s in self.rng.sample(OFF_TOPIC[topic], 4)]
        if self.rng.random() < 0.08:
            sentences.insert(1, self.rng.choice(ARCTIC_NEAR_MISS))
        return sentences[0].rstrip("."), sentences

    def _item(self, feed: int, moment: dt.datetime) -> StreamItem:
        self.total += 1
        relevant = self.rng.random() < self.relevant_share
        if relevant:
            self.relevant += 1
            title, sentences, story = self._topical(moment)
            sentences = sentences + self.rng.sample(BACKGROUND, 2)
        else:
            title, sentences = self._ordinary()
            story = None
            sentences = sentences + [self._fill(s) for s in self.rng.sample(
                OFF_TOPIC[self.rng.choice(sorted(OFF_TOPIC))], 2)]
        outlet = OUTLETS[feed % len(OUTLETS)]
        paragraphs = [f"<p>{escape(s)}</p>" for s in sentences]
        paragraphs.append(f"<p>Reporting by the {escape(outlet)} staff; item {self.total}.</p>")
        # Spread within the tick, so items are not all stamped with one second.
        published = moment + dt.timedelta(seconds=self.rng.randint(0, 59))
        return StreamItem(guid=f"https://feed{feed}.example.org/story/{self.total}", title=title,
                          description="".join(paragraphs), published=published,
                          relevant=relevant, story=story)

    # -- feeds ----------------------------------------------------------------

    def tick(self) -> int:
        """Add 1-3 items to every feed at the current news time; returns how many."""
        with self._lock:
            moment = self.news_time()
            added = 0
            for feed in range(self.feeds):
                for _ in range(self.rng.randint(1, 3)):
                    self.items[feed].append(self._item(feed, moment))
                    added += 1
                del self.items[feed][: -self.keep]
                self.versions[feed] += 1
                if self._server is not None:
                    self._server.routes[self.path(feed)] = self.route(feed)
            self.ticks += 1
            return added

    def path(self, feed: int) -> str:
        return f"/news/{feed}.xml"

    def route(self, feed: int) -> Route:
        entries = [{"title": item.title, "link": item.guid, "guid": item.guid,
                    "pubDate": email.utils.format_datetime(item.published, usegmt=True),
                    "description": item.description}
                   for item in reversed(self.items[feed])]
        body = rss(entries, title=f"{OUTLETS[feed % len(OUTLETS)]} {feed}",
                   link=f"https://feed{feed}.example.org/")
        return Route(body, etag=f'"{feed}-{self.versions[feed]}"')

    def serve(self, server: FeedServer) -> list[str]:
        """Answer on ``server`` from now on (each tick updates the routes); the feed URLs."""
        with self._lock:
            self._server = server
            for feed in range(self.feeds):
                server.routes[self.path(feed)] = self.route(feed)
        return [server.url(self.path(feed)) for feed in range(self.feeds)]

"""The events job (jobs/events.py) on real articles with the real embedding model (the
packaged all-MiniLM-L6-v2): incremental equals rebuild, stance statistics, the CLI."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.events import run_events
from jobs.ingest import run_ingest
from jobs.runner import JOBS, run_job
from tracker.cli import cli
from tracker.config import ConfigError, config_from_dict
from tracker.testing import ROOT, SEEDS
from tracker_db import open_db

NEGATIVES = ROOT / "tests" / "data" / "events"  # other developments of the same two days


def partition(db) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for row in db.query("select event_id, article_id from event_articles"):
        groups.setdefault(row["event_id"], set()).add(row["article_id"])
    return {frozenset(g) for g in groups.values()}


def event_rows(db) -> dict[frozenset[str], dict]:
    """Each event's row (without bookkeeping columns), keyed by its articles."""
    members: dict[int, set[str]] = {}
    for row in db.query("select event_id, article_id from event_articles"):
        members.setdefault(row["event_id"], set()).add(row["article_id"])
    skip = {"id", "updated_at"}
    return {frozenset(members[row["id"]]): {k: v for k, v in row.items() if k not in skip}
            for row in db.query("select * from events")}


def tag(db, article_id: str, label: str | None, favor=0.1, against=0.1, neutral=0.1,
        confidence=0.8, evidence=None) -> None:
    """A hand-made stance tag, as the tagger writes it (stance_tags + articles.stance)."""
    db["stance_tags"].upsert(
        {"article_id": article_id, "label": label, "score_favor": favor, "score_against": against,
         "score_neutral": neutral, "confidence": confidence, "evidence": evidence,
         "status": "ok" if label else "error", "tagged_at": "2999-01-01T00:00:00Z"},
        pk="article_id")
    db["articles"].update(article_id, {"stance": label, "stance_confidence": confidence})


def seed_ids(db) -> list[str]:
    return [r["id"] for r in db.query("select id from articles where path like ? order by path",
                                      [f"{SEEDS}%"])]



def test_the_seeds_form_one_event(db, config):
    run_ingest(db, config)
    summary = run_events(db, config)
    assert (summary.events, summary.articles, summary.new) == (1, 5, 5)
    event = next(db.query("select * from events"))
    ids = seed_ids(db)
    # Seed 001 has no date: it still joins (through its best dated match).
    undated = next(db.query("select id from articles where published is null"))["id"]
    assert undated in ids
    assert partition(db) == {frozenset(ids)}
    assert {r["event_id"] for r in db.query("select event_id from articles")} == {event["id"]}
    assert event["article_count"] == 5 and event["outlet_count"] == 5
    assert event["title"] in {r["title"] for r in db.query("select title from articles")}
    assert (event["first_seen"], event["last_seen"], event["first_date"]) == (
        "2025-02-26T00:00:00Z", "2025-02-27T00:00:00Z", "2025-02-26")
    # Nothing is tagged yet: stance counts are 0, no stance.
    assert (event["favor"], event["against"], event["neutral"], event["unrelated"]) == (0, 0, 0, 0)
    assert event["stance"] is None and event["mean_favor"] is None
    sims = [r["similarity"] for r in db.query("select similarity from event_articles")]
    # Each article joined through a link; the first report started the event.
    assert sims.count(None) == 1
    assert all(s >= config.events.similarity_threshold for s in sims if s is not None)
    # A second run has nothing to do.
    again = run_events(db, config)
    assert (again.new, again.embedded, again.regrouped, again.created) == (0, 0, 0, 0)


def test_unrelated_articles_of_the_same_day_do_not_merge(db, config):
    run_ingest(db, config, paths=[str(SEEDS), str(NEGATIVES)])
    run_events(db, config)
    groups = partition(db)
    assert frozenset(seed_ids(db)) in groups
    assert len(groups) == 1 + len(list(NEGATIVES.glob("*.txt")))
    # e.g. the Istanbul embassy talks and the Greenland dispute, both 2025-02-27,
    # both US/Russia/Arctic news: two events.
    by_title = {r["title"]: r["event_id"] for r in db.query("select title, event_id from articles")}
    istanbul = by_title["US and Russian diplomats meet in Istanbul to restore embassy operations"]
    greenland = by_title["Denmark rejects renewed Trump push to acquire Greenland"]
    assert istanbul != greenland


def write_article(folder: Path, name: str, date: str | None, title: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    head = f"date {date}\n" if date else ""
    (folder / name).write_text(f"{head}{title}\n\n{text}\n", encoding="utf-8")


def seed_body(name: str) -> str:
    text = next(SEEDS.glob(f"{name}_*.txt")).read_text(encoding="utf-8")
    return re.sub(r"^\s*date \d{4}-\d{2}-\d{2}", "", text)


def story_batches(tmp_path: Path) -> list[Path]:
    """Batches of articles that arrive over time: an undated copy first, then
    two reports too far apart to link, then the one in between that merges
    them, then an unrelated article and more copies."""
    batches = [tmp_path / f"batch{i}" for i in range(5)]
    write_article(batches[0], "undated.txt", None, "Media: US, Russia consider joint exploration of natural resources in Arctic", seed_body("001"))
    write_article(batches[1], "early.txt", "2025-02-20", "US, Russia Mull Cooperation on Arctic Shipping and Exploration", seed_body("002"))
    write_article(batches[1], "late.txt", "2025-02-26", "Russia and the United States are discussing future cooperation", seed_body("000"))
    write_article(batches[2], "middle.txt", "2025-02-23", "US and Russia explore Arctic cooperation as ties with European allies strain", seed_body("003"))
    for path in NEGATIVES.glob("*.txt"):
        (batches[3] / path.name).parent.mkdir(parents=True, exist_ok=True)
        (batches[3] / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    write_article(batches[3], "kyiv.txt", "2025-02-27", "American and Russian officials identify the Arctic as area of cooperation", seed_body("004"))
    write_article(batches[4], "finland.txt", "2025-03-10", "Finland orders two polar icebreakers for its coast guard",
                  "Finland's government ordered two icebreakers from the Helsinki shipyard on Monday, "
                  "the first new icebreakers for the Baltic in a decade, to keep winter shipping lanes open.")
    return batches


def test_incremental_assignment_equals_a_full_rebuild(tmp_path, config):
    batches = story_batches(tmp_path)
    incremental = open_db(tmp_path / "incremental.db")
    history = []
    for batch in batches:
        run_ingest(incremental, config, paths=[str(batch)])
        summary = run_events(incremental, config)
        history.append((summary, partition(incremental)))
    # Batch 1: two reports 6 days apart (window 4) are two events; the undated
    # copy joined one of them. Batch 2: the report in between merges them.
    assert len(history[1][1]) == 2
    assert history[2][0].deleted == 1 and len(history[2][1]) == 1
    # Batch 4: one article on another development is grouped alone, without
    # regrouping anything else.
    assert history[4][0].regrouped == 1 and history[4][0].created == 1
    full = open_db(tmp_path / "full.db")
    for batch in batches:
        run_ingest(full, config, paths=[str(batch)])
    run_events(full, config)
    assert partition(incremental) == partition(full)
    assert event_rows(incremental) == event_rows(full)
    # A rebuild of the incremental database changes nothing, ids included.
    before = {r["id"]: r["title"] for r in incremental.query("select id, title from events")}
    rebuilt = run_events(incremental, config, rebuild=True)
    assert rebuilt.rebuilt and rebuilt.created == 0 and rebuilt.deleted == 0
    assert {r["id"]: r["title"] for r in incremental.query("select id, title from events")} == before


def test_stance_statistics_and_relevance(db, config):
    run_ingest(db, config)
    run_events(db, config)
    a, b, c, d, e = seed_ids(db)
    tag(db, a, "favor", favor=0.9, confidence=0.9, evidence="Cooperation is welcome.")
    tag(db, b, "favor", favor=0.7, confidence=0.7, evidence="A weaker favor passage.")
    tag(db, c, "against", against=0.8, evidence="Allies are alarmed.")
    tag(db, d, "unrelated")
    tag(db, e, None)  # tagging failed: stays in the event, counted as untagged
    summary = run_events(db, config)
    assert summary.removed == 1 and summary.stats_updated >= 1
    event = next(db.query("select * from events"))
    assert (event["article_count"], event["favor"], event["against"], event["neutral"]) == (4, 2, 1, 0)
    assert event["stance"] == "favor"
    assert event["evidence"] == "Cooperation is welcome."
    assert event["mean_favor"] == pytest.approx((0.9 + 0.7 + 0.1) / 3, abs=1e-4)
    assert db["articles"].get(d)["event_id"] is None
    # Relevant again (re-tagged): it rejoins its event.
    tag(db, d, "neutral")
    run_events(db, config)
    assert next(db.query("select article_count, neutral from events")) == {"article_count": 5, "neutral": 1}


def test_changed_text_is_regrouped_and_settings_change_rebuilds(db, config):
    run_ingest(db, config, paths=[str(SEEDS), str(NEGATIVES)])
    run_events(db, config)
    # A seed's text is replaced by another story: it leaves the seed event.
    seed, kept = seed_ids(db)[:2]
    other = (NEGATIVES / "salmon_exports.txt").read_text(encoding="utf-8").split("\n", 2)[2]
    db["articles"].update(seed, {"title": "Norwegian salmon exports fall as prices drop in Europe",
                                 "text": other, "content_hash": "changed"})
    summary = run_events(db, config)
    assert summary.embedded == 1 and summary.removed == 1
    event_of = {r["id"]: r["event_id"] for r in db.query("select id, event_id from articles")}
    assert db["events"].get(event_of[kept])["article_count"] == 4
    # ...and joins the salmon report it now duplicates.
    salmon = next(db.query("select id from articles where path like '%salmon%'"))["id"]
    assert event_of[seed] == event_of[salmon]
    assert db["events"].get(event_of[seed])["article_count"] == 2
    config.events.window_days = 2.0
    assert run_events(db, config).rebuilt


def test_no_articles_and_the_job_registry(db, config):
    summary = run_events(db, config)
    assert (summary.articles, summary.events) == (0, 0)
    names = list(JOBS)
    assert names.index("events") > names.index("ingest")
    if "tag" in names:
        assert names.index("tag") < names.index("events")
    if "housekeeping" in names:
        assert names.index("events") < names.index("housekeeping")
    run_ingest(db, config)
    run_job(db, config, "events")
    run = next(db.query("select status, counts from job_runs where job = 'events'"))
    assert run["status"] == "ok" and '"events": 1' in run["counts"]


def test_events_config_is_checked():
    with pytest.raises(ConfigError, match="similarity_threshold"):
        config_from_dict({"events": {"similarity_threshold": 1.5}})
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"events": {"treshold": 0.5}})
    config = config_from_dict({"events": {"lead_words": 40, "window_days": 2}})
    assert (config.events.lead_words, config.events.window_days) == (40, 2)


def test_cli_events(db_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SEEDS), "--db", str(db_path)]).exit_code == 0
    result = runner.invoke(cli, ["events", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "1 events from 5 articles: 5 articles grouped" in result.output
    result = runner.invoke(cli, ["events", "--rebuild", "--db", str(db_path)])
    assert "(full rebuild)" in result.output and "0 events created" in result.output
    bad = db_path.parent / "bad.toml"
    bad.write_text('[events]\nembedding_model = "./no/such/model"\n')
    result = runner.invoke(cli, ["events", "--rebuild", "--db", str(db_path), "--config", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: model folder not found") and "Traceback" not in result.output


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_equals_rebuild_in_any_arrival_order(tmp_path, config, seed):
    """Random dates (some missing) over twelve days and a random arrival order in
    random batches: the events are those of one run over everything."""
    rng = random.Random(seed)
    texts = [(p.stem, re.sub(r"^\s*date \d{4}-\d{2}-\d{2}", "", p.read_text(encoding="utf-8")))
             for p in sorted(SEEDS.glob("*.txt")) + sorted(NEGATIVES.glob("*.txt"))]
    rng.shuffle(texts)
    cuts = sorted(rng.sample(range(1, len(texts)), 3))
    batches = [texts[a:b] for a, b in zip([0, *cuts], [*cuts, len(texts)])]
    folders = []
    for n, batch in enumerate(batches):
        folder = tmp_path / f"batch{n}"
        folder.mkdir()
        for stem, text in batch:
            date = None if rng.random() < 0.25 else f"2025-02-{rng.randint(10, 21)}"
            (folder / f"{stem}.txt").write_text((f"date {date}\n" if date else "") + text.lstrip(),
                                                encoding="utf-8")
        folders.append(folder)
    incremental = open_db(tmp_path / "incremental.db")
    for folder in folders:
        run_ingest(incremental, config, paths=[str(folder)])
        run_events(incremental, config)
    full = open_db(tmp_path / "full.db")
    run_ingest(full, config, paths=[str(f) for f in folders])
    run_events(full, config)
    assert partition(incremental) == partition(full)
    assert len(partition(full)) > 1

    def comparable(db):
        # Events of undated articles only are dated by ingestion, which differs.
        undated = {row["id"] for row in db.query("select id from articles where published is null")}
        return {members: {k: v for k, v in row.items()
                          if not (members <= undated and k in ("first_seen", "last_seen", "first_date"))}
                for members, row in event_rows(db).items()}

    assert comparable(incremental) == comparable(full)



def daily_story(folder: Path, days: range) -> None:
    """Near-identical daily updates of one story: each links to the day before."""
    for day in days:
        write_article(folder, f"day{day:02d}.txt", f"2025-03-{day:02d}",
                      f"US and Russian officials continue Arctic shipping talks, day {day}",
                      f"Negotiators from the United States and Russia met again on day {day} of "
                      "talks on Arctic shipping rules along the Northern Sea Route. "
                      + seed_body("002")[:400])


def test_a_run_places_only_what_was_published_since_the_change(tmp_path, config):
    daily_story(tmp_path / "story", range(1, 29))
    db = open_db(tmp_path / "story.db")
    run_ingest(db, config, paths=[str(tmp_path / "story")])
    first = run_events(db, config)
    spans = [r["span"] for r in db.query(
        "select julianday(last_seen) - julianday(first_seen) as span from events")]
    # Without the guard the 28 days were one event; now none spans more than max_span_days.
    assert len(spans) >= 28 / (config.events.max_span_days + 1)
    assert max(spans) <= config.events.max_span_days and first.regrouped == 28
    # Day 29 arrives: it is placed, nothing else is, whatever the size of its event.
    daily_story(tmp_path / "next", range(29, 30))
    run_ingest(db, config, paths=[str(tmp_path / "next")])
    summary = run_events(db, config)
    assert (summary.new, summary.regrouped) == (1, 1)
    # A late report of day 20: the days since then are placed again, not the others.
    write_article(tmp_path / "late", "late.txt", "2025-03-20",
                  "US and Russian officials continue Arctic shipping talks, day 20 (corrected)",
                  "Negotiators from the United States and Russia met again on day 20 of talks "
                  "on Arctic shipping rules along the Northern Sea Route. " + seed_body("002")[:380])
    run_ingest(db, config, paths=[str(tmp_path / "late")])
    summary = run_events(db, config)
    assert summary.new == 1 and summary.regrouped == 11  # days 20-29 and the late one
    # ...and it is exactly what a full rebuild makes.
    before = partition(db)
    assert run_events(db, config, rebuild=True).created == 0 and partition(db) == before


def test_articles_stored_while_the_job_embeds_wait_for_the_next_run(tmp_path, config):
    """The service runs refresh and events at the same time: articles stored after the
    events job computed what to embed have no vector in that run. They wait for the next
    run (before, the job failed with a KeyError on every run under a steady stream)."""
    from tracker.analysis.models import get_embedder

    batches = story_batches(tmp_path)
    db = open_db(tmp_path / "busy.db")
    run_ingest(db, config, paths=[str(batches[1])])
    model = get_embedder(config.events.embedding_model)

    class ArticlesArriveMeanwhile:
        """The real model; while it embeds the first batch, another job stores articles."""

        def __init__(self):
            self.calls = 0

        def encode(self, texts, **kwargs):
            self.calls += 1
            if self.calls == 1:
                run_ingest(db, config, paths=[str(batches[0]), str(batches[2])])
            return model.encode(texts, **kwargs)

    first = run_events(db, config, embedder=ArticlesArriveMeanwhile())
    assert first.new == 2 and len(partition(db)) == 2  # the two reports it saw
    second = run_events(db, config)
    assert second.new == 2  # the undated copy and the report in between
    full = open_db(tmp_path / "full.db")
    for batch in batches[:3]:
        run_ingest(full, config, paths=[str(batch)])
    run_events(full, config)
    assert partition(db) == partition(full) and len(partition(db)) == 1
    assert event_rows(db) == event_rows(full)

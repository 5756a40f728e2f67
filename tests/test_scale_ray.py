"""Tagging and embedding on Ray actors ([scale] engine = "ray") give what local
processing gives, on a private Ray instance started on this machine.

Marked ``ray``: ``pytest -m 'not ray'`` leaves it out (it starts Ray's processes
and two model-loading actors, about half a minute)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from jobs.events import run_events
from jobs.runner import run_job
from jobs.tag import run_tag
from tracker.config import ScaleConfig
from tracker.domain import Article
from tracker.store.articles import save_articles
from tracker.testing import SEEDS
from tracker_db import open_db

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason='Ray is not installed: pip install ".[ray]"')

EXTRA = [
    ("Arctic Council resumes work", "The Arctic Council resumed its working groups on Monday. "
     "Russia and the United States both sent delegates to Tromsø."),
    ("Icebreaker fleet grows", "Russia launched another nuclear icebreaker for the Northern "
     "Sea Route, while Washington warned about militarisation of the Arctic."),
    ("Fishing quotas", "Norway and Russia agreed on cod quotas for the Barents Sea."),
]


def tag_rows(db) -> dict[str, dict]:
    return {r["article_id"]: r for r in db.query(
        "select article_id, label, scores, evidence, status, model_hash, config_hash "
        "from stance_tags")}


def same_tags(local: dict[str, dict], remote: dict[str, dict]) -> None:
    assert local.keys() == remote.keys()
    for article_id, row in local.items():
        other = remote[article_id]
        assert (other["label"], other["evidence"], other["status"], other["model_hash"],
                other["config_hash"]) == (row["label"], row["evidence"], row["status"],
                                          row["model_hash"], row["config_hash"]), article_id
        assert json.loads(other["scores"]) == pytest.approx(json.loads(row["scores"]), abs=2e-4)


def test_ray_tags_and_embeds_like_local_processing(tmp_path, tiny_config):
    from tracker.analysis import workers

    local_path, remote_path = tmp_path / "local.db", tmp_path / "ray.db"
    db = open_db(local_path)
    run_job(db, tiny_config, "ingest", paths=[str(SEEDS)])
    save_articles(db, [Article(id=f"extra{i}", title=title, text=text, kind="file",
                               outlet="Test wire", published=f"2025-02-2{6 + i % 2}T08:00:00Z",
                               published_date=f"2025-02-2{6 + i % 2}")
                       for i, (title, text) in enumerate(EXTRA)])
    db.close()
    shutil.copy(local_path, remote_path)

    local = open_db(local_path)
    assert run_tag(local, tiny_config).tagged == 8
    local_events = run_events(local, tiny_config)
    assert local_events.embedded >= 5  # the relevant ones: the seeds at least

    tiny_config.scale = ScaleConfig(engine="ray", address="local", actors=2, batch_size=2,
                                    batches_in_flight=1, cpus_per_actor=1)
    remote = open_db(remote_path)
    killed = []

    def kill_an_actor_once(done: int, total: int) -> None:
        # After the first batch is written, one actor dies; Ray restarts it and runs
        # its batch again. Nothing is lost and nothing is written twice.
        if not killed:
            pids = ray.get([actor.pid.remote() for actor in workers.actors()])
            ray.kill(workers.actors()[1], no_restart=False)
            killed.append(pids)

    try:
        summary = run_tag(remote, tiny_config, progress=kill_an_actor_once)
        assert (summary.candidates, summary.tagged, summary.failed) == (8, 8, 0)
        assert killed and len(set(killed[0])) == 2  # two actors, two processes
        same_tags(tag_rows(local), tag_rows(remote))
        # Idempotent: nothing left to do, nothing sent.
        assert run_tag(remote, tiny_config).candidates == 0

        remote_events = run_events(remote, tiny_config)
        assert remote_events.embedded == local_events.embedded
    finally:
        workers.shutdown()
    events = "select article_id, event_id from event_articles order by article_id"
    assert list(remote.query(events)) == list(local.query(events))
    vectors = "select article_id, vector from article_embeddings order by article_id"
    for (lid, lvec), (rid, rvec) in zip(local.execute(vectors), remote.execute(vectors)):
        assert lid == rid
        assert np.allclose(np.frombuffer(lvec, np.float32), np.frombuffer(rvec, np.float32),
                           atol=1e-5)


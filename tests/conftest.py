"""Shared fixtures: real SQLite files in tmp_path, the real seeds, a loopback feed
server, a tiny NLI model. Helpers live in :mod:`tracker.testing`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracker.config import Config, TaggerConfig
from tracker.testing import SEEDS
from tracker.testing.feedserver import FeedServer
from tracker_db import open_db

# The shipped models load from disk; a test must never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tracker.db"


@pytest.fixture
def db(db_path: Path):
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def config(db_path: Path) -> Config:
    return Config(db_path=str(db_path), ingest_paths=[str(SEEDS)])


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 (see tracker.testing.feedserver); a test fails
    if one of its handlers raised (a client hanging up is not an error)."""
    with FeedServer() as running:
        yield running
    assert not running.errors, running.errors


@pytest.fixture(scope="session")
def tiny_nli(tmp_path_factory) -> str:
    """A real but tiny NLI model on disk: random weights, the MiniLM vocabulary."""
    from tracker.testing.models import make_tiny_nli

    return make_tiny_nli(tmp_path_factory.mktemp("tiny-nli"))


@pytest.fixture
def tiny_config(config: Config, tiny_nli: str) -> Config:
    config.tagger = TaggerConfig(model=tiny_nli)
    return config

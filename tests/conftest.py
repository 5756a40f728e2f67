"""Shared fixtures: real SQLite files in tmp_path, the real seeds, ../shared data."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from tracker.config import Config
from tracker_db import open_db

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"


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


def datasette_json(datasette, path: str):
    """GET ``path`` from an in-process Datasette; assert 200 and return the JSON."""

    async def fetch():
        return await datasette.client.get(path)

    response = asyncio.run(fetch())
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0, process=None) -> httpx.Response:
    """Poll ``url`` until it answers (no fixed sleeps); fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode} before answering")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError as exc:
            last_error = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last_error}")

"""Helpers for the test suite and the benchmarks, in one importable place.

* :mod:`.feedserver` -- a real HTTP server on 127.0.0.1 with programmable responses
* :mod:`.synthetic`  -- a synthetic timeline written straight to a database
* :mod:`.models`     -- a tiny (random) NLI model for plumbing tests

Nothing here is used by the tracker itself.
"""

from __future__ import annotations

import asyncio
import socket
import time

from tracker.config import PROJECT_ROOT

ROOT = PROJECT_ROOT
SEEDS = ROOT / "seeds"
# ../shared beside the project root: data sets, the feed corpus (never copied in).
SHARED = ROOT.parent / "shared"


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


def wait_for_http(url: str, timeout: float = 60.0, process=None):
    """Poll ``url`` until it answers (no fixed sleeps); fail early if ``process`` died."""
    import httpx

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


__all__ = ["ROOT", "SEEDS", "SHARED", "datasette_json", "free_port", "wait_for_http"]

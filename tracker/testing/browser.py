"""Browser tests: Debian's Chromium driven by Playwright, and a real `tracker serve` process.

Playwright's own browser download does not work offline, so the tests use
``/usr/bin/chromium`` (``make test`` installs it). Without it a browser test
is skipped, except under CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tracker.testing import ROOT, free_port, wait_for_http

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing reaching out of the machine on its own (the profile is
# a fresh folder per test: launch_persistent_context's user_data_dir).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_or_skip() -> None:
    import pytest

    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not installed (make test installs Debian's chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class BrowserPage:
    """A Chromium page, with what went wrong on it: script errors, requests that
    left the server under test (the pages must work offline)."""

    page: object
    base_url: str
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@contextmanager
def chromium_page(profile: Path, base_url: str, width: int = 1280,
                  height: int = 900) -> Iterator[BrowserPage]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            found = BrowserPage(page, base_url)
            page.on("pageerror", lambda exc: found.errors.append(str(exc)))
            page.on("request", lambda r: None if r.url.startswith(base_url)
                    else found.outside.append(r.url))
            yield found
        finally:
            context.close()


@dataclass
class Served:
    url: str
    process: subprocess.Popen
    root_login: str | None = None  # with root=True: the one-time sign-in link


@contextmanager
def tracker_serve(db_path: Path, root: bool = False, public: bool = False) -> Iterator[Served]:
    """`tracker serve` as a real process on 127.0.0.1; stopped however the test ends."""
    port = free_port()
    args = [sys.executable, "-m", "tracker", "serve", "--db", str(db_path), "--port", str(port)]
    process = subprocess.Popen(args + (["--root"] if root else []) + (["--public"] if public else []),
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        login = None
        if root:  # printed before it starts serving
            for line in process.stderr:
                if line.startswith("Sign in as root: "):
                    login = line.split(": ", 1)[1].strip()
                    break
        # Keep reading what it logs, so that a full pipe never blocks the server.
        threading.Thread(target=process.stderr.read, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/", process=process)
        yield Served(url, process, login)
    finally:
        process.terminate()
        process.wait(timeout=20)

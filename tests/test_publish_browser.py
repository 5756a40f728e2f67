"""The dashboard in a real browser: `tracker serve` as a process, headless Chromium.

Needs Debian's chromium (``make test`` installs it via the ``browser`` target).
Without it the test is skipped, except under CI (``CI`` set), where it fails.
The screenshot is saved in the test's tmp folder, and also to the path in
``$DASHBOARD_SCREENSHOT`` if set (that is how docs/dashboard.png is made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracker_db import open_db

from tracker.testing import ROOT, free_port, wait_for_http

from tracker.testing.synthetic import build_synthetic

CHROMIUM = Path("/usr/bin/chromium")
CHARTS = ["stance-over-time", "event-timeline", "stance-by-outlet"]
# Marks Vega drew (SVG renderer) in one of the stance colours of metadata.yml.
STANCE_MARKS_JS = """
(id) => [...document.querySelectorAll(`#chart-${id} svg g.role-mark path`)]
  .filter(p => ['#1a9850', '#d73027', '#8c8c8c', '#7b3294', '#c2c2c2']
  .includes((p.getAttribute('fill') || '').toLowerCase())).length
"""


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not installed (make test installs Debian's chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_dashboard_renders_in_chromium(tmp_path):
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    db_path = tmp_path / "tracker.db"
    db = open_db(db_path)
    build_synthetic(db, articles=1500, days=270, start=__import__("datetime").date(2025, 1, 6))
    db.close()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    screenshot = tmp_path / "dashboard.png"
    try:
        url = f"http://127.0.0.1:{port}/-/dashboards/timeline"
        assert wait_for_http(url, process=process).status_code == 200
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                outside: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("request", lambda r: None if r.url.startswith(f"http://127.0.0.1:{port}/")
                        else outside.append(r.url))
                page.goto(url)
                for chart in CHARTS:
                    # Vega draws once the chart's query has answered.
                    page.wait_for_function(
                        f"({STANCE_MARKS_JS})('{chart}') > 0", timeout=30_000, polling=200)
                    assert page.locator(f"#card-{chart} .dashboard-card-title").is_visible()
                marks = {chart: page.evaluate(STANCE_MARKS_JS, chart) for chart in CHARTS}
                page.screenshot(path=str(screenshot), full_page=True)
            finally:
                browser.close()
        # Bars for every week and stance, a dot per event, bars per outlet and stance.
        assert marks["stance-over-time"] > 3 * 20, marks
        assert marks["event-timeline"] > 100, marks
        assert marks["stance-by-outlet"] >= 15 * 2, marks
        assert errors == [] and outside == [], (errors, outside)  # offline: local assets only
        assert screenshot.stat().st_size > 20_000
        if os.environ.get("DASHBOARD_SCREENSHOT"):
            shutil.copy(screenshot, os.environ["DASHBOARD_SCREENSHOT"])
    finally:
        process.terminate()
        process.wait(timeout=20)

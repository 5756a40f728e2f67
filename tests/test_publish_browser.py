"""The dashboard in a real browser: `tracker serve` as a process, headless Chromium.

The screenshot is saved in the test's tmp folder, and also to the path in
``$DASHBOARD_SCREENSHOT`` if set (that is how docs/dashboard.png is made).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

from tracker.testing.browser import chromium_or_skip, chromium_page, tracker_serve
from tracker.testing.synthetic import build_synthetic
from tracker_db import open_db

CHARTS = ["stance-over-time", "event-timeline", "stance-by-outlet"]
# Marks Vega drew (SVG renderer) in one of the stance colours of metadata.yml.
STANCE_MARKS_JS = """
(id) => [...document.querySelectorAll(`#chart-${id} svg g.role-mark path`)]
  .filter(p => ['#1a9850', '#d73027', '#8c8c8c', '#7b3294', '#c2c2c2']
  .includes((p.getAttribute('fill') || '').toLowerCase())).length
"""


def test_dashboard_renders_in_chromium(tmp_path):
    chromium_or_skip()
    db_path = tmp_path / "tracker.db"
    db = open_db(db_path)
    build_synthetic(db, articles=1500, days=270, start=dt.date(2025, 1, 6))
    db.close()
    screenshot = tmp_path / "dashboard.png"
    with tracker_serve(db_path) as served, \
            chromium_page(tmp_path / "profile", served.url, width=1400, height=1000) as browser:
        page = browser.page
        page.goto(f"{served.url}/-/dashboards/timeline")
        for chart in CHARTS:
            # Vega draws once the chart's query has answered.
            page.wait_for_function(
                f"({STANCE_MARKS_JS})('{chart}') > 0", timeout=30_000, polling=200)
            assert page.locator(f"#card-{chart} .dashboard-card-title").is_visible()
        marks = {chart: page.evaluate(STANCE_MARKS_JS, chart) for chart in CHARTS}
        page.screenshot(path=str(screenshot), full_page=True)
        # A dot of the event chart opens its event page.
        page.locator("#chart-event-timeline svg g.role-mark path").first.click()
        page.wait_for_url(f"{served.url}/event/*")
        assert page.locator("h1").inner_text()
        errors, outside = browser.errors, browser.outside
    # Bars for every week and stance, a dot per event, bars per outlet and stance.
    assert marks["stance-over-time"] > 3 * 20, marks
    assert marks["event-timeline"] > 100, marks
    assert marks["stance-by-outlet"] >= 15 * 2, marks
    assert errors == [] and outside == [], (errors, outside)  # offline: local assets only
    assert screenshot.stat().st_size > 20_000
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["DASHBOARD_SCREENSHOT"])

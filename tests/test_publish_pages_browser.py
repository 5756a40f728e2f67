"""The story, event and article pages in headless Chromium, on the real seeds tagged by
the shipped models, served by a real `tracker serve --root` process; and a correction
round trip (anonymous refused, signed in as root, corrected, shown).

Each test saves a screenshot in its tmp folder, and into ``$PAGES_SCREENSHOTS``
(a folder) if set: that is how docs/story.png and docs/article.png are made.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jobs.runner import run_job
from tracker.config import Config
from tracker.testing import SEEDS
from tracker.testing.browser import chromium_or_skip, chromium_page, tracker_serve
from tracker_db import open_db


@pytest.fixture(scope="module")
def seeds_db(tmp_path_factory) -> Path:
    """The five seeds, ingested, tagged and grouped as `make run` does."""
    path = tmp_path_factory.mktemp("seeds") / "tracker.db"
    config = Config(db_path=str(path), ingest_paths=[str(SEEDS)])
    db = open_db(path)
    for job in ("ingest", "tag", "events"):
        run_job(db, config, job)
    db.close()
    return path


def keep(screenshot: Path) -> None:
    assert screenshot.stat().st_size > 20_000
    folder = os.environ.get("PAGES_SCREENSHOTS")
    if folder:
        shutil.copy(screenshot, Path(folder) / screenshot.name)


def test_story_and_event_pages(seeds_db, tmp_path):
    chromium_or_skip()
    with tracker_serve(seeds_db) as served, chromium_page(tmp_path / "profile", served.url) as browser:
        page = browser.page
        page.goto(f"{served.url}/")
        assert page.locator("h1").inner_text() == "US–Russia cooperation in the Arctic"
        figures = page.locator("ul.figures li").all_inner_texts()
        assert figures[0].split() == ["5", "articles"] and figures[2].split() == ["1", "events"]
        # Two days of data: a bar per day, every one a link with its counts on hover.
        bars = page.locator("svg.volume-chart a")
        assert bars.count() == 2
        assert "relevant article" in bars.first.locator("title").text_content()
        assert page.get_by_text("1 relevant article without a publication date").is_visible()
        page.screenshot(path=str(tmp_path / "story.png"), full_page=True)
        # A bar opens its articles; an event card opens the event page.
        bars.last.click()
        page.wait_for_url("**/article_stance?*")
        assert "2025-02-27" in page.url and page.locator("table.rows-and-columns tbody tr").count() >= 1
        page.go_back()
        page.locator(".card h4 a").first.click()
        page.wait_for_url(f"{served.url}/event/*")
        rows = page.locator("table.event-articles tbody tr")
        assert rows.count() == 5
        assert rows.last.locator("td.when").inner_text() == "no date"  # undated: last
        page.screenshot(path=str(tmp_path / "event.png"), full_page=True)
        errors, outside = browser.errors, browser.outside
    assert errors == [] and outside == [], (errors, outside)
    keep(tmp_path / "story.png")
    keep(tmp_path / "event.png")


def test_correction_round_trip(seeds_db, tmp_path):
    chromium_or_skip()
    article_id, tagged = open_db(seeds_db).execute(
        "select id, stance from articles where stance in ('favor', 'against', 'neutral') "
        "order by id").fetchone()
    corrected = "favor" if tagged == "neutral" else "neutral"
    with tracker_serve(seeds_db, root=True) as served, \
            chromium_page(tmp_path / "profile", served.url) as browser:
        page = browser.page
        article = f"{served.url}/article/{article_id}"
        page.goto(article)
        assert page.locator("mark").count() >= 1  # the evidence, marked in the headline or text
        assert page.locator("form.correction-form").count() == 0
        assert page.get_by_role("link", name="Sign in").is_visible()
        # An anonymous POST is refused (no form needed to try).
        refused = page.request.post(f"{served.url}/tracker/correct_stance",
                                    form={"article_id": article_id, "label": "favor"})
        assert refused.status == 403
        # Signed in as root: the form is there; a correction comes back shown.
        page.goto(served.root_login)
        page.goto(article)
        page.select_option("select#label", corrected)
        page.fill("textarea#note", "Balanced: NATO's concerns and the talks side by side.")
        page.click("form.correction-form button[type=submit]")
        page.wait_for_url(article)
        assert page.get_by_text("Correction saved.").is_visible()
        assert page.locator("span.chip-corrected").first.inner_text() == corrected
        assert page.locator(f"span.chip-{tagged}").first.is_visible()  # the tagger's label stays
        page.screenshot(path=str(tmp_path / "article.png"), full_page=True)
        errors, outside = browser.errors, browser.outside
    assert errors == [] and outside == [], (errors, outside)
    stored = open_db(seeds_db).execute("select article_id, label, actor from corrections").fetchall()
    assert stored == [(article_id, corrected, "root")]
    keep(tmp_path / "article.png")

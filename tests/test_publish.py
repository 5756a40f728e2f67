import os
import subprocess
import sys

from jobs.ingest import run_ingest
from tracker.publish import build_datasette

from tracker.testing import ROOT, datasette_json, free_port, wait_for_http


def test_datasette_shows_the_seed_articles(db, config, db_path):
    run_ingest(db, config)
    datasette = build_datasette(db_path)
    rows = datasette_json(datasette, "/tracker/articles.json?_shape=array")
    assert len(rows) == 5
    assert {"title", "outlet", "published", "published_date", "text"} <= set(rows[0])
    found = datasette_json(datasette, "/tracker/articles.json?_search=Dmitriev&_shape=array")
    assert len(found) == 4
    # Newest first by default, and the metadata reached the instance.
    table = datasette_json(datasette, "/tracker/articles.json")
    assert "sorted by published descending" in table["human_description_en"]
    published = [row[table["columns"].index("published")] for row in table["rows"]]
    assert published[0] == "2025-02-27T00:00:00Z" and published[-1] is None
    meta = datasette_json(datasette, "/-/metadata.json")
    assert meta["title"] == "Arctic stance tracker"


def test_metadata_follows_the_database_name(tmp_path, config):
    from tracker_db import open_db

    other = tmp_path / "elsewhere.db"
    run_ingest(open_db(other), config)
    datasette = build_datasette(other)
    table = datasette_json(datasette, "/elsewhere/articles.json")
    assert "sorted by published descending" in table["human_description_en"]
    assert {"stance", "outlet", "published_date"} <= set(table["facet_results"])


def test_tracker_serve_as_a_real_process(db, config, db_path):
    run_ingest(db, config)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", "--db", str(db_path), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        response = wait_for_http(f"http://127.0.0.1:{port}/tracker/articles", process=process)
        assert response.status_code == 200
        assert "US, Russia Mull Cooperation on Arctic Shipping" in response.text
        search = wait_for_http(f"http://127.0.0.1:{port}/tracker/articles.json?_search=Dmitriev&_shape=array")
        assert len(search.json()) == 4
    finally:
        process.terminate()
        process.wait(timeout=20)

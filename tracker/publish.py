"""Publishing: a Datasette instance over the tracker database, with ``metadata.yml``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette

from tracker.config import PROJECT_ROOT, resolve_project_path

DEFAULT_METADATA = PROJECT_ROOT / "metadata.yml"
SETTINGS = {
    # Article texts are long: show the start in tables, all of it on the row page.
    "truncate_cells_html": 300,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    # Suggested facets try every column of a table on each page view: 1.4 s
    # for articles at 100,000 rows (bench/timeline_queries.py); the useful
    # facets are configured in metadata.yml.
    "suggest_facets": False,
}


def load_metadata(db_path: str | Path, metadata_path: str | Path | None = None) -> dict[str, Any]:
    """Read ``metadata.yml``; its ``tracker`` database block is applied to whatever
    the database file is called (Datasette names databases after the file stem)."""
    path = resolve_project_path(str(metadata_path)) if metadata_path else DEFAULT_METADATA
    metadata = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    databases = metadata.get("databases") or {}
    name = Path(db_path).stem
    if "tracker" in databases and name != "tracker":
        databases[name] = databases.pop("tracker")
        _rename_dashboard_db(metadata, "tracker", name)
    return metadata


def _rename_dashboard_db(metadata: dict[str, Any], old: str, new: str) -> None:
    """Dashboard charts and filters name their database too (``db: tracker``)."""
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for dashboard in dashboards.values():
        for part in ("charts", "filters"):
            for item in (dashboard.get(part) or {}).values():
                if isinstance(item, dict) and item.get("db") == old:
                    item["db"] = new


def build_datasette(db_path: str | Path, metadata_path: str | Path | None = None) -> Datasette:
    """A Datasette over the live (mutable) database file; jobs may write while it serves."""
    return Datasette(
        files=[str(db_path)],
        metadata=load_metadata(db_path, metadata_path),
        settings=SETTINGS,
    )


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001,
          metadata_path: str | Path | None = None) -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    datasette = build_datasette(db_path, metadata_path)
    asyncio.run(datasette.invoke_startup())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")

"""Publishing: a Datasette instance over the tracker database, with ``metadata.yml``.

Two modes. The default serves on 127.0.0.1 with everything Datasette offers
(arbitrary read-only SQL with a 3 s limit, downloads, introspection pages).
The public mode (``tracker serve --public``, ``[server] public = true``) is for
a site anyone can reach: no arbitrary SQL for anonymous visitors (the canned
queries, tables, facets and search stay), Datasette's 1 s time limit, no
database download, and the pages that reveal paths, versions and settings
answer 404 (:mod:`tracker.publish.plugin`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette

from tracker.config import resolve_project_path
from tracker.errors import ConfigError, describe

# The project's metadata.yml; tracker/metadata.yml links to it, so that it is
# packaged and found from an installed package too.
DEFAULT_METADATA = Path(__file__).resolve().parent / "metadata.yml"
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
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
    if not path.exists() and str(metadata_path) == DEFAULT_METADATA.name:
        path = DEFAULT_METADATA  # the default name, outside a checkout: the packaged copy
    try:
        metadata = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else describe(exc)
        raise ConfigError(f"cannot load Datasette metadata {metadata_path or path}: {reason}") from None
    if not isinstance(metadata, dict):
        raise ConfigError(f"Datasette metadata {metadata_path or path} is not a YAML mapping")
    databases = metadata.get("databases") or {}
    name = Path(db_path).stem
    if "tracker" in databases and name != "tracker":
        databases[name] = databases.pop("tracker")
        _rename_dashboard_db(metadata, "tracker", name)
        # Its description links to its tables by path.
        block = databases[name]
        if isinstance(block.get("description_html"), str):
            block["description_html"] = block["description_html"].replace('"/tracker/', f'"/{name}/')
    return metadata


def _rename_dashboard_db(metadata: dict[str, Any], old: str, new: str) -> None:
    """Dashboard charts and filters name their database too (``db: tracker``)."""
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for dashboard in dashboards.values():
        for part in ("charts", "filters"):
            for item in (dashboard.get(part) or {}).values():
                if isinstance(item, dict) and item.get("db") == old:
                    item["db"] = new


PUBLIC_SETTINGS = {
    "default_allow_sql": False,  # canned queries only, for anonymous visitors
    "sql_time_limit_ms": 1000,
    "allow_download": False,
}


def _register_plugin() -> None:
    from datasette.plugins import pm

    from tracker.publish import plugin
    from tracker.publish.search import take_over_search

    if not pm.is_registered(plugin):
        pm.register(plugin, name="tracker")
    take_over_search(pm)


def build_datasette(db_path: str | Path, metadata_path: str | Path | None = None,
                    public: bool = False) -> Datasette:
    """A Datasette over the live (mutable) database file; jobs may write while it serves."""
    _register_plugin()
    metadata = load_metadata(db_path, metadata_path)
    metadata.setdefault("plugins", {}).setdefault("tracker", {})["public"] = public
    return Datasette(
        files=[str(db_path)],
        metadata=metadata,
        settings={**SETTINGS, **(PUBLIC_SETTINGS if public else {})},
        template_dir=str(TEMPLATES),  # the analyst's pages, and table pages made readable
        static_mounts=[("tracker-static", str(STATIC))],
    )


def root_login_url(datasette: Datasette, host: str, port: int) -> str:
    """Datasette's one-time link that signs the browser in as the root actor."""
    return f"http://{host}:{port}{datasette.urls.path('-/auth-token')}?token={datasette._root_token}"


def serve(datasette: Datasette, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    asyncio.run(datasette.invoke_startup())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")

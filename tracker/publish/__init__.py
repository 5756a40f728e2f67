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
import sqlite3
import time
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette
from datasette.database import Database, QueryInterrupted

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
    # Datasette 0.65 awaits every handle_exception hook and its own prints a rich
    # traceback with locals; ours (tracker.publish.plugin) answers in its place.
    if pm.get_plugin("datasette.handle_exception") is not None:
        pm.unregister(name="datasette.handle_exception")
    take_over_search(pm)


# Schema look-ups Datasette makes for every table on the home and database pages
# (three or four per table, each a round trip to a query thread): kept until the
# schema changes (PRAGMA schema_version, read at most once a second).
SCHEMA_METHODS = ("table_exists", "table_names", "table_columns", "table_column_details",
                  "primary_keys", "fts_table", "foreign_keys_for_table", "hidden_table_names",
                  "view_names", "get_all_foreign_keys", "get_table_definition",
                  "get_view_definition")


CANONICAL_NAME_SQL = ("select name from sqlite_master "
                      "where type in ('table', 'view') and name = ? collate nocase")


class TrackerDatabase(Database):
    """The tracker's database as Datasette sees it, with cheaper table counts and
    schema look-ups.

    While jobs write, every round trip to a query thread waits for the
    interpreter (the jobs' threads hold it in turns), so pages that make many
    small queries are slow: the home page made about 280. The results of
    schema look-ups (:data:`SCHEMA_METHODS`) are kept until the schema changes:
    one entry per method and table of the schema, so bounded by the schema.

    Datasette counts every table's rows for the home and database pages, on
    every view, each count cut off after 5-10 ms. While jobs write, the counts
    of the big tables were cut off often, and a cut-off inside a full-text
    table's constructor is logged as an ERROR ("vtable constructor failed:
    articles_fts") though Datasette handles it. Here the counts are kept for
    ``counts_seconds`` (one dict per database: bounded), a full-text table is
    counted from its ``_docsize`` shadow table (one row per indexed row,
    instead of reading every text), and a cut-off is not logged."""

    schema_check_seconds = 1.0  # how often PRAGMA schema_version is read at most

    def __init__(self, ds: Datasette, path: str, counts_seconds: float):
        super().__init__(ds, path=path, is_mutable=True)
        self.counts_seconds = counts_seconds
        self._counts: dict[str, int | None] | None = None
        self._counted_at = 0.0
        self._counted_version: int | None = None
        self._schema: dict[tuple, Any] = {}
        self._schema_version: int | None = None
        self._schema_checked = 0.0

    async def execute(self, sql: str, params: Any = None, *args: Any, **kwargs: Any):
        # Datasette checks each table's permission with this query (its name as SQLite
        # spells it): once per table and page view, 67 times for the home page.
        if sql == CANONICAL_NAME_SQL and not args and not kwargs:
            return await self._schema_lookup("execute", sql, tuple(params or ()))
        return await Database.execute(self, sql, params, *args, **kwargs)

    async def _schema_lookup(self, method: str, *args: Any) -> Any:
        if time.monotonic() - self._schema_checked > self.schema_check_seconds:
            version = (await Database.execute(self, "PRAGMA schema_version")).rows[0][0]
            if version != self._schema_version:
                self._schema.clear()
                self._schema_version = version
            self._schema_checked = time.monotonic()
        key = (method, *args)
        if key in self._schema:
            return self._schema[key]
        if method == "execute":
            value = await Database.execute(self, args[0], args[1])
        else:
            value = await getattr(Database, method)(self, *args)
        # Table names come from URLs: only those of the schema are kept, so that
        # requests for made-up tables cannot grow the cache.
        name = args[-1][0] if method == "execute" and args[-1] else (args[0] if args else None)
        if name is None or name in await self._names():
            self._schema[key] = value
        return value

    async def _names(self) -> set[str]:
        if ("names",) not in self._schema:
            rows = (await Database.execute(
                self, "select name from sqlite_master where type in ('table', 'view')")).rows
            self._schema[("names",)] = {row[0] for row in rows}
        return self._schema[("names",)]

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        await self.table_names()  # reads the schema version when it is time to
        fresh = (self._counts is not None and self._counted_version == self._schema_version
                 and time.monotonic() - self._counted_at < self.counts_seconds)
        if fresh and all(v is not None for v in self._counts.values()):
            return self._counts
        # Counts still fresh are kept; a count cut off by the time limit (None) is
        # tried again on the next view, alone.
        kept = self._counts if fresh else {}
        counts: dict[str, int | None] = {}
        for table, source in (await self.execute_fn(_count_sources)).items():
            if kept.get(table) is not None:
                counts[table] = kept[table]
                continue
            try:
                result = await self.execute(f"select count(*) from [{source}]",
                                            custom_time_limit=limit, log_sql_errors=False)
                counts[table] = result.rows[0][0]
            except (QueryInterrupted, sqlite3.OperationalError, sqlite3.DatabaseError):
                counts[table] = None  # as Datasette does: shown without a count
        if not fresh:
            self._counted_at, self._counted_version = time.monotonic(), self._schema_version
        self._counts = counts
        return counts


def _cached(method: str):
    async def lookup(self: TrackerDatabase, *args: Any) -> Any:
        return await self._schema_lookup(method, *args)

    lookup.__name__ = method
    return lookup


for _method in SCHEMA_METHODS:
    setattr(TrackerDatabase, _method, _cached(_method))


def _count_sources(conn: sqlite3.Connection) -> dict[str, str]:
    """Each table, and the table to count its rows in: itself, or for an FTS4/FTS5
    table its ``_docsize`` shadow table."""
    tables = dict(conn.execute("select name, sql from sqlite_master where type = 'table'"))
    sources = {}
    for name, sql in tables.items():
        sql = (sql or "").lower()
        fts = "virtual table" in sql and "using fts" in sql and f"{name}_docsize" in tables
        sources[name] = f"{name}_docsize" if fts else name
    return sources


def build_datasette(db_path: str | Path, metadata_path: str | Path | None = None,
                    public: bool = False, counts_seconds: float = 60.0) -> Datasette:
    """A Datasette over the live (mutable) database file; jobs may write while it serves.

    ``counts_seconds``: how long table row counts are reused (``[memory]
    table_counts_seconds``; :class:`TrackerDatabase`)."""
    _register_plugin()
    metadata = load_metadata(db_path, metadata_path)
    metadata.setdefault("plugins", {}).setdefault("tracker", {})["public"] = public
    datasette = Datasette(
        files=[str(db_path)],
        metadata=metadata,
        settings={**SETTINGS, **(PUBLIC_SETTINGS if public else {})},
        template_dir=str(TEMPLATES),  # the analyst's pages, and table pages made readable
        static_mounts=[("tracker-static", str(STATIC))],
    )
    name = next(n for n, d in datasette.databases.items()
                if d.path and Path(d.path) == Path(db_path))
    datasette.remove_database(name)
    datasette.add_database(TrackerDatabase(datasette, str(db_path), counts_seconds), name=name)
    return datasette


def root_login_url(datasette: Datasette, host: str, port: int) -> str:
    """Datasette's one-time link that signs the browser in as the root actor."""
    return f"http://{host}:{port}{datasette.urls.path('-/auth-token')}?token={datasette._root_token}"


def serve(datasette: Datasette, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve until interrupted (blocking)."""
    import uvicorn

    asyncio.run(datasette.invoke_startup())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")

"""The database: where it lives, its schema (as migrations) and how to open it.

The default database is ``db/tracker.db`` relative to the working directory;
``--db PATH`` or ``$TRACKER_DB`` override it. The schema lives in one place,
``db/migrations.py``, and is applied by :func:`open_db` every time.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import sqlite_utils

from .migrations import migrations

__all__ = ["open_db", "migrations", "ensure_schema", "refuse_newer_schema", "NewerSchemaError"]


class NewerSchemaError(sqlite3.DatabaseError):
    """The database has migrations this version does not know: a newer tracker
    wrote it, and this one could misread or damage what that one keeps."""


@functools.cache
def _known_migrations() -> frozenset[str]:
    """This version's migration names (all of them are pending on an empty database)."""
    return frozenset(m.name for m in migrations.pending(sqlite_utils.Database(memory=True)))


def refuse_newer_schema(database: sqlite_utils.Database) -> None:
    """Raise :class:`NewerSchemaError` if the database has migrations this version
    does not know (a read of one small table)."""
    known = _known_migrations()
    unknown = [m.name for m in migrations.applied(database) if m.name not in known]
    if unknown:
        raise NewerSchemaError(
            f"written by a newer version of the tracker (schema {', '.join(unknown)}); "
            "install that version or newer to use it")


def ensure_schema(database: sqlite_utils.Database) -> None:
    """Apply pending migrations, re-create the views, and bring the summary tables'
    triggers up to date (all cheap and idempotent when nothing changed).

    Raises :class:`NewerSchemaError`, before writing anything, for a database
    with migrations this version does not have."""
    refuse_newer_schema(database)
    migrations.apply(database)
    from .summaries import ensure_summaries
    from .views import create_views

    create_views(database)
    ensure_summaries(database)


class _Connection(sqlite3.Connection):
    """sqlite-utils' ``db.atomic()`` opens a plain (deferred) ``BEGIN``. A deferred
    transaction that reads first and writes later fails at once with "database
    is locked" (SQLITE_BUSY_SNAPSHOT: busy_timeout does not apply) if another
    connection committed in between — which happens as soon as two jobs of the
    service, or a job and the CLI, write at the same time. ``BEGIN IMMEDIATE``
    takes the write lock up front, so the second writer waits its turn instead."""

    def execute(self, sql: str, *args):
        if sql == "BEGIN":
            sql = "BEGIN IMMEDIATE"
        return super().execute(sql, *args)


def open_db(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the tracker database in WAL mode with the schema applied."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite_utils.Database(sqlite3.connect(str(path), factory=_Connection))
    # Jobs and Datasette use the file at the same time: WAL lets readers read
    # while a writer writes, and busy_timeout makes writers wait instead of failing.
    database.execute("PRAGMA busy_timeout = 30000")
    database.enable_wal()
    database.execute("PRAGMA foreign_keys = ON")
    database.execute("PRAGMA synchronous = NORMAL")
    # An INSERT OR REPLACE that replaces an article must fire its delete triggers,
    # or the summary tables (db/summaries.py) would count it twice.
    database.execute("PRAGMA recursive_triggers = ON")
    if migrate:
        ensure_schema(database)
    else:  # the schema is applied elsewhere (e.g. the service's start); still never older code
        refuse_newer_schema(database)
    return database

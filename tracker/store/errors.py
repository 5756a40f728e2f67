"""``errors``: inputs that failed (a file, a feed, a page, an article to tag), with the reason.

One row per (input, stage): a failure seen again bumps ``occurrences`` and
``last_seen``; a later success sets ``resolved_at`` so the ``open_errors``
view shows only what is failing now.
"""

from __future__ import annotations

from sqlite_utils import Database

from tracker.errors import Stage
from tracker.timeutil import utc_now_iso


def record_error(db: Database, input: str, stage: Stage, reason: str) -> None:
    now = utc_now_iso()
    reason = reason.strip() or "unknown error"
    with db.atomic():
        db.execute(
            """
            insert into errors (input, stage, reason, first_seen, last_seen, occurrences)
            values (?, ?, ?, ?, ?, 1)
            on conflict (input, stage) do update set
                reason = excluded.reason,
                last_seen = excluded.last_seen,
                occurrences = case when errors.resolved_at is null
                                   then errors.occurrences + 1 else 1 end,
                first_seen = case when errors.resolved_at is null
                                  then errors.first_seen else excluded.first_seen end,
                resolved_at = null
            """,
            [input, str(Stage(stage)), reason, now, now],
        )


def resolve_error(db: Database, input: str, stage: Stage) -> None:
    """Mark an earlier failure of ``input`` at ``stage`` as resolved (no-op if none)."""
    db.execute(
        "update errors set resolved_at = ? "
        "where input = ? and stage = ? and resolved_at is null",
        [utc_now_iso(), input, str(Stage(stage))],
    )


def open_error_count(db: Database) -> int:
    return db.execute("select count(*) from errors where resolved_at is null").fetchone()[0]

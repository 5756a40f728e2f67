"""UTC timestamps in the one format the database uses: ``2025-02-27T09:30:00Z``."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def to_iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a Z suffix; naive datetimes are taken to be UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now_iso() -> str:
    return to_iso(utc_now())


def date_to_iso(day: dt.date) -> str:
    """A date with no time of day, as midnight UTC."""
    return f"{day.isoformat()}T00:00:00Z"

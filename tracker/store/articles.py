"""``articles``: saving, finding and reading articles (and text-folder sources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from sqlite_utils import Database

from tracker.domain import CONTENT_FIELDS, Article
from tracker.timeutil import utc_now_iso

CHUNK = 500  # ids per "in (...)" query, well under SQLite's variable limit


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(items: list) -> str:
    return ", ".join("?" for _ in items)


@dataclass
class SaveResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def save_articles(db: Database, articles: Iterable[Article]) -> SaveResult:
    """Insert new articles, update changed ones, leave identical ones untouched.

    Idempotent: the same article again changes nothing. Runs in one
    transaction, so a crash leaves either all or none of the batch.
    """
    result = SaveResult()
    now = utc_now_iso()
    table = db["articles"]
    with db.atomic():
        for article in articles:
            row = article.row()
            existing = get_article(db, article.id)
            if existing is None:
                row.update(ingested_at=now, updated_at=now)
                table.insert(row)
                result.new += 1
            elif any(existing.get(k) != row.get(k) for k in CONTENT_FIELDS):
                row["updated_at"] = now
                table.update(article.id, row)
                result.updated += 1
            else:
                result.unchanged += 1
    return result


def get_article(db: Database, article_id: str) -> dict | None:
    return next(db["articles"].rows_where("id = ?", [article_id], limit=1), None)


def first_article_with_url(db: Database, url: str) -> dict | None:
    """The earliest stored article with this canonical link, if any."""
    return next(db["articles"].rows_where("url = ?", [url], order_by="ingested_at", limit=1), None)


def texts(db: Database, ids: list[str]) -> dict[str, dict]:
    """``id -> {id, title, text, content_hash, published}`` for the ids that still exist."""
    found: dict[str, dict] = {}
    for chunk in chunks(ids):
        for row in db.query(
            f"select id, title, text, content_hash, published from articles "
            f"where id in ({placeholders(chunk)})", chunk):
            found[row["id"]] = row
    return found


def titles(db: Database, ids: list[str]) -> dict[str, str]:
    found = {}
    for chunk in chunks(ids):
        for row in db.query(f"select id, title from articles where id in ({placeholders(chunk)})",
                            chunk):
            found[row["id"]] = row["title"]
    return found


def files_source(db: Database, location: str, name: str) -> int:
    """The id of the ``sources`` row (kind ``files``) of a text folder, created if needed."""
    existing = next(db["sources"].rows_where("location = ?", [location], limit=1), None)
    if existing:
        return existing["id"]
    with db.atomic():
        return db["sources"].insert(
            {"kind": "files", "location": location, "name": name, "enabled": 1,
             "created_at": utc_now_iso()}
        ).last_pk

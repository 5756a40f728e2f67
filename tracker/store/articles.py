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
            if article.author_email:
                db["author_emails"].upsert({"article_id": article.id,
                                            "email": article.author_email}, pk="article_id")
    return result


def delete_articles(db: Database, ids: list[str]) -> None:
    """Delete articles and everything hanging off them -- stance tags, cached vectors,
    e-mail addresses, event memberships, stance corrections -- in one transaction (the summary tables
    follow by their triggers, db/summaries.py). Events that lose
    members get their statistics again (and a new representative if theirs went);
    events left empty are deleted."""
    from tracker.store.events import events_of_articles, update_event_stats

    with db.atomic():
        events = events_of_articles(db, ids)
        for chunk in chunks(ids):
            marks = placeholders(chunk)
            for table in ("event_articles", "stance_tags", "article_embeddings",
                          "author_emails", "corrections"):
                db.execute(f"delete from [{table}] where article_id in ({marks})", chunk)
            db.execute(f"update events set representative_article_id = null "
                       f"where representative_article_id in ({marks})", chunk)
            db.execute(f"delete from articles where id in ({marks})", chunk)
        for event_id in sorted(events):
            left = db.execute(
                """select ea.article_id, a.title from event_articles ea
                   join articles a on a.id = ea.article_id where ea.event_id = ?
                   order by ea.similarity desc, a.published, a.id limit 1""",
                [event_id]).fetchone()
            if left is None:
                db.execute("delete from events where id = ?", [event_id])
            else:
                db.execute("""update events set representative_article_id = ?, title = ?
                              where id = ? and representative_article_id is null""",
                           [left[0], left[1], event_id])
        update_event_stats(db, sorted(events))


def get_article(db: Database, article_id: str) -> dict | None:
    return next(db["articles"].rows_where("id = ?", [article_id], limit=1), None)


def first_article_with_url(db: Database, url: str) -> dict | None:
    """The earliest stored article with this canonical link, if any."""
    return next(db["articles"].rows_where("url = ?", [url], order_by="ingested_at", limit=1), None)


def texts(db: Database, ids: list[str]) -> dict[str, dict]:
    """``id -> {id, title, text, content_hash, published, language, language_confidence}``
    for the ids that still exist."""
    found: dict[str, dict] = {}
    for chunk in chunks(ids):
        for row in db.query(
            f"select id, title, text, content_hash, published, language, language_confidence "
            f"from articles where id in ({placeholders(chunk)})", chunk):
            found[row["id"]] = row
    return found


def titles(db: Database, ids: list[str]) -> dict[str, str]:
    found = {}
    for chunk in chunks(ids):
        for row in db.query(f"select id, title from articles where id in ({placeholders(chunk)})",
                            chunk):
            found[row["id"]] = row["title"]
    return found


def stored_file_article(db: Database, path: str, content_hash: str) -> dict | None:
    """The stored article a text file is: the one found at the same ``path`` (the file
    was edited), else one with the same text (the file was copied or moved, or stored
    under its absolute path by an earlier version)."""
    same_path = next(db["articles"].rows_where("kind = 'file' and path = ?", [path], limit=1),
                     None)
    if same_path is not None:
        return same_path
    return next(db["articles"].rows_where("kind = 'file' and content_hash = ?", [content_hash],
                                          order_by="ingested_at", limit=1), None)


def files_source(db: Database, location: str, name: str, legacy: str | None = None) -> int:
    """The id of the ``sources`` row (kind ``files``) of a text folder, created if needed.

    ``legacy`` is the location an earlier version stored (the absolute path): such a
    row is renamed, so that its articles keep their source."""
    existing = next(db["sources"].rows_where("location = ?", [location], limit=1), None)
    if existing:
        return existing["id"]
    if legacy:
        old = next(db["sources"].rows_where("location = ? and kind = 'files'", [legacy],
                                            limit=1), None)
        if old:
            with db.atomic():
                db["sources"].update(old["id"], {"location": location, "name": name})
            return old["id"]
    with db.atomic():
        return db["sources"].insert(
            {"kind": "files", "location": location, "name": name, "enabled": 1,
             "created_at": utc_now_iso()}
        ).last_pk

"""Articles: the unit everything else works on, and how they are stored.

Both ingest paths (text files and feeds) build :class:`Article` objects and
hand them to :func:`save_articles`, which is idempotent: the same article
again changes nothing, a changed article is updated in place.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Iterable

from sqlite_utils import Database

from tracker.timeutil import utc_now_iso

# Fields whose change means the article itself changed (and must be re-tagged
# if its text changed); bookkeeping columns are left out on purpose.
CONTENT_FIELDS = (
    "source_id", "kind", "url", "path", "guid", "title", "outlet", "author",
    "published", "published_date", "date_source", "text", "content_hash", "word_count", "bozo",
)


@dataclass
class Article:
    id: str
    title: str
    text: str
    kind: str  # "file" or "feed"
    source_id: int | None = None
    url: str | None = None
    path: str | None = None
    guid: str | None = None
    outlet: str | None = None
    author: str | None = None
    published: str | None = None  # UTC ISO 8601
    published_date: str | None = None  # YYYY-MM-DD
    date_source: str = "unknown"
    bozo: int = 0

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text)

    def row(self) -> dict:
        row = asdict(self)
        row["content_hash"] = self.content_hash
        row["word_count"] = len(self.text.split())
        return row


def normalise_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def content_hash(title: str, text: str) -> str:
    """Hash of what a reader sees; whitespace differences do not count."""
    payload = normalise_whitespace(title) + "\n" + normalise_whitespace(text)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


@dataclass
class SaveResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def save_articles(db: Database, articles: Iterable[Article]) -> SaveResult:
    """Insert new articles, update changed ones, leave identical ones untouched.

    Runs in one transaction, so a crash leaves either all or none of the batch.
    """
    result = SaveResult()
    now = utc_now_iso()
    table = db["articles"]
    with db.atomic():
        for article in articles:
            row = article.row()
            existing = next(table.rows_where("id = ?", [article.id], limit=1), None)
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

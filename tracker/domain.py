"""The things the tracker works on: :class:`Article`, :class:`Feed`, :class:`StanceTag`.

Both ingest paths (text files and feeds) build :class:`Article` objects and
hand them to :func:`tracker.store.articles.save_articles`; feeds are rows of
``sources`` seen as :class:`Feed`; :mod:`tracker.analysis.stance` makes a
:class:`StanceTag` per article. Events are made (and typed) in
:mod:`tracker.analysis.events`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

# Fields whose change means the article itself changed (and must be re-tagged
# if its text changed); bookkeeping columns are left out on purpose.
CONTENT_FIELDS = (
    "source_id", "kind", "url", "path", "guid", "title", "outlet", "author",
    "published", "published_date", "date_source", "text", "content_hash", "word_count", "bozo",
    "language",
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
    language: str | None = None  # ISO 639-1, detected (tracker.sources.language)
    language_confidence: float | None = None
    # Kept apart from ``author`` (a name) and never published: table author_emails.
    author_email: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text)

    def detect_language(self) -> "Article":
        from tracker.sources.language import detect_language

        self.language, self.language_confidence = detect_language(self.title, self.text)
        return self

    def row(self) -> dict:
        row = asdict(self)
        row.pop("author_email")
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
class Feed:
    """An RSS/Atom feed the tracker follows (a ``sources`` row of kind ``feed``)."""

    id: int
    url: str
    name: str | None = None
    enabled: bool = True
    full_text: bool = False
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_fetch_at: str | None = None
    disabled_reason: str | None = None
    feed_title: str | None = None
    body_hash: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> "Feed":
        return cls(
            id=row["id"], url=row["location"], name=row.get("name"),
            enabled=bool(row.get("enabled")), full_text=bool(row.get("full_text")),
            etag=row.get("etag"), last_modified=row.get("last_modified"),
            last_fetched_at=row.get("last_fetched_at"), last_status=row.get("last_status"),
            last_error=row.get("last_error"),
            consecutive_failures=row.get("consecutive_failures") or 0,
            next_fetch_at=row.get("next_fetch_at"), disabled_reason=row.get("disabled_reason"),
            feed_title=row.get("feed_title"), body_hash=row.get("body_hash"),
        )

    @property
    def label(self) -> str:
        return self.name or self.feed_title or self.url


@dataclass
class StanceTag:
    """One article's stance toward the topic, with what decided it."""

    label: str | None  # a stance label, "unrelated", or None when tagging failed
    scores: dict[str, float] = field(default_factory=dict)  # per label incl. unrelated, sum 1
    # Relevance score of the most relevant passage; None when the prefilter
    # found no topic term, so no model was asked.
    relevance: float | None = 0.0
    confidence: float = 0.0  # scores[label]
    evidence: str | None = None  # the passage that decided the label
    evidence_passages: list[dict] = field(default_factory=list)
    passages: int = 0
    status: str = "ok"  # ok / error
    error: str | None = None

    @classmethod
    def failed(cls, reason: str) -> "StanceTag":
        return cls(label=None, status="error", error=reason)

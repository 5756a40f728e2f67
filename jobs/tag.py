"""Job: tag every article's stance toward the topic (``stance_tags``, ``articles.stance``).

Incremental: an article is tagged when it has no tag yet, or its text, the
model's weights or the tagger configuration changed since its tag (the three
hashes on its ``stance_tags`` row). Identical texts are scored once, and a tag
made for the same text with the same model and configuration is reused. An
article that fails is stored with ``status = 'error'`` and the reason, and
recorded in ``errors``; the others go on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlite_utils import Database

from tracker.config import Config
from tracker.domain import StanceTag
from tracker.shutdown import should_stop
from tracker.store import stance_tags as store
from tracker.store.articles import texts
from tracker.timeutil import utc_now_iso

# Articles per transaction: a crash loses at most one batch of work, and
# Datasette sees progress during a long first run. ([scale] batch_size with Ray.)
ARTICLES_PER_BATCH = 64


@dataclass
class Prepared:
    """A batch of candidates as read: what to write for each once its texts are scored."""

    batch: list[dict]  # the candidates still in the database, with their texts
    unread: dict[str, StanceTag]  # article id -> its unsupported-language tag
    reuse: dict[str, dict]  # content hash -> a tag row to copy
    to_score: dict[str, dict]  # content hash -> the article that stands for the text


@dataclass
class TagSummary:
    candidates: int = 0  # articles that needed a (new) tag
    tagged: int = 0  # scored by the model
    reused: int = 0  # copied from an identical text already tagged the same way
    failed: int = 0
    unsupported: int = 0  # in a language the models do not read (label unsupported_language)
    stopped: bool = False  # a shutdown or time limit stopped the run early
    labels: dict[str, int] = field(default_factory=dict)
    model_id: str = ""
    model_hash: str = ""
    config_hash: str = ""


def run_tag(
    db: Database,
    config: Config,
    retag_all: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TagSummary:
    """Tag the articles that need it (all of them with ``retag_all``).

    ``progress(n, total)`` is called after each batch with the number of
    articles it did and the number to do. A model that cannot be loaded raises
    :class:`tracker.errors.ModelError` (one line), and the run is recorded as an error.
    """
    from tracker.analysis.stance import (
        language_supported, model_identity, unsupported_language_tag,
    )
    from tracker.analysis.workers import workers_for

    model_id, model_hash = model_identity(config.tagger)
    config_hash = config.tagger_hash()
    summary = TagSummary(model_id=model_id, model_hash=model_hash, config_hash=config_hash)
    candidates = store.articles_to_tag(db, model_hash, config_hash, retag_all)
    summary.candidates = len(candidates)
    labels: Counter[str] = Counter()
    workers = workers_for(config.scale, config.tagger)
    size = workers.batch_size or ARTICLES_PER_BATCH

    def prepared() -> Iterator[tuple[Prepared, list[tuple[str | None, str]]]]:
        """Each batch of candidates, read from the database just before it is sent,
        with the texts still to score (not reused, not in an unread language)."""
        for start in range(0, len(candidates), size):
            if should_stop():
                summary.stopped = True
                return
            listed = candidates[start : start + size]
            found = texts(db, [a["id"] for a in listed])
            # An article deleted since the candidates were listed is simply skipped.
            batch = [dict(a, **{k: found[a["id"]][k] for k in ("title", "text", "language",
                                                               "language_confidence")})
                     for a in listed if a["id"] in found]
            # Articles in a language the models do not read are marked, not guessed at.
            unread = {a["id"]: unsupported_language_tag(a["language"], config.tagger)
                      for a in batch if not language_supported(
                          a["language"], a["language_confidence"], config.tagger)}
            batch_read = [a for a in batch if a["id"] not in unread]
            reuse = {} if retag_all else store.reusable_tags(
                db, sorted({a["content_hash"] for a in batch_read}), model_hash, config_hash)
            # Identical texts in the batch are scored once: the first stands for the rest.
            to_score: dict[str, dict] = {}
            for article in batch_read:
                if article["content_hash"] not in reuse:
                    to_score.setdefault(article["content_hash"], article)
            yield (Prepared(batch, unread, reuse, to_score),
                   [(a["title"], a["text"]) for a in to_score.values()])

    for done, tags in workers.tag(prepared()):
        scored = dict(zip(done.to_score, tags))
        now = utc_now_iso()
        rows = []
        for article in done.batch:
            content = article["content_hash"]
            if article["id"] in done.unread:
                row = store.tag_row(article, done.unread[article["id"]], model_id, model_hash,
                                    config_hash, config.tagger.engine, now)
                summary.unsupported += 1
            elif content in scored:
                row = store.tag_row(article, scored[content], model_id, model_hash,
                                    config_hash, config.tagger.engine, now)
                if row["status"] != "ok":
                    pass  # counted as failed below
                elif done.to_score[content]["id"] == article["id"]:
                    summary.tagged += 1
                else:
                    summary.reused += 1
            else:
                row = dict(done.reuse[content], article_id=article["id"], tagged_at=now)
                summary.reused += 1
            rows.append(row)
        store.save_tags(db, rows)
        for row in rows:
            if row["status"] == "ok":
                labels[row["label"]] += 1
            else:
                summary.failed += 1
        if progress:
            progress(len(done.batch), len(candidates))
    summary.labels = dict(labels)
    return summary

"""Job: tag every article's stance toward the topic (``stance_tags``, ``articles.stance``).

Incremental: an article is tagged when it has no tag yet, or its text, the
model's weights or the tagger configuration changed since its tag (the three
hashes on its ``stance_tags`` row). Identical texts are scored once, and a tag
made for the same text with the same model and configuration is reused. An
article that fails is stored with ``status = 'error'`` and the reason, and
recorded in ``ingest_errors``; the others go on.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sqlite_utils import Database

from tracker.config import Config
from tracker.errors import record_error, resolve_error
from tracker.stance import StanceTag, get_tagger, model_identity
from tracker.timeutil import utc_now_iso

try:  # the service's cooperative stop flag (issue 6)
    from tracker.shutdown import should_stop
except ImportError:  # pragma: no cover - before the service landed

    def should_stop() -> bool:
        return False


# Articles per transaction: a crash loses at most one batch of work, and
# Datasette sees progress during a long first run.
ARTICLES_PER_BATCH = 64


@dataclass
class TagSummary:
    candidates: int = 0  # articles that needed a (new) tag
    tagged: int = 0  # scored by the model
    reused: int = 0  # copied from an identical text already tagged the same way
    failed: int = 0
    stopped: bool = False  # a shutdown or time limit stopped the run early
    labels: dict[str, int] = field(default_factory=dict)
    model_id: str = ""
    model_hash: str = ""
    config_hash: str = ""


def articles_to_tag(db: Database, model_hash: str, config_hash: str,
                    retag_all: bool = False) -> list[dict]:
    """Ids (and content hashes) of articles whose tag is missing or was made from another
    text, model or configuration; texts are read batch by batch, not all at once."""
    return list(db.query(
        """
        select a.id, a.content_hash
        from articles a left join stance_tags t on t.article_id = a.id
        where :all or t.article_id is null
           or t.content_hash is not a.content_hash
           or t.model_hash is not :model_hash
           or t.config_hash is not :config_hash
        order by a.published desc, a.id
        """,
        {"all": int(retag_all), "model_hash": model_hash, "config_hash": config_hash},
    ))


def tag_row(article: dict, tag: StanceTag, model_id: str, model_hash: str, config_hash: str,
            engine: str, now: str) -> dict:
    return {
        "article_id": article["id"],
        "label": tag.label,
        "relevance": tag.relevance,
        "score_favor": tag.scores.get("favor"),
        "score_against": tag.scores.get("against"),
        "score_neutral": tag.scores.get("neutral"),
        "score_unrelated": tag.scores.get("unrelated"),
        "scores": json.dumps(tag.scores) if tag.scores else None,
        "confidence": tag.confidence if tag.status == "ok" else None,
        "evidence": tag.evidence,
        "evidence_passages": json.dumps(tag.evidence_passages, ensure_ascii=False),
        "passages": tag.passages,
        "engine": engine,
        "model_id": model_id,
        "model_hash": model_hash,
        "config_hash": config_hash,
        "content_hash": article["content_hash"],
        "status": tag.status,
        "error": tag.error,
        "tagged_at": now,
    }


def _reusable(db: Database, content_hashes: list[str], model_hash: str,
              config_hash: str) -> dict[str, dict]:
    """Existing good tags of these texts made with this model and configuration."""
    found: dict[str, dict] = {}
    for start in range(0, len(content_hashes), 500):
        chunk = content_hashes[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in db.query(
            f"select * from stance_tags where status = 'ok' and model_hash = ? "
            f"and config_hash = ? and content_hash in ({marks})",
            [model_hash, config_hash, *chunk],
        ):
            found.setdefault(row["content_hash"], row)
    return found


def _with_texts(db: Database, batch: list[dict]) -> list[dict]:
    marks = ", ".join("?" for _ in batch)
    texts = {row["id"]: row for row in db.query(
        f"select id, title, text from articles where id in ({marks})", [a["id"] for a in batch])}
    # An article deleted since the candidates were listed is simply skipped.
    return [dict(a, title=texts[a["id"]]["title"], text=texts[a["id"]]["text"])
            for a in batch if a["id"] in texts]


def _tag_batch(tagger, batch: list[dict]) -> list[StanceTag]:
    """Tag a batch together; if that fails, one by one so only the culprit fails."""
    try:
        return tagger.tag_texts([(a["title"], a["text"]) for a in batch])
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        if len(batch) == 1:
            return [StanceTag.failed(f"{type(exc).__name__}: {exc}")]
        return [tag for article in batch for tag in _tag_batch(tagger, [article])]


def run_tag(
    db: Database,
    config: Config,
    retag_all: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TagSummary:
    """Tag the articles that need it (all of them with ``retag_all``).

    ``progress(n, total)`` is called after each batch with the number of
    articles it did and the number to do. A model that cannot be loaded raises :class:`tracker.embeddings.ModelError`
    (one line), and the run is recorded as an error.
    """
    model_id, model_hash = model_identity(config.tagger)
    config_hash = config.tagger_hash()
    summary = TagSummary(model_id=model_id, model_hash=model_hash, config_hash=config_hash)
    candidates = articles_to_tag(db, model_hash, config_hash, retag_all)
    summary.candidates = len(candidates)
    labels: Counter[str] = Counter()
    tagger = None
    for start in range(0, len(candidates), ARTICLES_PER_BATCH):
        if should_stop():
            summary.stopped = True
            break
        batch = _with_texts(db, candidates[start : start + ARTICLES_PER_BATCH])
        reuse = {} if retag_all else _reusable(
            db, sorted({a["content_hash"] for a in batch}), model_hash, config_hash)
        # Identical texts in the batch are scored once: the first stands for the rest.
        to_score: dict[str, dict] = {}
        for article in batch:
            if article["content_hash"] not in reuse:
                to_score.setdefault(article["content_hash"], article)
        scored: dict[str, StanceTag] = {}
        if to_score:
            if tagger is None:
                tagger = get_tagger(config.tagger)  # loads only when there is work
            for content, tag in zip(to_score, _tag_batch(tagger, list(to_score.values()))):
                scored[content] = tag
        now = utc_now_iso()
        rows = []
        for article in batch:
            content = article["content_hash"]
            if content in scored:
                row = tag_row(article, scored[content], model_id, model_hash, config_hash,
                              config.tagger.engine, now)
                if row["status"] != "ok":
                    pass  # counted as failed below
                elif to_score[content]["id"] == article["id"]:
                    summary.tagged += 1
                else:
                    summary.reused += 1
            else:
                row = dict(reuse[content], article_id=article["id"], tagged_at=now)
                summary.reused += 1
            rows.append(row)
        with db.atomic():
            db["stance_tags"].upsert_all(rows, pk="article_id")
            for row in rows:
                db["articles"].update(
                    row["article_id"],
                    {"stance": row["label"], "stance_confidence": row["confidence"]},
                )
                if row["status"] == "ok":
                    labels[row["label"]] += 1
                    resolve_error(db, row["article_id"], "tag")
                else:
                    summary.failed += 1
                    record_error(db, row["article_id"], "tag", row["error"] or "tagging failed")
        if progress:
            progress(len(batch), len(candidates))
    summary.labels = dict(labels)
    return summary

"""``stance_tags``: one row per article -- its latest tag and what produced it.

The label and confidence are copied onto ``articles`` (``stance``,
``stance_confidence``) in the same transaction, for facets and the timeline;
that write updates the summary tables (their triggers, db/summaries.py), and
the statistics of the events the articles belong to are recomputed with it.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from tracker.domain import StanceTag
from tracker.errors import Stage
from tracker.store.articles import chunks, placeholders
from tracker.store.errors import record_error, resolve_error
from tracker.store.events import events_of_articles, update_event_stats


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
    """The ``stance_tags`` row of ``tag`` for ``article`` (``id``, ``content_hash``)."""
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


def reusable_tags(db: Database, content_hashes: list[str], model_hash: str,
                  config_hash: str) -> dict[str, dict]:
    """Existing good tags of these texts made with this model and configuration."""
    found: dict[str, dict] = {}
    for chunk in chunks(content_hashes):
        for row in db.query(
            f"select * from stance_tags where status = 'ok' and model_hash = ? "
            f"and config_hash = ? and content_hash in ({placeholders(chunk)})",
            [model_hash, config_hash, *chunk],
        ):
            found.setdefault(row["content_hash"], row)
    return found


def save_tags(db: Database, rows: list[dict]) -> None:
    """Store tag rows (from :func:`tag_row`), copy label and confidence onto the articles,
    record or resolve each article's tagging error and refresh the statistics of
    their events -- in one transaction, so that no page shows an event whose
    counts disagree with its articles' stance."""
    with db.atomic():
        db["stance_tags"].upsert_all(rows, pk="article_id")
        for row in rows:
            db["articles"].update(
                row["article_id"],
                {"stance": row["label"], "stance_confidence": row["confidence"]},
            )
            if row["status"] == "ok":
                resolve_error(db, row["article_id"], Stage.TAG)
            else:
                record_error(db, row["article_id"], Stage.TAG, row["error"] or "tagging failed")
        update_event_stats(db, sorted(events_of_articles(db, [row["article_id"] for row in rows])))


def label_counts(db: Database) -> dict[str, int]:
    """Tags per label (``error`` for failed ones)."""
    return {row["label"] or "error": row["n"]
            for row in db.query("select label, count(*) as n from stance_tags group by label")}

"""feedparser's own test corpus (~2,100 real and broken feeds) through the
parse-and-store path: every file is either stored or recorded with a reason."""

import collections
import datetime as dt
import io
import re

import feedparser
import pytest

from tracker.feeds import add_feed
from tracker.store.feeds import ingest_document

from tracker.testing import SHARED
from tracker.testing.feedserver import fast_fetch_config

CORPUS = SHARED / "corpora" / "feedparser"
# "Header: Content-type: ..." lines in a file's leading comment are the HTTP
# headers it is meant to be served with (charset tests depend on them).
HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
TAG = re.compile(r"<[^>]*>")


def corpus_headers(content: bytes) -> dict[str, str] | None:
    found = {name.decode(): value.decode("latin-1") for name, value in HEADER.findall(content[:2000])}
    return found or None


def has_usable_entry(content: bytes, headers) -> bool:
    """Independent check: does feedparser itself see an entry with a title, a link or
    some text? (Markup without text, like a lone <img>, is not an article.)"""
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)
    return any(
        TAG.sub("", e.get("title") or "").strip() or e.get("link")
        or TAG.sub("", e.get("summary") or "").strip()
        for e in parsed.entries
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_whole_corpus_is_stored_or_recorded(db):
    files = sorted(p for p in CORPUS.rglob("*.xml") if p.is_file())
    assert len(files) > 2000
    config = fast_fetch_config()
    fetched_at = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    counts = collections.Counter()
    reasons = collections.Counter()
    missed = []
    for path in files:
        relative = path.relative_to(CORPUS).as_posix()
        feed, _ = add_feed(db, f"http://corpus.test/{relative}")
        content = path.read_bytes()
        headers = corpus_headers(content)
        outcome = ingest_document(db, feed, content, config=config, fetched_at=fetched_at,
                                  headers=headers)
        if outcome.outcome == "error":
            counts["recorded"] += 1
            reasons[outcome.error.split(":")[0]] += 1
            continue
        counts["stored"] += 1
        counts["stored with entries" if outcome.stored + outcome.duplicates else "stored, no usable entry"] += 1
        counts["bozo stored"] += outcome.bozo
        counts["entries skipped"] += len(outcome.skipped)
        counts["articles new"] += outcome.new
        counts["duplicate entries"] += outcome.duplicates
        if not outcome.stored + outcome.duplicates and has_usable_entry(content, headers):
            missed.append(relative)

    print(f"\nfeedparser corpus: {len(files)} files: {dict(counts)}; recorded reasons: "
          f"{dict(reasons)}")
    assert counts["stored"] + counts["recorded"] == len(files)
    assert missed == []  # every file with a usable entry produced an article
    # The database agrees with the counts.
    assert db["articles"].count == counts["articles new"]
    recorded = db.execute("select count(*) from errors where stage = 'parse' "
                          "and resolved_at is null").fetchone()[0]
    assert recorded == counts["recorded"]
    outcomes = dict(db.execute("select outcome, count(*) from fetches group by outcome").fetchall())
    assert outcomes == {"ok": counts["stored"], "error": counts["recorded"]} if counts[
        "recorded"] else {"ok": counts["stored"]}
    assert db.execute("select count(*) from articles where bozo = 1").fetchone()[0] > 0

"""Job: ingest local files (``seeds/`` by default) into ``articles``.

Plain-text articles are parsed by :mod:`tracker.sources.textfiles`; saved
RSS/Atom documents (``.xml``, ``.rss``, ``.atom``, ``.rdf``) are stored like
fetched feeds under a ``feed-file`` source, never fetched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from tracker.config import Config
from tracker.domain import Article
from tracker.errors import Stage, describe
from tracker.shutdown import should_stop
from tracker.sources.files import printable, walk_inputs
from tracker.sources.textfiles import parse_text_file
from tracker.store.articles import files_source, save_articles, stored_file_article
from tracker.store.errors import record_error, resolve_error
from tracker.store.feeds import ingest_feed_file


@dataclass
class IngestSummary:
    files: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    missing_paths: list[str] = field(default_factory=list)

    @property
    def did_nothing(self) -> bool:
        """True when no input could be used at all (the CLI then exits non-zero)."""
        return self.new + self.updated + self.unchanged == 0 and (
            self.failed > 0 or bool(self.missing_paths)
        )


def same_article(article: Article, stored: dict | None, file: Path) -> None:
    """Make ``article`` (just parsed from ``file``) the stored article it is, if any.

    Identity of a text file: its path inside the ingest root (as given, so a moved
    or copied checkout changes nothing), else its text. An edited file keeps its
    article; a copy with the same text is that article, and keeps the first
    file's path; an article stored under another path that is this very file, or
    that no longer exists (a move; or the absolute path earlier versions stored),
    takes the new path."""
    if stored is None:
        return
    article.id = stored["id"]
    old = stored["path"]
    if old and old != article.path and _exists_elsewhere(old, file):
        article.path, article.source_id = old, stored["source_id"]


def _exists_elsewhere(old: str, file: Path) -> bool:
    try:
        return os.path.exists(old) and not os.path.samefile(old, file)
    except OSError:
        return False


def run_ingest(db: Database, config: Config, paths: list[str] | None = None) -> IngestSummary:
    """Ingest every text file under ``paths`` (default: ``config.ingest_paths``).

    A file that cannot be read or parsed is recorded in ``errors`` and the
    others still ingest. Each file is saved in its own transaction, and the
    job stops between files when ``should_stop()`` says so.
    """
    summary = IngestSummary()
    for raw_path in paths if paths is not None else config.ingest_paths:
        root = Path(raw_path)
        if not os.path.lexists(root):
            summary.missing_paths.append(raw_path)
            record_error(db, printable(raw_path), Stage.READ, "path does not exist")
            continue
        resolve_error(db, printable(raw_path), Stage.READ)
        # The folder as given (so a moved or copied checkout is the same source); an
        # earlier version keyed it by its absolute path.
        location = printable(os.path.normpath(raw_path))
        source_id = files_source(db, location, printable(root.name) or location,
                                 legacy=printable(str(root.resolve())))
        walk = walk_inputs(root, raw_path)
        for problem in walk.problems:
            summary.failed += 1
            record_error(db, problem.name, Stage.READ, problem.reason)
        for file in walk.files:
            # Between files: a shutdown or the time limit stops here, the rest next run.
            if should_stop():
                return summary
            summary.files += 1
            resolve_error(db, file.name, Stage.READ)
            if file.kind == "feed":  # a saved RSS/Atom document
                outcome = ingest_feed_file(db, file.path, config.fetch, file.name)
                summary.failed += outcome.outcome == "error"
                summary.new += outcome.new
                summary.updated += outcome.updated
                summary.unchanged += outcome.unchanged + outcome.duplicates
                continue
            try:
                article = parse_text_file(file.path, file.name)
            except (OSError, ValueError) as exc:
                summary.failed += 1
                record_error(db, file.name, Stage.PARSE, describe(exc))
                continue
            article.source_id = source_id
            # Looked up and saved in one write transaction: two ingests at once (the
            # service and the CLI) cannot both decide that a text is new.
            with db.atomic():
                same_article(article, stored_file_article(db, article.path,
                                                          article.content_hash), file.path)
                result = save_articles(db, [article])
            summary.new += result.new
            summary.updated += result.updated
            summary.unchanged += result.unchanged
            resolve_error(db, file.name, Stage.PARSE)
    return summary

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
from tracker.errors import Stage, describe
from tracker.shutdown import should_stop
from tracker.sources.files import printable, walk_inputs
from tracker.sources.textfiles import parse_text_file
from tracker.store.articles import files_source, save_articles
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
        location = printable(str(root.resolve()))
        source_id = files_source(db, location, printable(root.name) or location)
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
                outcome = ingest_feed_file(db, file.path, config.fetch)
                summary.failed += outcome.outcome == "error"
                summary.new += outcome.new
                summary.updated += outcome.updated
                summary.unchanged += outcome.unchanged + outcome.duplicates
                continue
            try:
                article = parse_text_file(file.path)
            except (OSError, ValueError) as exc:
                summary.failed += 1
                record_error(db, file.name, Stage.PARSE, describe(exc))
                continue
            article.source_id = source_id
            result = save_articles(db, [article])
            summary.new += result.new
            summary.updated += result.updated
            summary.unchanged += result.unchanged
            resolve_error(db, file.name, Stage.PARSE)
    return summary

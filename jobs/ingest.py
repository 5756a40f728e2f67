"""Job: ingest local text files (``seeds/`` by default) into ``articles``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from tracker.articles import save_articles
from tracker.config import Config
from tracker.errors import record_error, resolve_error
from tracker.feeds import FEED_FILE_SUFFIXES, find_feed_files
from tracker.feedstore import ingest_feed_file
from tracker.shutdown import should_stop
from tracker.textfiles import find_text_files, parse_text_file
from tracker.timeutil import utc_now_iso


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


def ensure_files_source(db: Database, location: Path) -> int:
    key = str(location.resolve())
    existing = next(db["sources"].rows_where("location = ?", [key], limit=1), None)
    if existing:
        return existing["id"]
    return db["sources"].insert(
        {"kind": "files", "location": key, "name": location.name or key,
         "enabled": 1, "created_at": utc_now_iso()}
    ).last_pk


def run_ingest(db: Database, config: Config, paths: list[str] | None = None) -> IngestSummary:
    """Ingest every text file under ``paths`` (default: ``config.ingest_paths``).

    A file that cannot be read or parsed is recorded in ``ingest_errors`` and
    the others still ingest. Each file is saved in its own transaction, and
    the job stops between files when ``should_stop()`` says so.
    """
    summary = IngestSummary()
    for raw_path in paths if paths is not None else config.ingest_paths:
        root = Path(raw_path)
        if not root.exists():
            summary.missing_paths.append(raw_path)
            record_error(db, str(root), "read", "path does not exist")
            continue
        resolve_error(db, str(root), "read")
        source_id = ensure_files_source(db, root)
        for file in find_text_files(root) + find_feed_files(root):
            # Between files: a shutdown or the time limit stops here, the rest next run.
            if should_stop():
                return summary
            summary.files += 1
            if file.suffix.lower() in FEED_FILE_SUFFIXES:  # a saved RSS/Atom document
                outcome = ingest_feed_file(db, file, config.fetch)
                summary.failed += outcome.outcome == "error"
                summary.new += outcome.new
                summary.updated += outcome.updated
                summary.unchanged += outcome.unchanged + outcome.duplicates
                continue
            input_name = str(file.resolve())
            try:
                article = parse_text_file(file)
            except (OSError, ValueError) as exc:
                summary.failed += 1
                record_error(db, input_name, "parse", f"{type(exc).__name__}: {exc}")
                continue
            article.source_id = source_id
            result = save_articles(db, [article])
            summary.new += result.new
            summary.updated += result.updated
            summary.unchanged += result.unchanged
            resolve_error(db, input_name, "parse")
    return summary

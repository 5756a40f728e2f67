"""Finding input files in folders: plain-text articles and saved feed documents."""

from __future__ import annotations

from pathlib import Path

TEXT_SUFFIXES = {".txt", ".text", ".md"}
# Local feed documents (`tracker ingest feeds/`): parsed like fetched feeds, never fetched.
FEED_FILE_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}


def is_feed_file(path: Path) -> bool:
    return path.suffix.lower() in FEED_FILE_SUFFIXES


def find_text_files(root: Path) -> list[Path]:
    """Text files under a folder (sorted), or the file itself."""
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and not p.name.startswith(".")
    )


def find_feed_files(root: Path) -> list[Path]:
    """Feed documents in a folder (sorted); an explicit file is the caller's to judge."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and p.suffix.lower() in FEED_FILE_SUFFIXES and not p.name.startswith("."))

"""Finding input files in folders: plain-text articles and saved feed documents.

The walk is iterative (a tree of any depth, no recursion) and never stops at a
bad entry: whatever cannot be used -- a dangling symbolic link, a link loop,
an unreadable folder, a named pipe or device -- comes back as a
:class:`Problem` with its reason, and the walk goes on with the next entry.
Names that are not valid UTF-8 are kept (the bytes are escaped for display,
``\\xff``), and the file is read with its real name.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".text", ".md"}
# Local feed documents (`tracker ingest feeds/`): parsed like fetched feeds, never fetched.
FEED_FILE_SUFFIXES = {".xml", ".rss", ".atom", ".rdf"}

_SPECIAL = [(stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def printable(name: str) -> str:
    """A file name as text that can be stored and shown: bytes that are not UTF-8
    (surrogate-escaped by Python) are written as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_feed_file(path: Path) -> bool:
    return path.suffix.lower() in FEED_FILE_SUFFIXES


def _kind(name: str) -> str | None:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in FEED_FILE_SUFFIXES:
        return "feed"
    return None


@dataclass
class FoundFile:
    path: Path  # to open (the real name)
    name: str  # for the database and people: the root as given, then the relative path
    relative: str  # the path inside the root ("" when the root is the file itself)
    kind: str  # "text" or "feed"


@dataclass
class Problem:
    name: str
    reason: str


@dataclass
class Walk:
    files: list[FoundFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _special(mode: int) -> str | None:
    return next((what for test, what in _SPECIAL if test(mode)), None)


def walk_inputs(root: Path, shown_root: str | None = None) -> Walk:
    """Every text and feed file under ``root`` (or ``root`` itself), sorted by name, and
    every entry that could not be used. Hidden entries (``.name``) are skipped."""
    walk = Walk()
    shown_root = printable(os.path.normpath(shown_root if shown_root is not None else str(root)))
    try:
        top = os.stat(root)
    except OSError as exc:
        walk.problems.append(Problem(shown_root, _reason(root, exc)))
        return walk
    if not stat.S_ISDIR(top.st_mode):
        kind = _kind(root.name) or "text"  # an explicit file is taken as a text article
        special = _special(top.st_mode)
        if special:
            walk.problems.append(Problem(shown_root, f"not a regular file: {special}"))
        else:
            walk.files.append(FoundFile(root, shown_root, "", kind))
        return walk
    visited = {(top.st_dev, top.st_ino)}
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, relative = stack.pop()
        shown = f"{shown_root}/{relative}" if relative else shown_root
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            walk.problems.append(Problem(shown, f"cannot read the folder: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            inner = f"{relative}/{printable(entry.name)}" if relative else printable(entry.name)
            name = inner if shown_root == "." else f"{shown_root}/{inner}"
            try:
                info = os.stat(entry.path)  # follows symbolic links
            except OSError as exc:
                walk.problems.append(Problem(name, _reason(Path(entry.path), exc)))
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in visited:
                    if entry.is_symlink():
                        walk.problems.append(Problem(name, "symbolic link loop: the folder it "
                                                           "points to is already read"))
                    continue
                visited.add(key)
                subfolders.append((Path(entry.path), inner))
            elif stat.S_ISREG(info.st_mode):
                kind = _kind(entry.name)
                if kind:
                    walk.files.append(FoundFile(Path(entry.path), name, inner, kind))
            else:
                walk.problems.append(Problem(name, "not a regular file: "
                                                   f"{_special(info.st_mode) or 'unknown type'}"))
        stack.extend(reversed(subfolders))  # depth-first, in name order
    walk.files.sort(key=lambda f: (f.kind != "text", f.name))
    return walk


def _reason(path: Path, exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "dangling symbolic link (its target does not exist)"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "path does not exist"
    return f"cannot read: {exc.strerror or exc}"


def read_regular_file(path: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file. Opened without blocking and checked
    after opening, so a named pipe put in a file's place is refused, never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file: {_special(info.st_mode) or 'unknown type'}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)

"""Parse plain-text article files (the ``seeds/`` format) into :class:`Article` objects.

The files are pasted web pages, so parsing deals with their real quirks:

* an optional leading `` date YYYY-MM-DD`` marker, sometimes followed by the
  first line of the article on the same line;
* a headline somewhere in the first lines, possibly after a logo, image alt
  text or a photo caption; without one, the first sentence is the title;
* boilerplate that is not article text: ``gCaptain-logo``, "This audio is
  created with AI assistance", photo credits, comment counters, trailing
  ``Tags:`` lists and copyright lines;
* a byline ("By NAME [DATE]") that gives the author and sometimes the date.

With no date marker, the publication date is taken from a full date in the
text (e.g. "February 27, 2025") and marked ``inferred``; with none, it is left
empty and marked ``unknown`` -- never invented.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from pathlib import Path

from tracker.domain import Article, stable_id
from tracker.errors import TextFileError
from tracker.timeutil import date_to_iso

MAX_FILE_BYTES = 5 * 1024 * 1024

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
# "February 27, 2025" / "Feb. 27, 2025" and "27 February 2025".
MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}}),\s*(\d{{4}})\b", re.I)
DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I)
DATE_MARKER = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\b\s*(.*)$", re.I)
BYLINE = re.compile(r"^By\s+(.{3,80}?)\s*(?:\(([^)]*)\))?\s*[—–-]?\s*$")

BOILERPLATE_LINE = [
    re.compile(r"^[\w.]+-logo$", re.I),
    re.compile(r"^This audio is created with AI assistance\.?$", re.I),
    re.compile(r"^(©|\(c\)|copyright\b)", re.I),
    re.compile(r"^all rights reserved\.?$", re.I),
    re.compile(r"\bphoto credit\s*:", re.I),
    re.compile(r"\((?:[^()]*/)?[^()]*\bphoto\)\s*$", re.I),  # "(Kevin Lamarque / Reuters File Photo)"
    re.compile(r"^\d{1,6}$"),  # comment or share counters
    re.compile(r"^(share|advertisement|read more|subscribe)\b.{0,30}$", re.I),
]
TAGS_LINE = re.compile(r"^tags?\s*:", re.I)
# Outlets named in the text of syndicated copies.
OUTLET_PATTERNS = [
    re.compile(r"^([A-Za-z][\w.]*)-logo$", re.M),
    re.compile(r"\b([A-Z][\w]*(?:\.[A-Z][a-z]+)?) reports via\b"),
    re.compile(r"\breported by [A-Z][\w ]*?, according to ([A-Z][A-Za-z.]+?)\.(?:\s|$)"),
]


def parse_date_in_text(text: str) -> dt.date | None:
    """The first full calendar date written out in ``text``, if any."""
    candidates = []
    for match in MONTH_DAY_YEAR.finditer(text):
        month, day, year = match.groups()
        candidates.append((match.start(), year, MONTHS[month.lower()], day))
    for match in DAY_MONTH_YEAR.finditer(text):
        day, month, year = match.groups()
        candidates.append((match.start(), year, MONTHS[month.lower()], day))
    for _, year, month, day in sorted(candidates):
        try:
            return dt.date(int(year), month, int(day))
        except ValueError:
            continue
    return None


def _is_boilerplate(line: str) -> bool:
    return any(p.search(line) for p in BOILERPLATE_LINE)


def _looks_like_headline(line: str) -> bool:
    words = line.split()
    return (
        20 <= len(line) <= 160
        and len(words) >= 4
        and (line[0].isupper() or line[0].isdigit())
        and not line.endswith((".", ",", ";", ":"))
        and not BYLINE.match(line)
        and ". " not in line
    )


# Words whose trailing period does not end a sentence ("Feb. 26", "U.S. officials").
ABBREVIATION = re.compile(
    rf"(?:\b(?:{_MONTH_RE}|mr|mrs|ms|dr|st|gen|gov|sen|rep|no|vs|inc|corp)|\b[A-Z]|\b(?:[A-Z]\.)+[A-Z])\.$",
    re.I,
)


def _first_sentence(text: str, limit: int = 160) -> str:
    sentence = text.strip()
    for match in re.finditer(r"[.!?][\"”’)]?(?=\s+[\"“A-Z0-9])", text):
        if not ABBREVIATION.search(text[: match.end()]):
            sentence = text[: match.end()].strip()
            break
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    return sentence


def _find_outlet(raw: str) -> str | None:
    for pattern in OUTLET_PATTERNS:
        match = pattern.search(raw)
        if match:
            return match.group(1)
    return None


def parse_article_text(raw: str, path: str) -> Article:
    """Parse the contents of one text file. ``path`` is where it was found (the ingest
    root as given, then the path inside it); the id is made from the path and the text,
    and the ingest job decides whether it is an article already stored
    (:func:`tracker.store.articles.stored_file_article`)."""
    if "\x00" in raw:
        raise TextFileError("binary file (contains NUL bytes), not a text article")
    lines = [line.strip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]

    marker_date: dt.date | None = None
    if lines and (match := DATE_MARKER.match(lines[0])):
        try:
            marker_date = dt.date.fromisoformat(match.group(1))
        except ValueError as exc:
            raise TextFileError(f"bad date line {lines[0]!r}: {exc}") from exc
        lines[0] = match.group(2).strip()
    outlet = _find_outlet("\n".join(lines))

    # Everything from a "Tags:" line on is page furniture.
    for i, line in enumerate(lines):
        if TAGS_LINE.match(line):
            lines = lines[:i]
            break
    kept = [line for line in lines if line and not _is_boilerplate(line)]

    title = None
    author = None
    byline_date = None
    for i, line in enumerate(kept[:8]):
        if _looks_like_headline(line):
            title = line
            # Lines above the headline are image alt text and the like.
            kept = kept[i + 1 :]
            break
    body = []
    for line in kept:
        byline = BYLINE.match(line) if len(line) <= 120 else None
        if byline and author is None:
            who = byline.group(1)
            byline_date = parse_date_in_text(who)
            author = MONTH_DAY_YEAR.sub("", who).strip(" ,") or None
            continue
        if parse_date_in_text(line) and len(line.split()) <= 4:
            byline_date = byline_date or parse_date_in_text(line)
            continue  # a dateline on its own, e.g. "February 26, 2025"
        body.append(line)
    text = "\n\n".join(body).strip()
    if not text:
        raise TextFileError("no article text after removing boilerplate")
    if title is None:
        title = _first_sentence(text)

    if marker_date is not None:
        published_date, date_source = marker_date, "dateline"
    elif byline_date is not None:
        published_date, date_source = byline_date, "inferred"
    elif (found := parse_date_in_text(text)) is not None:
        published_date, date_source = found, "inferred"
    else:
        published_date, date_source = None, "unknown"

    article = Article(
        id="",
        title=title,
        text=text,
        kind="file",
        path=path,
        outlet=outlet,
        author=author,
        published=date_to_iso(published_date) if published_date else None,
        published_date=published_date.isoformat() if published_date else None,
        date_source=date_source,
    )
    article.id = stable_id("file", path, article.content_hash)
    return article.detect_language()


def parse_text_file(path: Path, name: str | None = None) -> Article:
    """Read and parse one file; raises :class:`TextFileError` or ``OSError`` with the reason.

    ``name`` is what the article's ``path`` says (default: the absolute path)."""
    from tracker.sources.files import printable, read_regular_file

    data = read_regular_file(path, MAX_FILE_BYTES)
    if len(data) > MAX_FILE_BYTES:
        raise TextFileError(f"file is larger than the {MAX_FILE_BYTES} byte limit")
    return parse_article_text(decode_text(data), name or printable(str(path.resolve())))


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark); UTF-16 with its mark, as Windows
    editors save "Unicode" text; else Windows-1252, as pasted pages sometimes are.
    Anything else raises :class:`TextFileError`."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TextFileError(f"not UTF-16 text despite its byte-order mark: {exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise TextFileError(f"not UTF-8, UTF-16 or Windows-1252 text: {exc}") from exc

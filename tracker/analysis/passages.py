"""Split an article into sentences and passages that fit a model, without dropping any text.

Transformers read at most a few hundred tokens; feeding a whole article means
the model silently sees only its beginning. Instead the text is cut at
sentence boundaries into passages of at most ``max_tokens`` tokens, with one
sentence of overlap so that a claim split across a boundary is still seen
whole once. A sentence longer than the limit is cut at word boundaries.
"""

from __future__ import annotations

import re
from typing import Callable

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket)
# before whitespace and a capital, digit or opening quote; a line break always
# ends one (headlines, bullet points, datelines).
_SENTENCE_END = re.compile(r"(?<=[.!?][\"'”’)\]])\s+|(?<=[.!?])\s+(?=[\"'“‘(\[A-Z0-9•])")
# "Dr. Who", "U.S. officials", "Feb. 26": a full stop that ends no sentence.
_ABBREVIATION = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Gen|Gov|Sen|Rep|Lt|Col|Adm|Prof|Jr|Sr|No|Inc|Corp|Co|Ltd|vs"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$"
)
_BULLET = re.compile(r"^\s*[•\-\*–]\s*")

TokenCounter = Callable[[str], int]


def split_sentences(text: str) -> list[str]:
    """Sentences and headline-like lines, whitespace-normalised, empty ones dropped."""
    sentences = []
    for line in text.splitlines():
        pending = ""
        for piece in _SENTENCE_END.split(line):
            piece = re.sub(r"\s+", " ", piece).strip()
            pending = f"{pending} {piece}".strip() if pending else piece
            if pending and not _ABBREVIATION.search(pending):
                sentences.append(pending)
                pending = ""
        if pending:
            sentences.append(pending)
    return [s for s in (_BULLET.sub("", s).strip() for s in sentences) if s]


def _split_long(sentence: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """Cut one over-long sentence at word boundaries into pieces that fit."""
    pieces: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        candidate = " ".join(current + [word])
        if current and count(candidate) > max_tokens:
            pieces.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        pieces.append(" ".join(current))
    return pieces


def split_passages(
    text: str,
    max_tokens: int,
    count_tokens: TokenCounter,
    overlap_sentences: int = 1,
) -> list[str]:
    """Sentence-aligned passages of at most ``max_tokens`` tokens covering all of ``text``.

    ``count_tokens`` is the model tokenizer's count (without special tokens),
    so the limit means what the model will see. Consecutive passages share
    ``overlap_sentences`` sentences when they fit.
    """
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
    units: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        n = count_tokens(sentence)
        if n <= max_tokens:
            units.append((sentence, n))
        else:
            units.extend((p, count_tokens(p)) for p in _split_long(sentence, max_tokens, count_tokens))
    passages: list[str] = []
    start = 0
    while start < len(units):
        end, total = start, 0
        # +1 per sentence for the joining space, which may add a token.
        while end < len(units) and (end == start or total + units[end][1] + 1 <= max_tokens):
            total += units[end][1] + 1
            end += 1
        passages.append(" ".join(u[0] for u in units[start:end]))
        if end >= len(units):
            break
        # Overlap, but always move forward by at least one sentence.
        start = max(start + 1, end - overlap_sentences)
    return passages


def sentence_units(text: str, max_tokens: int, count_tokens: TokenCounter) -> list[str]:
    """The sentences of ``text`` (headline-like lines are sentences of their own), each
    cut at word boundaries if longer than ``max_tokens`` model tokens: the units the
    stance tagger scores, and the evidence it quotes."""
    units: list[str] = []
    for sentence in split_sentences(text):
        if count_tokens(sentence) <= max_tokens:
            units.append(sentence)
        else:
            units.extend(_split_long(sentence, max_tokens, count_tokens))
    return units


def article_text(title: str | None, text: str) -> str:
    """Headline and body as one text; the headline is not repeated if the body starts with it."""
    title = (title or "").strip()
    body = text.strip()
    if not title or body[: len(title) + 20].find(title) >= 0:
        return body
    # The headline becomes its own sentence (a line break ends a sentence).
    return f"{title}\n{body}"

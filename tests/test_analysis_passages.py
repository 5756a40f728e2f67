"""tracker.analysis.passages: sentence-aligned passages that cover the whole text."""

from __future__ import annotations

from tracker.analysis.passages import sentence_units, split_passages, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_passages_cover_the_text_and_fit():
    text = " ".join(f"Sentence number {i} says something about the Arctic." for i in range(60))
    passages = split_passages(text, 40, words)
    assert all(words(p) <= 40 for p in passages)
    assert len(passages) > 5
    # Nothing is lost: every sentence is in some passage, in order.
    for sentence in split_sentences(text):
        assert any(sentence in p for p in passages)
    # One sentence of overlap between neighbours.
    first_last = split_sentences(passages[0])[-1]
    assert passages[1].startswith(first_last)


def test_an_overlong_sentence_is_cut_not_dropped():
    text = "word " * 250 + "end."
    passages = split_passages(text, 100, words)
    assert all(words(p) <= 100 for p in passages)
    assert sum(words(p) for p in passages) >= 251
    assert passages[-1].endswith("end.")


def test_headlines_and_bullets_are_sentences():
    assert split_sentences("Big news today\n• First point. Second point!\n\nDr. Who") == [
        "Big news today", "First point.", "Second point!", "Dr. Who"]


def test_sentence_units_cut_long_sentences_and_keep_all_text():
    long = "Word " + "word " * 299 + "end."
    text = f"Headline here\nA short one. {long} Last sentence."
    units = sentence_units(text, 50, words)
    assert units[0] == "Headline here" and units[1] == "A short one."
    assert all(words(u) <= 50 for u in units) and units[-1] == "Last sentence."
    assert sum(words(u) for u in units) == words(text)

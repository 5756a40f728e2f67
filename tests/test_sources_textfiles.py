from pathlib import Path

import pytest

from tracker.errors import TextFileError as ParseError
from tracker.sources.textfiles import parse_article_text, parse_date_in_text, parse_text_file
from tracker.testing import SEEDS


def seed(prefix: str):
    return parse_text_file(next(SEEDS.glob(f"{prefix}_*.txt")))


def test_all_five_seeds_parse_with_their_dates():
    dates = {p.name[:3]: parse_text_file(p) for p in sorted(SEEDS.glob("*.txt"))}
    assert len(dates) == 5
    assert (dates["000"].published_date, dates["000"].date_source) == ("2025-02-27", "dateline")
    assert (dates["002"].published_date, dates["002"].date_source) == ("2025-02-26", "dateline")
    assert (dates["004"].published_date, dates["004"].date_source) == ("2025-02-27", "dateline")
    # 003 has no date line but a byline date; 001 only says "February 27" with no year.
    assert (dates["003"].published_date, dates["003"].date_source) == ("2025-02-27", "inferred")
    assert (dates["001"].published_date, dates["001"].date_source) == (None, "unknown")
    assert dates["000"].published == "2025-02-27T00:00:00Z"


def test_titles_outlets_and_authors():
    assert seed("002").title == "US, Russia Mull Cooperation on Arctic Shipping and Exploration"
    assert seed("002").outlet == "gCaptain"
    assert seed("002").author == "Natalia Drozdiak and Alberto Nardelli"
    assert seed("001").title.startswith("Media: US, Russia consider joint exploration")
    assert seed("001").outlet == "Caliber.Az"
    assert seed("000").outlet == "UNN"
    assert seed("003").author == "Elías Thorsson"
    # No headline: the first sentence, not cut at the "Feb." abbreviation.
    assert seed("004").title.startswith("American and Russian officials have identified")
    assert "Feb. 26" in seed("004").title


def test_boilerplate_is_kept_out_of_the_text():
    texts = {p.name[:3]: parse_text_file(p).text for p in SEEDS.glob("*.txt")}
    assert "gCaptain-logo" not in texts["002"]
    assert "Photo credit" not in texts["002"]
    assert "© 2025 Bloomberg" not in texts["002"]
    assert "Tags:" not in texts["002"] and "trump administration" not in texts["002"]
    assert "This audio is created with AI assistance" not in texts["004"]
    assert "Reuters File Photo" not in texts["003"]
    assert not texts["000"].startswith("date")
    # The real content stays.
    assert "Kirill Dmitriev" in texts["002"]
    assert texts["004"].startswith("American and Russian officials")


def test_dates_in_text():
    assert str(parse_date_in_text("By Jane Doe February 27, 2025")) == "2025-02-27"
    assert str(parse_date_in_text("on 3 March 2024 the")) == "2024-03-03"
    assert str(parse_date_in_text("Feb. 26, 2025")) == "2025-02-26"
    assert parse_date_in_text("meet on February 27 in Istanbul") is None
    assert parse_date_in_text("February 30, 2025") is None


def test_empty_and_binary_files_are_errors(tmp_path: Path):
    with pytest.raises(ParseError, match="no article text"):
        parse_article_text(" date 2025-01-01 \n\nTags: a, b\n", "x")
    with pytest.raises(ParseError, match="binary"):
        parse_article_text("abc\x00def", "x")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x81\x8d\x8f\x90\x9d" * 10)
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_text_file(bad)
    odd = tmp_path / "odd.txt"
    odd.write_bytes(b"\xff\xfe" + "Arctic".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(ParseError, match="not UTF-16 text despite its byte-order mark"):
        parse_text_file(odd)


@pytest.mark.parametrize("encoding, mark", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                            ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")])
def test_a_seed_saved_in_another_encoding_reads_the_same(encoding, mark, tmp_path: Path):
    """Windows editors save "Unicode" text as UTF-16 with a byte-order mark."""
    original = next(SEEDS.glob("*.txt"))
    text = original.read_text(encoding="utf-8")
    saved = tmp_path / original.name
    encoded = text.encode(encoding, errors="replace")  # cp1252 lacks some characters
    saved.write_bytes(mark + encoded)
    assert parse_text_file(saved, "same") == parse_article_text(encoded.decode(encoding), "same")
    if encoding != "cp1252":
        assert parse_text_file(saved, "same") == parse_text_file(original, "same")

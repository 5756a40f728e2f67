#!/usr/bin/env python
"""Which language detector to use: accuracy and speed of py3langid and lingua, side by side.

    .venv/bin/python bench/language_detection.py [--per-language 150]

Real labelled text in many languages, offline: the gettext catalogs (.mo) of the
machine's Debian packages under /usr/share/locale hold human translations of the same
messages (apt, bash, coreutils, ...), filed by language. The English originals (msgid)
are the English sample. Messages are cleaned of format specifiers and kept when they
have at least 6 words (20 characters for Chinese and Japanese). Short UI strings are
harder than news paragraphs, so these accuracies are a floor.
"""

from __future__ import annotations

import argparse
import collections
import gettext
import glob
import random
import re
import time

LANGUAGES = ["en", "ru", "uk", "ar", "pl", "es", "de", "fr", "it", "pt", "zh", "ja", "tr",
             "fi", "sv", "nl", "cs", "ko", "fa", "he"]
FORMAT = re.compile(r"%[-#0 +']*\*?\d*(?:\.\d+)?[hlLqjzt]*[a-zA-Z%]|\{[^}]*\}|\\[nt]|[_&]")


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", FORMAT.sub(" ", text)).strip()


def long_enough(text: str, language: str) -> bool:
    if language in ("zh", "ja"):
        return len(text) >= 20
    return len(text.split()) >= 6


def samples(per_language: int, seed: int = 0) -> list[tuple[str, str]]:
    found: dict[str, set[str]] = collections.defaultdict(set)
    for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo")):
        locale = path.split("/")[4]
        language = locale.split("_")[0].split("@")[0]
        if language not in LANGUAGES or "@" in locale:
            continue
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except Exception:  # noqa: BLE001 - a broken catalog is skipped
            continue
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str) or not msgid or not isinstance(msgstr, str):
                continue
            translated, original = clean(msgstr), clean(msgid)
            if translated and translated != original and long_enough(translated, language):
                found[language].add(translated)
            if original and long_enough(original, "en"):
                found["en"].add(original)
    rng = random.Random(seed)
    out = []
    for language in LANGUAGES:
        pool = sorted(found[language])
        rng.shuffle(pool)
        out += [(language, text) for text in pool[:per_language]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=150)
    args = parser.parse_args()
    data = samples(args.per_language)
    counts = collections.Counter(language for language, _ in data)
    print(f"{len(data)} messages in {len(counts)} languages "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())})")

    import py3langid
    from lingua import Language, LanguageDetectorBuilder

    codes = {language.iso_code_639_1.name.lower(): language for language in Language.all()}
    lingua_full = LanguageDetectorBuilder.from_all_languages().build()
    lingua_fast = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
    py3langid.classify("warm up")
    lingua_full.detect_language_of("warm up")
    lingua_fast.detect_language_of("warm up")

    def lingua(detector):
        def detect(text):
            found = detector.detect_language_of(text)
            return found.iso_code_639_1.name.lower() if found else None
        return detect

    detectors = {
        "py3langid": lambda text: py3langid.classify(text)[0],
        "lingua (low accuracy mode)": lingua(lingua_fast),
        "lingua (high accuracy)": lingua(lingua_full),
    }
    assert set(LANGUAGES) <= set(codes) | {"en"}
    rows = []
    for name, detect in detectors.items():
        start = time.perf_counter()
        predictions = [detect(text) for _, text in data]
        seconds = time.perf_counter() - start
        correct = sum(p == g for p, (g, _) in zip(predictions, data))
        by_language = collections.Counter(g for p, (g, _) in zip(predictions, data) if p == g)
        english_ok = by_language["en"] / counts["en"]
        not_english_ok = sum(1 for p, (g, _) in zip(predictions, data)
                             if g != "en" and p != "en") / (len(data) - counts["en"])
        rows.append((name, correct / len(data), english_ok, not_english_ok, len(data) / seconds))
    fastest = max(r[4] for r in rows)
    print(f"\n{'detector':<28}{'accuracy':>9}{'en kept':>9}{'non-en caught':>15}"
          f"{'texts/s':>10}{'vs fastest':>11}")
    for name, accuracy, english_ok, not_english_ok, speed in rows:
        print(f"{name:<28}{accuracy:>9.3f}{english_ok:>9.3f}{not_english_ok:>15.3f}"
              f"{speed:>10.0f}{speed / fastest:>10.2f}x")
    print("\n'en kept': English messages detected as English (the tagger reads them);"
          "\n'non-en caught': other messages not detected as English (marked unsupported).")


if __name__ == "__main__":
    main()

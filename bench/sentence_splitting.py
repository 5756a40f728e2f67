#!/usr/bin/env python
"""Which sentence splitter the passages and evidence use: the project's regex, pysbd, syntok.

    .venv/bin/python bench/sentence_splitting.py

Accuracy: boundary precision/recall/F1 on a gold set of news-style paragraphs written
for this benchmark (below), full of what trips splitters in this story's coverage:
"U.S.", "Feb. 27", "St. Petersburg", initials ("J.D. Vance"), decimals ("$2.5
billion"), quotes ending sentences, "No." and "Gen.". Speed: sentences per second
over the seed articles (real text), side by side in one run.
"""

from __future__ import annotations

import time

from tracker.analysis.passages import split_sentences
from tracker.sources.files import walk_inputs
from tracker.sources.textfiles import parse_text_file
from tracker.testing import SEEDS

# Each paragraph is a list of its sentences (the gold split).
GOLD = [
    ["The U.S. and Russia met in Riyadh on Feb. 27, 2025.",
     "Officials from both sides said the talks were constructive.",
     "No agreement on the Arctic was announced."],
    ["Kirill Dmitriev, head of the RDIF, said Moscow and Washington could cooperate in the Arctic.",
     "\"Cooperation is a necessity,\" he wrote on X.",
     "Critics in Washington disagreed."],
    ["Sen. Lisa Murkowski of Alaska warned against a deal.",
     "She said the U.S. Coast Guard needs more icebreakers, not Russian ones.",
     "Her office declined to comment further."],
    ["The project would cost about $2.5 billion.",
     "Novatek's Arctic LNG 2 has been under U.S. sanctions since Nov. 2023.",
     "Shipments fell by 40 per cent."],
    ["Gen. Gregory Guillot told lawmakers that Russian aircraft were intercepted near Alaska.",
     "\"We see more activity every year.\"",
     "NORAD tracked four planes on Sept. 23."],
    ["Vice President J.D. Vance visited Greenland in March.",
     "Denmark objected.",
     "The visit was shortened to one day."],
    ["St. Petersburg hosted the forum.",
     "Rosatom presented plans for the Northern Sea Route through 2035.",
     "Foreign guests were few."],
    ["The Arctic Council paused its work in 2022 after Russia invaded Ukraine.",
     "Seven members continued without Russia.",
     "Norway, the chair in 2023-25, sought a way back to working groups."],
    ["Is cooperation still possible?",
     "Analysts at the Wilson Center think so!",
     "Others, e.g. at NATO headquarters, are sceptical."],
    ["The talks lasted 4.5 hours, according to Reuters.",
     "A U.S. official said the next round would follow \"soon.\"",
     "The Kremlin confirmed it."],
]


def boundaries(sentences: list[str]) -> set[int]:
    """Character offsets (in the joined paragraph, spaces removed) where sentences end."""
    out, position = set(), 0
    for sentence in sentences[:-1]:
        position += len(sentence.replace(" ", ""))
        out.add(position)
    return out


def main() -> None:
    import pysbd
    from syntok import segmenter

    segmenter_sbd = pysbd.Segmenter(language="en", clean=False)

    def syntok_split(text: str) -> list[str]:
        return ["".join(token.spacing + token.value for token in sentence).strip()
                for paragraph in segmenter.process(text) for sentence in paragraph]

    splitters = {
        "regex (tracker.analysis.passages)": split_sentences,
        "pysbd": lambda text: [s.strip() for s in segmenter_sbd.segment(text) if s.strip()],
        "syntok": syntok_split,
    }
    seeds = [parse_text_file(f.path).text for f in walk_inputs(SEEDS).files]
    print(f"gold: {len(GOLD)} paragraphs, {sum(len(p) for p in GOLD)} sentences; "
          f"speed on the {len(seeds)} seeds")
    print(f"\n{'splitter':<36}{'precision':>10}{'recall':>8}{'F1':>7}{'exact':>7}"
          f"{'sent/s':>9}{'vs fastest':>11}")
    rows = []
    for name, split in splitters.items():
        tp = fp = fn = exact = 0
        for paragraph in GOLD:
            predicted = split(" ".join(paragraph))
            gold, found = boundaries(paragraph), boundaries(predicted)
            tp += len(gold & found)
            fp += len(found - gold)
            fn += len(gold - found)
            exact += predicted == paragraph
        start = time.perf_counter()
        count = 0
        for _ in range(5):
            for text in seeds:
                count += len(split(text))
        speed = count / (time.perf_counter() - start)
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        rows.append((name, precision, recall, 2 * precision * recall / max(precision + recall, 1e-9),
                     exact, speed))
    fastest = max(r[5] for r in rows)
    for name, precision, recall, f1, exact, speed in rows:
        print(f"{name:<36}{precision:>10.3f}{recall:>8.3f}{f1:>7.3f}{exact:>4}/{len(GOLD):<3}"
              f"{speed:>8.0f}{speed / fastest:>10.2f}x")


if __name__ == "__main__":
    main()

"""Topics: what the tracker follows, as data.

A topic file (TOML; ``arctic.toml`` beside this module is the default) holds
the topic's name and description, the relevance prototypes, near misses and
aspects, the prefilter terms, the hypotheses of each stance label and the
calibration fitted for them. Following another story means writing another
such file and naming it in the config (``[topic] file = "my_topic.toml"``);
no code changes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError

TOPICS_DIR = Path(__file__).resolve().parent
DEFAULT_TOPIC = "arctic"

# Topic-file table -> key -> the TaggerConfig field it fills.
LAYOUT: dict[str, dict[str, str]] = {
    "topic": {"name": "name", "description": "description"},
    "relevance": {"prototypes": "relevance_hypotheses", "near_misses": "near_miss_hypotheses",
                  "aspects": "relevance_aspects", "prefilter_terms": "prefilter_terms",
                  "hypotheses": "topic_hypotheses"},
}
REQUIRED = ("name", "relevance_hypotheses", "labels")


@dataclass(frozen=True)
class Topic:
    file: str  # as named in the config (a built-in name or a path)
    name: str
    description: str
    # TaggerConfig field -> value: the topic's texts and its calibration.
    tagger_values: dict[str, Any]


def builtin_topics() -> list[str]:
    return sorted(p.stem for p in TOPICS_DIR.glob("*.toml"))


def topic_path(ref: str, relative_to: str | None = None) -> Path:
    """A built-in topic's file, or a path (relative to the config file's folder first)."""
    if "/" not in ref and "\\" not in ref and not ref.endswith(".toml"):
        path = TOPICS_DIR / f"{ref}.toml"
        if not path.exists():
            raise ConfigError(f"[topic] file: no built-in topic {ref!r} "
                              f"(built-in: {', '.join(builtin_topics())}; or give a path)")
        return path
    path = Path(ref).expanduser()
    if not path.is_absolute() and relative_to:
        beside = Path(relative_to).resolve().parent / path
        if beside.exists():
            return beside
    return path


def load_topic(ref: str = DEFAULT_TOPIC, relative_to: str | None = None) -> Topic:
    """Read and check a topic file; every problem is a :class:`ConfigError` naming the key."""
    from tracker.config import CALIBRATION_KEYS, Check, TaggerConfig, check_table, read_toml

    path = topic_path(ref, relative_to)
    if not path.exists():
        raise ConfigError(f"[topic] file: topic file not found: {ref}")
    data = read_toml(path, "topic file")
    where = f"topic file {path.name}"
    values: dict[str, Any] = {}
    checks = {
        "name": Check("text", nonempty=True), "description": Check("text"),
        "relevance_hypotheses": Check("texts", nonempty=True),
        "near_miss_hypotheses": Check("texts"), "relevance_aspects": Check("text_lists"),
        "topic_hypotheses": Check("texts"),
        "prefilter_terms": Check("texts"),
    }
    for table, keys in LAYOUT.items():
        section = data.pop(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{where}: [{table}] must be a table")
        unknown = sorted(set(section) - set(keys))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) in [{table}]: {', '.join(unknown)}")
        for key, target in keys.items():
            if key in section:
                problem = checks[target].problem(section[key])
                if problem:
                    raise ConfigError(f"{where}: [{table}] {key} {problem.lstrip(': ')}")
                values[target] = section[key]
    hypotheses = data.pop("hypotheses", None)
    problem = Check("text_lists", nonempty=True).problem(hypotheses) if hypotheses is not None \
        else "is missing"
    if problem:
        raise ConfigError(f"{where}: [hypotheses] {problem}")
    values["labels"] = hypotheses
    calibration = data.pop("calibration", {})
    try:
        values.update(check_table(TaggerConfig, calibration, "calibration",
                                  keys=CALIBRATION_KEYS))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if data:
        raise ConfigError(f"{where}: unknown section(s): {', '.join(sorted(data))}")
    missing = [key for key in REQUIRED if key not in values]
    missing += [key for key in CALIBRATION_KEYS if key not in values]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    values.setdefault("description", "")
    values.setdefault("near_miss_hypotheses", [])
    values.setdefault("topic_hypotheses", [])
    values.setdefault("relevance_aspects", {})
    values.setdefault("prefilter_terms", [])
    return Topic(file=ref, name=values["name"], description=values["description"],
                 tagger_values=values)


@functools.lru_cache(maxsize=1)
def default_topic() -> Topic:
    return load_topic(DEFAULT_TOPIC)

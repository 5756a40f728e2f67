"""Cooperative stopping: how a long job learns it should stop taking new items.

A Python thread cannot be killed, so neither a shutdown (SIGTERM, Ctrl-C)
nor a job's time limit can interrupt a job in the middle of an item. Instead a
job asks :func:`should_stop` between items (a file, a feed, a batch of
articles) and, when it answers True, commits what it has and returns its
summary as usual::

    for feed in feeds:
        if should_stop():
            break          # the rest waits for the next run
        ...fetch, save and commit this feed...

``run_job`` then records the run as ``interrupted`` (shutdown) or ``timeout``
(time limit) with the reason, instead of ``ok``. A job that never asks simply
runs to the end.

The stop flag is process-wide; the deadline is per thread, because the
scheduler runs each job in its own worker thread.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

_stop = threading.Event()
_stop_reason: str = ""
_local = threading.local()


@dataclass(frozen=True)
class StopNotice:
    """Why a job stopped early: ``status`` is ``interrupted`` or ``timeout``."""

    status: str
    reason: str


def request_stop(reason: str) -> None:
    """Ask every running job to stop after its current item (idempotent)."""
    global _stop_reason
    if not _stop.is_set():
        _stop_reason = reason
        _stop.set()


def stop_requested() -> bool:
    """True once a shutdown was requested (ignores job deadlines)."""
    return _stop.is_set()


def stop_reason() -> str:
    """What asked for the stop (e.g. ``SIGTERM``), or "" if nothing did."""
    return _stop_reason


def wait_for_stop(timeout: float | None = None) -> bool:
    """Block until a stop is requested or ``timeout`` passes; True if requested."""
    return _stop.wait(timeout)


def clear_stop() -> None:
    """Forget an earlier stop request (a new service in the same process, tests)."""
    global _stop_reason
    _stop.clear()
    _stop_reason = ""


def should_stop() -> bool:
    """True when the current job should stop taking new items: the service is
    shutting down, or this job's time limit has passed."""
    notice = None
    if _stop.is_set():
        notice = StopNotice("interrupted", f"stopped early: {_stop_reason}; "
                                           "the remaining items wait for the next run")
    else:
        deadline = getattr(_local, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            notice = StopNotice("timeout", f"time limit of {_local.limit_text} reached; "
                                           "stopped taking new items, the rest wait for the next run")
    if notice is None:
        return False
    # Remember that the job saw the answer, so the run is recorded as stopped early.
    _local.notice = notice
    return True


@contextmanager
def job_scope(timeout_minutes: float | None = None) -> Iterator[None]:
    """Run a job with an optional time limit in this thread (``run_job`` uses it)."""
    previous = (getattr(_local, "deadline", None), getattr(_local, "limit_text", ""))
    _local.notice = None
    if timeout_minutes is not None and timeout_minutes > 0:
        _local.deadline = time.monotonic() + timeout_minutes * 60
        _local.limit_text = f"{timeout_minutes:g} min"
    else:
        _local.deadline = None
    try:
        yield
    finally:
        _local.deadline, _local.limit_text = previous


def stopped_early() -> StopNotice | None:
    """Whether the job that just ran in this thread saw :func:`should_stop` say True."""
    return getattr(_local, "notice", None)

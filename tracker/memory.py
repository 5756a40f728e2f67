"""A process that runs for months: bounded caches, measured memory, freed memory handed back.

Every in-process cache of the tracker is a :class:`BoundedCache` with a name
and a size (``[memory]`` in the config sets them, :func:`configure`):
``models`` (loaded NLI and embedding models), ``fingerprints`` (weight-file
hashes, one per model kept), ``taggers`` (stance taggers, one per
configuration). Datasette's table counts are kept by tracker/publish.

The service runs its jobs in worker threads next to Datasette's. Each job
allocates and frees tens of megabytes in bursts (model activations, feed
documents, query results). glibc's allocator keeps freed memory in per-thread
arenas for reuse, and when a large block is freed it raises its threshold
for serving blocks from those arenas instead of fresh mappings; so resident
memory creeps up to the sum of every arena's worst moment, and fragmentation
keeps it from falling back (measured in bench/memory_probe.py and
bench/soak.py; see the README, "Memory").

Two measures, both glibc-only (elsewhere they do nothing):

* :func:`tune_allocator` at start-up: at most ``arenas`` arenas (what
  ``MALLOC_ARENA_MAX`` sets), and a fixed mmap threshold, so that large
  blocks are always mapped and given back to the system when freed;
* :func:`release` after each job run: ``malloc_trim(0)`` returns the free
  pages at the top of, and inside, every arena.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, Hashable, TypeVar

if TYPE_CHECKING:
    from tracker.config import MemoryConfig

V = TypeVar("V")

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

_libc = None
_libc_lock = threading.Lock()


def _glibc():
    """glibc, if this process runs on it (None on musl, macOS...)."""
    global _libc
    with _libc_lock:
        if _libc is None:
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                _libc = libc
            except (OSError, AttributeError):
                _libc = False
        return _libc or None


def rss_bytes() -> int | None:
    """This process's resident memory, or None where /proc is not available."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def rss_mb() -> float | None:
    value = rss_bytes()
    return None if value is None else value / (1024 * 1024)


def tune_allocator(arenas: int, mmap_threshold: int) -> bool:
    """Cap glibc's arenas (0 = leave glibc's default of 8 per core) and fix the
    mmap threshold (0 = leave glibc's sliding one). Call before threads start:
    arenas already created stay. Returns whether glibc took the settings."""
    libc = _glibc()
    if libc is None:
        return False
    ok = True
    if arenas:
        ok &= bool(libc.mallopt(M_ARENA_MAX, arenas))
    if mmap_threshold:
        # Setting it also stops glibc from raising it after each large free.
        ok &= bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))
        ok &= bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * mmap_threshold))
    return ok


def release() -> bool:
    """Give the memory the allocator holds free back to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


# -- bounded caches -----------------------------------------------------------------

_CACHES: dict[str, "BoundedCache"] = {}
_SIZES: dict[str, int] = {}  # configured sizes, for caches created after configure()


class BoundedCache(Generic[V]):
    """A dict that keeps at most ``size`` entries, dropping the least recently used.

    Thread-safe for single operations; callers that must not build a value twice
    hold their own lock around get-then-set (model loading does)."""

    def __init__(self, name: str, size: int):
        self.name = name
        self.size = _SIZES.get(name, size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES[name] = self

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __getitem__(self, key: Hashable) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            self._trim()

    def __len__(self) -> int:
        return len(self._items)

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = size
            self._trim()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _trim(self) -> None:
        while len(self._items) > max(self.size, 1):
            self._items.popitem(last=False)


def cache_sizes() -> dict[str, tuple[int, int]]:
    """``name -> (entries, size)`` of every cache created so far."""
    return {name: (len(cache), cache.size) for name, cache in _CACHES.items()}


def configure(config: "MemoryConfig") -> None:
    """Apply ``[memory]``: cache sizes now and for caches created later."""
    _SIZES.update(models=config.models_cached, fingerprints=config.models_cached,
                  taggers=config.taggers_cached)
    for name, size in _SIZES.items():
        if name in _CACHES:
            _CACHES[name].resize(size)

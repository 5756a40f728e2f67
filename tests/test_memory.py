"""tracker/memory.py: bounded caches, the allocator's release, and the [memory] settings."""

from __future__ import annotations

import os
import shutil

import pytest

from tracker import memory
from tracker.analysis import models
from tracker.config import ConfigError, MemoryConfig, config_from_dict
from tracker.testing.procstats import process_stats


def test_a_bounded_cache_drops_the_least_recently_used():
    cache = memory.BoundedCache("test-lru", 2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache["c"] = 3
    assert "b" not in cache and cache.get("a") == 1 and cache["c"] == 3
    cache.resize(1)  # "c" was used last
    assert len(cache) == 1 and "a" not in cache and cache["c"] == 3
    with pytest.raises(KeyError):
        cache["a"]


def test_configure_sizes_the_caches_now_and_later():
    memory.configure(MemoryConfig(models_cached=3, taggers_cached=1))
    try:
        sizes = memory.cache_sizes()
        assert sizes["models"][1] == 3 and sizes["fingerprints"][1] == 3
        assert memory.BoundedCache("taggers-later", 5).size == 5  # not a configured name
        from tracker.analysis import stance  # noqa: F401 - registers "taggers"

        assert memory.cache_sizes()["taggers"][1] == 1
    finally:
        memory.configure(MemoryConfig())
    assert memory.cache_sizes()["models"][1] == MemoryConfig().models_cached


def test_a_model_rewritten_in_place_replaces_its_fingerprint(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"one")
    before = len(models._HASHES)
    first = models.model_fingerprint(str(folder))
    (folder / "model.safetensors").write_bytes(b"two, longer")
    second = models.model_fingerprint(str(folder))
    assert first != second
    assert len(models._HASHES) == before + 1  # one entry per model, not per version
    shutil.rmtree(folder)


def test_release_hands_freed_memory_back():
    if not memory.tune_allocator(0, 0):
        pytest.skip("not glibc")
    block = bytearray(200 * 1024 * 1024)  # touched: resident
    block[::4096] = b"x" * len(block[::4096])
    with_block = process_stats(os.getpid()).rss
    del block
    memory.release()
    assert process_stats(os.getpid()).rss < with_block - 100 * 1024 * 1024
    assert memory.rss_mb() > 0


def test_memory_settings_are_checked():
    assert config_from_dict({"memory": {"malloc_arena_max": 0}}).memory.malloc_arena_max == 0
    for text, message in [
        ({"malloc_arena_max": -1}, "[memory] malloc_arena_max must be from 0 to 64"),
        ({"models_cached": 0}, "[memory] models_cached must be from 1 to 32"),
        ({"release_after_jobs": "yes"}, "[memory] release_after_jobs must be true or false"),
        ({"table_counts_seconds": -5}, "[memory] table_counts_seconds must be from 0"),
        ({"cache": 5}, "unknown key(s) in [memory]: cache"),
    ]:
        with pytest.raises(ConfigError) as raised:
            config_from_dict({"memory": text})
        assert str(raised.value).startswith(message)

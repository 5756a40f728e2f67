"""What a running process uses, read from /proc (Linux): for the soak bench and service tests."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class ProcessStats:
    rss: int  # resident bytes
    anon: int  # resident anonymous bytes (the heap; RSS less mapped files)
    threads: int
    fds: int


def process_stats(pid: int) -> ProcessStats | None:
    """The process's memory, threads and open file descriptors; None once it has ended."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None

    def kib(name: str) -> int:
        return int(fields.get(name, "0 kB").split()[0]) * 1024

    return ProcessStats(rss=kib("VmRSS"), anon=kib("RssAnon"),
                        threads=int(fields.get("Threads", "0").strip()), fds=fds)


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (x, y) points; None for fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` (0-1) percentile by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(share * len(ordered) + 0.5)) - 1))
    return ordered[rank]

"""Charts drawn on the server as SVG: no script, no CDN, the same with 5 articles or 100,000.

Pure functions of the rows they are given (:mod:`tracker.store.story`); the
pages put the SVG inline. Every bar is a link to its articles and carries
its counts and shares in a tooltip (``<title>``).
"""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from typing import Callable

COLOURS = {"favor": "#1a9850", "against": "#d73027", "neutral": "#8c8c8c"}
STANCES = ("favor", "against", "neutral")
MIN_SLOTS = 14  # a few articles on one day still get a readable bar, not a wall


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _next(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _previous(start: dt.date, period: str) -> dt.date:
    if period == "month":
        return (start - dt.timedelta(days=1)).replace(day=1)
    return start - dt.timedelta(days=1 if period == "day" else 7)


def _label(start: dt.date, period: str) -> str:
    if period == "day":
        return f"{start.day} {start:%b %Y}"
    if period == "week":
        return f"week of {start.day} {start:%b %Y}"
    return f"{start:%B %Y}"


def nice_ticks(top: int) -> list[int]:
    """0, then round steps (1, 2 or 5 x 10^k) up to at least ``top``; at most ~5 ticks."""
    top = max(top, 1)
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    return list(range(0, top + step, step)) if top % step else list(range(0, top + 1, step))


def slots(rows: list[dict], period: str) -> list[dict]:
    """Every period from the first row's to the last one's (empty ones too, so that
    time runs evenly), padded on both sides up to :data:`MIN_SLOTS`."""
    if not rows:
        return []
    by_start = {row["start"]: row for row in rows}
    first, last = _date(rows[0]["start"]), _date(rows[-1]["start"])
    starts = [first]
    while starts[-1] < last:
        starts.append(_next(starts[-1], period))
    before = True
    while len(starts) < MIN_SLOTS:
        if before:
            starts.insert(0, _previous(starts[0], period))
        else:
            starts.append(_next(starts[-1], period))
        before = not before
    return [{**{s: 0 for s in STANCES}, **by_start.get(start.isoformat(), {}),
             "start": start.isoformat(),
             "end": (_next(start, period) - dt.timedelta(days=1)).isoformat()}
            for start in starts]


def volume_chart(rows: list[dict], period: str, link: Callable[[dict], str],
                 width: int = 960, height: int = 260) -> str:
    """Relevant articles per period stacked by stance (favor at the bottom), as SVG."""
    data = slots(rows, period)
    if not data:
        return ('<p class="chart-empty">No relevant article has a publication date yet: '
                'nothing to chart.</p>')
    left, right, top, bottom = 48, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max(sum(row[s] for s in STANCES) for row in data))
    scale = plot_h / ticks[-1]
    slot_w = plot_w / len(data)
    bar_w = max(1.0, slot_w * (0.8 if slot_w > 3 else 1.0))
    parts = [f'<svg class="volume-chart" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="Relevant articles per {period} by stance" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">']
    for tick in ticks:
        y = top + plot_h - tick * scale
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e5e5e5"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" fill="#555">{tick:,}</text>')
    labelled = _tick_slots(data, period, plot_w)
    for index, row in enumerate(data):
        x = left + index * slot_w + (slot_w - bar_w) / 2
        total = sum(row[s] for s in STANCES)
        if total:
            shares = ", ".join(f"{s} {row[s]:,} ({row[s] / total:.0%})" for s in STANCES)
            parts.append(f'<a href="{escape(link(row))}"><title>{escape(_label(_date(row["start"]), period))}: '
                         f'{total:,} relevant article{"s" if total != 1 else ""} — {shares}</title>')
            y = top + plot_h
            for stance in STANCES:
                if row[stance]:
                    h = row[stance] * scale
                    y -= h
                    parts.append(f'<rect class="bar-{stance}" x="{x:.2f}" y="{y:.2f}" '
                                 f'width="{bar_w:.2f}" height="{h:.2f}" fill="{COLOURS[stance]}"/>')
            parts.append("</a>")
        if index in labelled:
            cx = left + index * slot_w + slot_w / 2
            parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top + plot_h}" '
                         f'y2="{top + plot_h + 4}" stroke="#999"/><text x="{cx:.1f}" '
                         f'y="{top + plot_h + 18}" text-anchor="middle" fill="#555">'
                         f'{escape(labelled[index])}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
                 f'y2="{top + plot_h}" stroke="#999"/></svg>')
    return "".join(parts)


def _tick_slots(data: list[dict], period: str, plot_w: float) -> dict[int, str]:
    """Which slots get a date under them: month and year always, at most one label per
    ~90 px; days also get their day when the chart shows days."""
    room = max(1, int(plot_w // 90))
    if period == "day":
        candidates = {i: f"{_date(r['start']).day} {_date(r['start']):%b %Y}" for i, r in enumerate(data)}
    else:
        # The first slot of each month (of each year, when months are too many).
        candidates, seen = {}, set()
        for i, row in enumerate(data):
            start = _date(row["start"])
            key = (start.year, start.month)
            if key not in seen:
                seen.add(key)
                candidates[i] = f"{start:%b %Y}"
        if len(candidates) > room:
            candidates = {i: label for i, label in candidates.items() if label.startswith("Jan")} or candidates
    keys = sorted(candidates)
    step = max(1, math.ceil(len(keys) / room))
    return {i: candidates[i] for i in keys[::step]}


def mix_bar(favor: int, against: int, neutral: int, width: int = 160, height: int = 10) -> str:
    """One event's (or outlet's) stance mix as a thin stacked bar with counts on hover."""
    total = favor + against + neutral
    if not total:
        return '<span class="mix-none">not tagged yet</span>'
    counts = {"favor": favor, "against": against, "neutral": neutral}
    parts = [f'<svg class="mix-bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>'
             + escape(", ".join(f"{s} {n} ({n / total:.0%})" for s, n in counts.items()))
             + "</title>"]
    x = 0.0
    for stance, n in counts.items():
        if n:
            w = width * n / total
            parts.append(f'<rect x="{x:.2f}" width="{w:.2f}" height="{height}" fill="{COLOURS[stance]}"/>')
            x += w
    parts.append("</svg>")
    return "".join(parts)

"""The analyst's pages, as routes of the project's Datasette plugin (issue 14).

* ``/``             the story: topic, label definitions, headline figures, the
                    volume chart of relevant articles by stance, the latest and
                    the largest events, links to everything else
* ``/event/ID``     an event: its stance mix and its articles in time order
* ``/article/ID``   an article: its stance and confidence, every label's score,
                    the evidence highlighted in the text, the model and
                    configuration, its event, corrections and the form to correct it
* ``/-/corrected``  where the correct_stance canned query sends the browser
                    after a correction: back to the article just corrected

What they show comes from :mod:`tracker.store.story`, run on Datasette's own
read connection under its SQL time limit (1 s in public mode). Templates are
in ``tracker/publish/templates``.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from dataclasses import asdict
from typing import Any, Callable

from datasette import hookimpl
from datasette.utils import sqlite_timelimit
from datasette.app import Datasette
from datasette.utils.asgi import NotFound, Request, Response
from markupsafe import Markup, escape
from sqlite_utils import Database

from tracker.publish.charts import COLOURS, mix_bar, volume_chart
from tracker.store import story

LARGEST_EVENTS_DAYS = 90  # "the largest events" are those of the last 90 days of data
CONFIDENCE_WORDS = ((0.8, "high"), (0.6, "moderate"), (0.0, "low"))


async def read(datasette: Datasette, fn: Callable[..., Any], *args) -> Any:
    """Run ``fn(Database, *args)`` on Datasette's read connection, within its time limit."""
    limit = datasette.setting("sql_time_limit_ms")

    def run(conn):
        with sqlite_timelimit(conn, limit):
            return fn(Database(conn), *args)

    return await datasette.get_database().execute_fn(run)


def plugin_settings(datasette: Datasette) -> dict:
    return datasette.plugin_config("tracker") or {}


def day_or_none(value: str | None) -> str | None:
    """A ``YYYY-MM-DD`` query argument, or None (anything else is ignored, not an error)."""
    try:
        return dt.date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def nice_date(value: str | None) -> str:
    """``2025-02-27`` (or a timestamp) as ``27 Feb 2025``; empty for None."""
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
    return f"{day.day} {day:%b %Y}"


def confidence_text(confidence: float | None) -> str:
    if confidence is None:
        return ""
    word = next(word for bound, word in CONFIDENCE_WORDS if confidence >= bound)
    return f"{confidence:.0%} confident ({word})"


def evidence_sentences(evidence: str | None) -> list[str]:
    """The sentences of an evidence passage long enough to look up in the text."""
    parts = re.split(r"(?<=[.!?…])\s+", evidence or "")
    return [part.strip() for part in parts if len(part.strip()) > 15]


def mark(html: str, sentence: str) -> tuple[str, bool]:
    """`html` with the first occurrence of `sentence` marked, matched across any run
    of whitespace (a text wrapped over lines still matches a sentence joined by spaces)."""
    words = str(escape(sentence)).split()
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words))
    found = pattern.search(html)
    if found is None or html[max(0, found.start() - 6):found.start()] == "<mark>":
        return html, False
    return f"{html[:found.start()]}<mark>{found.group(0)}</mark>{html[found.end():]}", True


def highlight(text: str, evidence: str | None) -> Markup:
    """The article text as paragraphs, with the evidence passage's sentences marked.

    The evidence is a passage the tagger read -- sentences of the headline or of the
    text -- so it is looked up sentence by sentence."""
    html = str(escape(text))
    for sentence in evidence_sentences(evidence):
        html, _ = mark(html, sentence)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", html) if p.strip()]
    return Markup("".join(f"<p>{p}</p>" for p in paragraphs))


def headline(title: str | None, evidence: str | None) -> Markup:
    """The headline, marked when it is (part of) the evidence that decided the label."""
    html = str(escape(title or ""))
    for sentence in evidence_sentences(evidence):
        html, found = mark(html, sentence)
        if found:
            break
    return Markup(html)


def evidence_html(evidence: str | None, title: str | None) -> Markup:
    """An evidence passage, its headline (passages start with it) set apart from the text."""
    if not evidence:
        return Markup("")
    if title and evidence.startswith(title) and len(evidence) > len(title):
        return Markup(f"<em>{escape(title)}</em> — {escape(evidence[len(title):].strip())}")
    return escape(evidence)


def articles_link(datasette: Datasette, start: str, end: str) -> str:
    """Relevant articles published between two days, newest first, with their stance and
    evidence (article_stance: its two facets stay fast for a month of a million articles)."""
    query = urllib.parse.urlencode({"published_date__gte": start, "published_date__lte": end,
                                    "stance__in": "favor,against,neutral"})
    return f"{datasette.urls.table(datasette.get_database().name, 'article_stance')}?{query}"


def common_context(datasette: Datasette) -> dict:
    db_name = datasette.get_database().name
    return {"db_name": db_name, "db_url": datasette.urls.database(db_name),
            "table_url": lambda table: datasette.urls.table(db_name, table),
            "nice_date": nice_date, "mix_bar": lambda *c: Markup(mix_bar(*c)),
            "evidence": evidence_html,
            "colours": COLOURS, "settings": plugin_settings(datasette)}


async def story_page(request: Request, datasette: Datasette) -> Response:
    start, end = day_or_none(request.args.get("start")), day_or_none(request.args.get("end"))

    def gather(db: Database) -> dict:
        figures = story.headline(db)
        last = end or figures.last_date
        since = ((dt.date.fromisoformat(last) - dt.timedelta(days=LARGEST_EVENTS_DAYS)).isoformat()
                 if last else None)
        return {"figures": figures, "volume": story.volume(db, start, end),
                "latest": story.latest_events(db), "largest": story.largest_events(db, since),
                "largest_since": since}

    found = await read(datasette, gather)
    volume = found["volume"]
    chart = volume_chart(volume.rows, volume.period,
                         lambda row: articles_link(datasette, row["start"], row["end"]))
    totals = {s: sum(row[s] for row in volume.rows) for s in ("favor", "against", "neutral")}
    context = {**common_context(datasette), **found, "figures": asdict(found["figures"]),
               "chart": Markup(chart), "totals": totals, "start": start, "end": end}
    return Response.html(await datasette.render_template("story.html", context, request=request))


async def event_page(request: Request, datasette: Datasette) -> Response:
    event_id = int(request.url_vars["event_id"])
    event = await read(datasette, story.event, event_id)
    if event is None:
        raise NotFound(f"No event {event_id}")
    context = {**common_context(datasette), "event": event,
               "shown": len(event["articles"]), "limit": story.EVENT_ARTICLES_SHOWN}
    return Response.html(await datasette.render_template("event.html", context, request=request))


async def article_page(request: Request, datasette: Datasette) -> Response:
    article_id = request.url_vars["article_id"]
    article = await read(datasette, story.article, article_id)
    if article is None:
        raise NotFound(f"No article {article_id}")
    tag = article["tag"] or {}
    scores = tag.get("scores") or {}
    context = {
        **common_context(datasette), "article": article, "tag": tag,
        "headline": headline(article["title"], tag.get("evidence")),
        "text": highlight(article["text"] or "", tag.get("evidence")),
        "confidence": confidence_text(tag.get("confidence")),
        # Every label's probability (they sum to 1): relevance is 1 - unrelated.
        "scores": sorted(scores.items(), key=lambda pair: -pair[1]),
        "relevance_probability": (1 - scores["unrelated"]) if "unrelated" in scores else None,
        "labels": list(dict.fromkeys([*(plugin_settings(datasette).get("labels") or {}),
                                      "favor", "against", "neutral", "unrelated"])),
        "correct_url": f"{datasette.urls.database(datasette.get_database().name)}/correct_stance",
        "login_url": datasette.urls.path("/-/login"),
    }
    return Response.html(await datasette.render_template("article.html", context, request=request))


async def corrected(request: Request, datasette: Datasette) -> Response:
    """After a correction: the article the signed-in actor corrected last."""
    actor = (request.actor or {}).get("id")
    article_id = await read(datasette, story.last_corrected, actor) if actor else None
    target = f"/article/{urllib.parse.quote(article_id)}" if article_id else "/"
    return Response.redirect(datasette.urls.path(target))


@hookimpl
def register_routes():
    return [
        (r"^/$", story_page),
        (r"^/event/(?P<event_id>[0-9]{1,18})$", event_page),
        (r"^/article/(?P<article_id>[^/]{1,200})$", article_page),
        (r"^/-/corrected$", corrected),
    ]

"""Table pages an analyst can read (issue 14): cells that link and stay narrow.

* a headline links to its article page, an event id to its event page;
* a stance label is a coloured chip, a confidence a percentage;
* hashes, GUIDs and file paths are shortened (the whole value is the tooltip);
* an evidence passage is shown whole (not cut at Datasette's 300 characters),
  its headline set apart from the text;
* the column descriptions fold into one "Column descriptions" line above the
  data (a few lines of script; without script they stay as Datasette shows them).
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

from tracker.publish.pages import evidence_html

STANCE_COLUMNS = {"stance", "label"}
PERCENT_COLUMNS = {"confidence", "stance_confidence"}
SHORTENED_COLUMNS = {"content_hash", "guid", "path", "model_hash", "config_hash"}
# Tables and views whose rows are articles (their "id" / "article_id") or events.
ARTICLE_ROWS = {"articles": "id", "article_stance": "id", "stance_tags": "article_id",
                "corrections": "article_id", "event_articles": "article_id"}
EVENT_ROWS = {"events": "id", "timeline": "event_id"}
STANCE_VALUES = {"favor", "against", "neutral", "unrelated", "mixed"}


def _row_value(row, column: str):
    try:
        return row[column]
    except (KeyError, IndexError):
        return None


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if value is None or table is None:
        return None
    if column in STANCE_COLUMNS and value in STANCE_VALUES:
        return Markup(f'<span class="chip chip-{value}">{value}</span>')
    if column in PERCENT_COLUMNS and isinstance(value, float):
        return f"{value:.0%}"
    if column == "event_id" and isinstance(value, int):
        return Markup(f'<a href="/event/{value}">{value}</a>')
    if column == "title":
        if table in ARTICLE_ROWS and (key := _row_value(row, ARTICLE_ROWS[table])):
            return Markup(f'<a href="/article/{escape(key)}">{escape(value)}</a>')
        if table in EVENT_ROWS and (key := _row_value(row, EVENT_ROWS[table])) is not None:
            return Markup(f'<a href="/event/{escape(key)}">{escape(value)}</a>')
    if column == "evidence" and isinstance(value, str):
        return evidence_html(value, _row_value(row, "title"))
    if column in SHORTENED_COLUMNS and isinstance(value, str) and len(value) > 16:
        return Markup(f'<span title="{escape(value)}">…{escape(value[-12:])}</span>')
    return None


FOLD_COLUMN_DESCRIPTIONS = """
document.querySelectorAll('dl.column-descriptions').forEach(function (list) {
  var fold = document.createElement('details');
  fold.className = 'column-help';
  var summary = document.createElement('summary');
  summary.textContent = 'Column descriptions (' + list.querySelectorAll('dt').length + ')';
  fold.appendChild(summary);
  list.parentNode.insertBefore(fold, list);
  fold.appendChild(list);
});
"""


@hookimpl
def extra_body_script(template, database, table, columns, view_name, request, datasette):
    return FOLD_COLUMN_DESCRIPTIONS if view_name == "table" else ""

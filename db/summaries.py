"""Summary tables: article counts by stance per day, week, outlet, outlet and day,
outlet and event, and per value of the faceted columns -- kept up to date by
triggers on ``articles``.

Why triggers: every job that changes what the timeline counts -- ingest
(new articles, a changed date or outlet), tagging and re-tagging (``stance``),
the events job (``event_id``) and deletions -- writes ``articles``, so a trigger
updates the counts in the *same* transaction as the write, whichever code path
(or hand-written SQL) made it. A request then reads O(days or outlets shown)
rows instead of aggregating every article (issue 17: 0.4-1.3 s at a million
articles before).

The triggers and the statements that rebuild the tables from scratch are
generated from one declaration (:data:`SUMMARIES`), so the two cannot
disagree. :func:`ensure_summaries` runs on every open: when the declaration
changed (its hash differs from the stored one), it drops the old triggers,
rebuilds every table and creates the new triggers, in one transaction. The
tables themselves are created by migration ``0010_summaries``.

NULL keys: a summary key is never NULL (SQLite's upsert cannot match NULLs),
so an unknown outlet is stored as ``''`` and an undated article under
``date = ''`` in ``summary_outlet_daily``; the views turn them back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlite_utils import Database

# What a summary row counts; "other" labels (unsupported_language, another
# topic's) count in articles only, like the views always did.
STANCE_COUNTS = {
    "articles": "1",
    "favor": "{r}.stance is 'favor'",
    "against": "{r}.stance is 'against'",
    "neutral": "{r}.stance is 'neutral'",
    "unrelated": "{r}.stance is 'unrelated'",
    "untagged": "{r}.stance is null",
}
ARTICLE_COUNT = {"articles": "1"}
WEEK = "date({r}.published_date, 'weekday 0', '-6 days')"  # Monday of the week


@dataclass(frozen=True)
class Summary:
    """One family of summary rows: ``table`` keyed by ``keys`` (column -> expression of
    an articles row ``{r}``), counting ``counts`` over the articles where ``when`` holds.
    ``watch`` are the articles columns the row depends on."""

    name: str  # names the triggers (several summaries may share a table)
    table: str
    keys: dict[str, str]
    counts: dict[str, str]
    watch: tuple[str, ...]
    when: str = "1"

    def _exprs(self, row: str, part: dict[str, str]) -> list[str]:
        return [expr.format(r=row) for expr in part.values()]

    def add_sql(self, row: str) -> str:
        """Count the articles row ``row`` (``new``) in."""
        columns = [*self.keys, *self.counts]
        values = self._exprs(row, self.keys) + self._exprs(row, self.counts)
        sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in self.counts)
        return (f"insert into {self.table} ({', '.join(columns)}) "
                f"select {', '.join(values)} where {self.when.format(r=row)} "
                f"on conflict ({', '.join(self.keys)}) do update set {sets};")

    def remove_sql(self, row: str) -> str:
        """Count the articles row ``row`` (``old``) out; drop rows that fall to nothing."""
        match = " and ".join(f"{k} = {v}" for k, v in zip(self.keys, self._exprs(row, self.keys)))
        sets = ", ".join(f"{c} = {c} - ({expr})" for c, expr in zip(self.counts, self._exprs(row, self.counts)))
        when = self.when.format(r=row)
        return (f"update {self.table} set {sets} where {match} and {when};\n"
                f"  delete from {self.table} where {match} and {EMPTY[self.table]};")

    def triggers(self) -> dict[str, str]:
        changed = " or ".join(f"old.{c} is not new.{c}" for c in self.watch)
        return {
            f"summary_{self.name}_insert":
                f"after insert on articles begin\n  {self.add_sql('new')}\nend",
            f"summary_{self.name}_delete":
                f"after delete on articles begin\n  {self.remove_sql('old')}\nend",
            f"summary_{self.name}_update":
                f"after update of {', '.join(self.watch)} on articles when {changed} begin\n"
                f"  {self.remove_sql('old')}\n  {self.add_sql('new')}\nend",
        }

    def rebuild_select(self) -> str:
        """The rows of this summary computed from ``articles`` (for rebuilds and checks)."""
        keys = self._exprs("a", self.keys)
        counts = [f"sum({expr})" for expr in self._exprs("a", self.counts)]
        columns = [f"{e} as {c}" for e, c in zip(keys + counts, [*self.keys, *self.counts])]
        return (f"select {', '.join(columns)} from articles a where {self.when.format(r='a')} "
                f"group by {', '.join(keys)}")


OUTLET = "coalesce({r}.outlet, '')"
SUMMARIES: list[Summary] = [
    Summary("daily", "summary_daily", {"date": "{r}.published_date"}, STANCE_COUNTS,
            ("published_date", "stance"), when="{r}.published_date is not null"),
    Summary("weekly", "summary_weekly", {"week": WEEK}, STANCE_COUNTS,
            ("published_date", "stance"), when="{r}.published_date is not null"),
    Summary("outlets", "summary_outlets", {"outlet": OUTLET}, STANCE_COUNTS,
            ("outlet", "stance")),
    # Outlet x day x stance: stance by outlet within dates (the dashboard), an
    # outlet's first and last day, and facets of articles filtered by them.
    Summary("outlet_daily", "summary_outlet_daily",
            {"outlet": OUTLET, "date": "coalesce({r}.published_date, '')"}, STANCE_COUNTS,
            ("outlet", "published_date", "stance")),
    # Which events each outlet reported: summary_outlets.events counts these rows.
    Summary("outlet_events", "summary_outlet_events",
            {"outlet": OUTLET, "event_id": "{r}.event_id"}, ARTICLE_COUNT,
            ("outlet", "event_id"), when="{r}.event_id is not null"),
] + [
    # Facet counts of the articles table, whole or by stance ('' = untagged).
    Summary(f"values_{column}", "summary_values",
            {"column_name": f"'{column}'", "value": f"{{r}}.{column}",
             "stance": "coalesce({r}.stance, '')"}, ARTICLE_COUNT,
            tuple(dict.fromkeys((column, "stance"))), when=f"{{r}}.{column} is not null")
    for column in ("stance", "language", "date_source")
]

# When a row counts nothing any more (summary_outlets also counts events).
EMPTY = {"summary_outlets": "articles = 0 and events = 0"}
EMPTY.update({s.table: "articles = 0" for s in SUMMARIES if s.table not in EMPTY})

# summary_outlets.events = rows of summary_outlet_events of the outlet. Upserts,
# because SQLite does not promise in which order the triggers of one articles
# write run: the events row may come before the outlet's counts row.
OUTLET_EVENT_TRIGGERS = {
    "summary_outlet_events_count_insert": """after insert on summary_outlet_events begin
  insert into summary_outlets (outlet, events) values (new.outlet, 1)
  on conflict (outlet) do update set events = events + 1;
end""",
    "summary_outlet_events_count_delete": """after delete on summary_outlet_events begin
  update summary_outlets set events = events - 1 where outlet = old.outlet;
  delete from summary_outlets where outlet = old.outlet and articles = 0 and events = 0;
end""",
}
OUTLET_EVENTS_REBUILD = """update summary_outlets set events = (
    select count(*) from summary_outlet_events e where e.outlet = summary_outlets.outlet)"""

SUMMARY_TABLES = sorted({s.table for s in SUMMARIES})


def trigger_definitions() -> dict[str, str]:
    found: dict[str, str] = {}
    for summary in SUMMARIES:
        found.update(summary.triggers())
    found.update(OUTLET_EVENT_TRIGGERS)
    return found


def definitions_hash() -> str:
    text = "\n".join(f"{name}: {sql}" for name, sql in sorted(trigger_definitions().items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rebuild_statements() -> list[str]:
    """Recompute every summary table from ``articles`` (run with the triggers dropped)."""
    statements = [f"delete from {table}" for table in SUMMARY_TABLES]
    for summary in SUMMARIES:
        columns = ", ".join([*summary.keys, *summary.counts])
        statements.append(f"insert into {summary.table} ({columns}) {summary.rebuild_select()}")
    statements.append(OUTLET_EVENTS_REBUILD)
    return statements


def _stored_hash(db: Database) -> str | None:
    row = db.execute("select value from summary_settings where key = 'definitions_hash'").fetchone()
    return row[0] if row else None


def drop_summary_triggers(db: Database) -> None:
    existing = [row[0] for row in db.execute(
        "select name from sqlite_master where type = 'trigger' and name like 'summary\\_%' escape '\\'")]
    for name in existing:
        db.execute(f"drop trigger [{name}]")


def rebuild_summaries(db: Database) -> None:
    """Drop the summary triggers, recompute every summary table, create the triggers
    again: in the caller's transaction, so nobody sees half-built counts."""
    drop_summary_triggers(db)
    for statement in rebuild_statements():
        db.execute(statement)
    for name, body in trigger_definitions().items():
        db.execute(f"create trigger [{name}] {body}")
    db.execute("insert or replace into summary_settings (key, value) values ('definitions_hash', ?)",
               [definitions_hash()])


def ensure_summaries(db: Database) -> bool:
    """Make the triggers match :data:`SUMMARIES` (rebuilding the tables when they did not);
    cheap when nothing changed. Returns whether it rebuilt."""
    if not db["summary_settings"].exists() or _stored_hash(db) == definitions_hash():
        return False
    with db.atomic():  # BEGIN IMMEDIATE: another process may be doing the same
        if _stored_hash(db) == definitions_hash():
            return False
        rebuild_summaries(db)
    return True

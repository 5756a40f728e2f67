"""The search box of a table, bounded: ``?_search=`` matches at most the most recently
stored ``search_limit`` rows of tables that set one (``articles``: 1,000).

Why: Datasette's own search filter is ``rowid in (select rowid from <fts> where
<fts> match ...)``: every match is looked up, counted, faceted and sorted on
each page view. A common word ("icebreaker") matches a fifth of the archive --
1.3 s at a million articles (issue 17). FTS5 returns its matches in rowid
order and stops at a ``limit``, and a table's rowid grows as rows are stored,
so the most recent matches cost what a page shows, whatever the archive size.

Datasette offers no way to bound its built-in filter, so this module stands
in for it (:func:`take_over_search` swaps the two ``filters_from_request``
implementations): tables without a ``search_limit`` -- and column searches
(``_search_title=``) -- get exactly Datasette's behaviour. The limit is set per
table in ``metadata.yml``::

    tables:
      articles:
        plugins:
          tracker:
            search_limit: 1000
"""

from __future__ import annotations

import sys

from datasette import filters as datasette_filters
from datasette import hookimpl
from datasette.filters import FilterArguments
# Registered with this module in place of Datasette's module: they stay as they are.
from datasette.filters import through_filters, where_filters  # noqa: F401
from datasette.utils import escape_sqlite


def search_limit(datasette, database: str, table: str) -> int | None:
    config = datasette.plugin_config("tracker", database=database, table=table) or {}
    limit = config.get("search_limit")
    return int(limit) if limit else None


@hookimpl(specname="filters_from_request")
def search_filters(request, database, table, datasette):
    limit = search_limit(datasette, database, table)
    if not limit or "_search" not in request.args:
        return datasette_filters.search_filters(request, database, table, datasette)

    async def inner():
        table_metadata = datasette.table_metadata(database, table)
        fts_table = (request.args.get("_fts_table") or table_metadata.get("fts_table")
                     or await datasette.get_database(database).fts_table(table))
        if not fts_table:
            return FilterArguments([], extra_context={"supports_search": False})
        raw = (request.args.get("_searchmode") or table_metadata.get("searchmode")) == "raw"
        search = request.args["_search"]
        fts = escape_sqlite(fts_table)
        # The subquery's order and limit are FTS5's own (rowid order): it stops
        # after `limit` matches instead of reading them all.
        clause = (f"{escape_sqlite(table_metadata.get('fts_pk', 'rowid'))} in (select rowid from {fts} "
                  f"where {fts} match {':search' if raw else 'escape_fts(:search)'} "
                  f"order by rowid desc limit {limit})")
        return FilterArguments(
            [clause], {"search": search},
            [f'search matches "{search}" (the {limit:,} most recently stored matches at most)'],
            {"supports_search": True, "search": search})

    return inner


def take_over_search(pm) -> None:
    """Replace Datasette's default ``filters_from_request`` module by one with the same
    ``_where`` and ``_through`` filters and this module's search filter."""
    if not pm.is_registered(datasette_filters):
        return  # done already (one plugin manager per process)
    pm.unregister(datasette_filters)
    pm.register(sys.modules[__name__], name="tracker.search")

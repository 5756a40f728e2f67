"""A facet type counted from the summary tables: ``summary`` (``facets: [{summary: stance}]``).

Datasette's column facet counts every matching row of the table on each page
view: five facets of ``articles`` took ~0.5 s at a million articles. The
summary facet asks :func:`tracker.store.summaries.summary_facet` first, which
answers from the summary tables for the whole table and for exact filters on
``stance``, ``outlet`` and ``published_date`` (what clicking a facet value
adds); for anything else (a search, another filter) it counts like the column
facet, within Datasette's facet time limit.
"""

from __future__ import annotations

from datasette import hookimpl
from datasette.facets import ColumnFacet
from datasette.utils import path_with_added_args, path_with_removed_args
from sqlite_utils import Database

from tracker.store.summaries import summary_facet

# The table the summaries count (and a view with one row per article whose
# stance, outlet and published_date are the article's), and query-string
# arguments that do not change which rows a page counts.
SUMMARISED_TABLES = {"articles", "article_stance"}
NEUTRAL_ARGS = {"_sort", "_sort_desc", "_next", "_size", "_facet", "_facet_size", "_shape",
                "_labels", "_label", "_nocount", "_nofacet", "_nosuggest", "_col", "_nocol",
                "_json", "_trace", "_timelimit", "_extra", "_facet_date", "_facet_array",
                "_facet_summary"}


class SummaryFacet(ColumnFacet):
    type = "summary"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._configs: list | None = None

    def get_configs(self):
        return self._configs if self._configs is not None else super().get_configs()

    def _exact_filters(self) -> dict[str, str] | None:
        """The request's filters as ``column -> value`` if all are plain exact matches
        and nothing else narrows the rows; else None."""
        if self.table not in SUMMARISED_TABLES:
            return None
        filters: dict[str, str] = {}
        for key, value in self.get_querystring_pairs():
            if key.startswith("_"):
                if key not in NEUTRAL_ARGS:
                    return None  # _search, _where, _through...
            elif "__" in key or key in filters:
                return None
            else:
                filters[key] = value
        return filters

    async def facet_results(self):
        filters = self._exact_filters()
        size = self.get_facet_size()
        results, fallback = [], []
        for source_and_config in self.get_configs():
            column = source_and_config["config"].get("column") or source_and_config["config"]["simple"]
            counts = None
            if filters is not None:
                counts = await self.ds.get_database(self.database).execute_fn(
                    lambda conn, column=column: summary_facet(Database(conn), column, filters,
                                                              size + 1))
            if counts is None:
                fallback.append(source_and_config)
            else:
                results.append(self._facet(column, source_and_config["source"], counts, size))
        timed_out = []
        if fallback:
            self._configs = fallback
            counted, timed_out = await super().facet_results()
            results += counted
        return results, timed_out

    def _facet(self, column: str, source: str, counts: list[tuple], size: int) -> dict:
        """The same shape as Datasette's column facet results."""
        pairs = self.get_querystring_pairs()
        values = []
        for value, count in counts[:size]:
            selected = (column, str(value)) in pairs
            toggle = (path_with_removed_args(self.request, {column: str(value)}) if selected
                      else path_with_added_args(self.request, {column: value}))
            values.append({"value": value, "label": value, "count": count, "selected": selected,
                           "toggle_url": self.ds.absolute_url(self.request,
                                                              self.ds.urls.path(toggle))})
        return {"name": column, "type": self.type, "hideable": source != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(self.request,
                                                                       {"_facet": column})),
                "results": values, "truncated": len(counts) > size}


@hookimpl
def register_facet_classes():
    return [SummaryFacet]

"""Datasette facets for the archive: articles by month, and canonical versus duplicate.

Datasette 0.65 facets a date column by day only, and facets a column by its distinct
values; a month facet and a two-valued duplicate-status facet need their own classes.
Configured in datasette.yml as ``{month: published}`` and ``{status: duplicate_of}``, or
asked for with ``?_facet_month=published`` and ``?_facet_status=duplicate_of``.
"""

# No `from __future__ import annotations`: Datasette loads plugins/ files without registering
# them in sys.modules, where dataclasses look up string annotations.
from typing import Any

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import Facet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

# The label of each duplicate status and the column filter that selects it.
STATUS_FILTERS = {"canonical": "__isnull", "duplicate": "__notnull"}


class MonthFacet(Facet):
    """Counts rows by the year and month (YYYY-MM) of an ISO 8601 date column."""

    type = "month"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        """One facet per configured column: months, newest first, with counts."""
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        pairs = self.get_querystring_pairs()
        size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            col = escape_sqlite(column)
            sql = f"""
                select substr({col}, 1, 7) as value, count(*) as count from ({self.sql})
                where {col} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]*'
                group by value order by value desc limit {size + 1}
            """
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            key = f"{column}__startswith"
            values = []
            for row in rows.rows[:size]:
                month = str(row["value"])
                selected = (key, month) in pairs
                change = path_with_removed_args if selected else path_with_added_args
                values.append(
                    {
                        "value": month,
                        "label": month,
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, self.ds.urls.path(change(self.request, {key: month}))
                        ),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_facet_month": column})
                    ),
                    "truncated": len(rows.rows) > size,
                }
            )
        return results, timed_out


class StatusFacet(Facet):
    """Splits rows into canonical (the column is empty) and duplicate (it names a copy)."""

    type = "status"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        """One facet per configured column with the two statuses and their counts."""
        results: list[dict[str, Any]] = []
        timed_out: list[str] = []
        pairs = self.get_querystring_pairs()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            col = escape_sqlite(column)
            sql = f"""
                select case when {col} is null then 'canonical'
                  else 'duplicate' end as value, count(*) as count
                from ({self.sql}) group by value order by value
            """
            try:
                rows = await self.ds.execute(
                    self.database,
                    sql,
                    self.params,
                    truncate=False,
                    custom_time_limit=self.ds.setting("facet_time_limit_ms"),
                )
            except QueryInterrupted:
                timed_out.append(column)
                continue
            values = []
            for row in rows.rows:
                key = column + STATUS_FILTERS[row["value"]]
                selected = (key, "1") in pairs
                change = path_with_removed_args if selected else path_with_added_args
                values.append(
                    {
                        "value": row["value"],
                        "label": row["value"],
                        "count": row["count"],
                        "toggle_url": self.ds.absolute_url(
                            self.request, self.ds.urls.path(change(self.request, {key: "1"}))
                        ),
                        "selected": selected,
                    }
                )
            results.append(
                {
                    "name": column,
                    "type": self.type,
                    "results": values,
                    "hideable": source_and_config["source"] != "metadata",
                    "toggle_url": self.ds.urls.path(
                        path_with_removed_args(self.request, {"_facet_status": column})
                    ),
                    "truncated": False,
                }
            )
        return results, timed_out


@hookimpl
def register_facet_classes() -> list[type[Facet]]:
    """The archive's extra facet types."""
    return [MonthFacet, StatusFacet]

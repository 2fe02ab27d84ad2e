"""The archive's Atom feed (the ``feed`` canned query, rendered by datasette-atom) when empty.

datasette-atom 0.9 dates a feed by its newest entry and fails (an error 500) on a feed with
none, as a new or emptied archive has. Its renderer is wrapped at startup: an empty result
is a valid Atom feed with no entries, anything else goes to datasette-atom unchanged.
"""

# No `from __future__ import annotations`: Datasette loads plugins/ files without registering
# them in sys.modules.
import datetime
from collections.abc import Callable
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

FEED_EXTENSION = "atom"


@hookimpl
def startup(datasette: Any) -> None:
    """Wrap the Atom renderer (registered by then) so that an empty result renders too."""
    found = datasette.renderers.get(FEED_EXTENSION)
    if found is not None:
        render, can_render = found
        datasette.renderers[FEED_EXTENSION] = (_even_when_empty(render), can_render)


def _even_when_empty(render: Callable[..., Any]) -> Callable[..., Any]:
    # Datasette passes a renderer the arguments its signature names: this one names them
    # all, and hands them on as they came.
    def render_atom(
        datasette: Any,
        request: Any,
        sql: str,
        columns: list[str],
        rows: list[Any],
        database: str,
        table: str | None,
        query_name: str | None,
        view_name: str,
        data: dict[str, Any],
    ) -> Any:
        if rows:
            return render(
                datasette=datasette, request=request, sql=sql, columns=columns, rows=rows,
                database=database, table=table, query_name=query_name, view_name=view_name,
                data=data,
            )  # fmt: skip
        return empty_feed(datasette, request, database, query_name)

    return render_atom


def empty_feed(datasette: Any, request: Any, database: str, query_name: str | None) -> Any:
    """A valid Atom feed without entries, titled as the canned query is."""
    from feedgen.feed import FeedGenerator

    queries = (datasette.metadata(database=database) or {}).get("queries") or {}
    title = (queries.get(query_name) or {}).get("title") if query_name else None
    feed = FeedGenerator()
    feed.id(request.url)
    feed.link(href=request.url, rel="self")
    feed.title(title or "Empty feed")
    feed.updated(datetime.datetime.now(datetime.UTC))
    return Response(
        feed.atom_str(pretty=True),
        content_type="application/xml; charset=utf-8",
        status=200,
    )

"""Datasette pages for reading the archive.

An article's row page (templates/row-archive-articles.html) gets the article as
paragraphs, its story (the canonical copy and the other copies) and the lines stripped
from it. Titles in canned queries and in the stories view link to the article's page.
Every value reaches the page through Jinja's autoescaping: stored text is shown, never run.
"""

# No `from __future__ import annotations`: Datasette loads plugins/ files without registering
# them in sys.modules, where dataclasses look up string annotations.
import re
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from datasette import hookimpl
from datasette.utils import tilde_encode, urlsafe_components
from markupsafe import Markup, escape

ARTICLES = "articles"
# Views and query results whose rows are articles: a title there links to the article.
ARTICLE_ROW_TABLES = {None, "stories"}
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class StoryCopy:
    """Another article of the same story, as linked from an article's page."""

    id: str
    title: str | None
    published: str | None
    source: str | None
    site: str | None
    similarity: float | None
    canonical: bool
    url: str


@dataclass(frozen=True)
class RemovedLine:
    """A line stripped from the raw page, with the reason it was judged chrome."""

    line_no: int
    reason: str
    text: str
    stage: str = "text"  # "html": an element removed from the source (line_no of the source)

    @property
    def where(self) -> str:
        """Where line_no counts: the page's HTML source, or its text."""
        return "HTML source" if self.stage == "html" else "text"


@dataclass(frozen=True)
class ArticlePage:
    """Everything the article page shows besides Datasette's own row context."""

    id: str
    title: str | None
    paragraphs: tuple[str, ...]
    fields: dict[str, Any]
    is_duplicate: bool
    story_id: str
    story_url: str
    copies: tuple[StoryCopy, ...]
    removed: tuple[RemovedLine, ...]
    removed_by_reason: tuple[tuple[str, int], ...]
    removed_url: str
    removed_table_url: str


def paragraphs_of(text: str | None) -> tuple[str, ...]:
    """The paragraphs of a clean text, which separates them by blank lines."""
    if not text:
        return ()
    return tuple(p.strip() for p in PARAGRAPH_BREAK.split(text) if p.strip())


async def load_article_page(datasette: Any, database: str, article_id: str) -> ArticlePage | None:
    """Read one article with its story and removed lines; None when it does not exist."""
    db = datasette.get_database(database)
    found = await db.execute("select * from articles where id = ?", [article_id])
    row = found.first()
    if row is None:
        return None
    fields = dict(zip(found.columns, row, strict=True))
    story_id = fields.get("duplicate_of") or article_id
    members = await db.execute(
        "select id, title, published, source, site, similarity, duplicate_of is null as canonical"
        " from articles where (id = :story or duplicate_of = :story) and id != :id"
        " order by canonical desc, published, source",
        {"story": story_id, "id": article_id},
    )
    copies = tuple(
        StoryCopy(
            id=m["id"],
            title=m["title"],
            published=m["published"],
            source=m["source"],
            site=m["site"],
            similarity=m["similarity"],
            canonical=bool(m["canonical"]),
            url=datasette.urls.row(database, ARTICLES, tilde_encode(m["id"])),
        )
        for m in members.rows
    )
    # The elements removed from the HTML source first, then the lines of the text: each
    # in its own order, as their line numbers count lines of one or the other.
    removed_rows = await db.execute(
        """select line_no, reason, text, stage from removed_lines where article_id = ?
           order by stage = 'text', line_no""",
        [article_id],
    )
    removed = tuple(
        RemovedLine(r["line_no"], r["reason"], r["text"], r["stage"]) for r in removed_rows.rows
    )
    by_reason = Counter(line.reason for line in removed)
    query = urllib.parse.urlencode({"article_id": article_id})
    return ArticlePage(
        id=article_id,
        title=fields.get("title"),
        paragraphs=paragraphs_of(fields.get("text")),
        fields=fields,
        is_duplicate=fields.get("duplicate_of") is not None,
        story_id=story_id,
        story_url=datasette.urls.table(database, "stories")
        + "?"
        + urllib.parse.urlencode({"id": story_id}),
        copies=copies,
        removed=removed,
        removed_by_reason=tuple(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        removed_url=datasette.urls.query(database, "removed_from_article") + "?" + query,
        removed_table_url=datasette.urls.table(database, "removed_lines") + "?" + query,
    )


@hookimpl
def extra_template_vars(
    database: str | None, table: str | None, view_name: str, request: Any, datasette: Any
) -> Any:
    """On an article's row page, add ``article_page`` for the reading template."""
    if view_name != "row" or table != ARTICLES or request is None or database is None:
        return {}

    async def article_vars() -> dict[str, Any]:
        pks = urlsafe_components(request.url_vars["pks"])
        if len(pks) != 1:
            return {}
        return {"article_page": await load_article_page(datasette, database, pks[0])}

    return article_vars


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Any:
    """Link an article's title to its page in query results and the stories view."""
    if column != "title" or table not in ARTICLE_ROW_TABLES or not isinstance(value, str):
        return None
    try:
        article_id = row["id"]
    except (IndexError, KeyError):
        return None
    if not isinstance(article_id, str):
        return None
    url = datasette.urls.row(database, ARTICLES, tilde_encode(article_id))
    return Markup('<a class="article-title" href="{}">{}</a>').format(url, escape(value))


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Fix two things in the articles table's query string before Datasette reads it.

    A search with no word in it (a lone quote) is dropped, as the empty box is:
    Datasette's escaped search mode turns ``"`` into an empty FTS query, which SQLite
    refuses. And the first page of a sorted list is asked for as the pages after it are
    (see :func:`_first_page_in_order`).
    """

    def wrap(app: Any) -> Any:
        async def fixed_query(scope: dict, receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                query = scope.get("query_string", b"").decode("latin-1")
                pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
                fixed = [(k, v) for k, v in pairs if not _search_without_words(k, v)]
                fixed = _first_page_in_order(scope.get("path", ""), fixed)
                if fixed != pairs:
                    encoded = urllib.parse.urlencode(fixed).encode("latin-1")
                    scope = {**scope, "query_string": encoded}
            await app(scope, receive, send)

        return fixed_query

    return wrap


ARTICLES_TABLE = re.compile(r"^/[^/]+/articles(\.json|\.csv)?$")
# Sorts after any text, number or date a column holds (SQLite orders numbers before text).
AFTER_EVERY_VALUE = "\U0010ffff"
# Datasette's cursor for "after the nulls": in an ascending sort, nulls come first.
AFTER_NULLS = "$null"


def _first_page_in_order(path: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The articles list's first page, in whatever order, asked for as a later page.

    Datasette 0.65 orders the first page by the sort column alone, and the pages after it
    by the column and then the id: articles of one date (or source, or none) come in
    another order on the first page than the next page expects, and some are listed
    twice while others never are. A `_next` that every row passes (after every value in
    a descending sort, after the nulls in an ascending one, and any id) gives the first
    page the pages' own order. A CSV stream, which pages itself and takes no `_next`,
    goes by id: every article once.
    """
    if not ARTICLES_TABLE.match(path):
        return pairs
    args = dict(pairs)
    if args.get("_stream"):
        kept = [(k, v) for k, v in pairs if k not in ("_next", "_sort", "_sort_desc")]
        return [*kept, ("_sort", "id")]
    if "_next" in args or args.get("_sort") == "id":
        return pairs
    # Newest first unless asked otherwise: datasette.yml sorts the table by published, desc.
    after = AFTER_NULLS if args.get("_sort") else AFTER_EVERY_VALUE
    return [*pairs, ("_next", after + ",")]


def _search_without_words(name: str, value: str) -> bool:
    return (name == "_search" or name.startswith("_search_")) and not any(
        ch.isalnum() for ch in value
    )

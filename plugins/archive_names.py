"""The archive's Datasette configuration under any file name, not only archive.db.

Datasette names a database after its file, and datasette.yml and the templates are
written for ``archive`` (``databases: archive:``, ``row-archive-articles.html``). An
archive kept as ``news.db`` (``make serve DB=news.db``) gets the same descriptions,
facets, canned queries and pages: the configuration is given to every database served,
and a template asked for another database's articles is the archive's.
"""

import re
from typing import Any

from datasette import hookimpl
from jinja2 import BaseLoader, ChoiceLoader, Environment, TemplateNotFound

CONFIGURED = "archive"
# Datasette's own databases, which hold no archive.
INTERNAL = {"_internal", "_memory"}
ARTICLES_TEMPLATE = re.compile(r"^(?P<kind>row|table|_table-table)-(?P<db>.+)-articles\.html$")


@hookimpl
def get_metadata(datasette: Any, key: str, database: str | None, table: str | None) -> dict:
    """datasette.yml's settings of the archive, for every other database served too."""
    # The configuration as loaded, not datasette.metadata(): that asks this hook again.
    local = getattr(datasette, "_metadata_local", None) or {}
    archive = (local.get("databases") or {}).get(CONFIGURED)
    if not archive:
        return {}
    names = [name for name in datasette.databases if name not in INTERNAL | {CONFIGURED}]
    return {"databases": dict.fromkeys(names, archive)}


class _ArchiveTemplates(BaseLoader):
    """Finds the archive's template for another database's articles pages."""

    def __init__(self, loader: BaseLoader) -> None:
        self.loader = loader

    def get_source(self, environment: Environment, template: str) -> Any:
        named = ARTICLES_TEMPLATE.match(template)
        if not named or named.group("db") == CONFIGURED:
            raise TemplateNotFound(template)
        return self.loader.get_source(
            environment, f"{named.group('kind')}-{CONFIGURED}-articles.html"
        )

    def list_templates(self) -> list[str]:
        """None of its own: it only finds the archive's under other names."""
        return []


@hookimpl
def prepare_jinja2_environment(env: Environment, datasette: Any) -> None:
    """Let the archive's templates serve an archive of any file name."""
    if env.loader is not None:
        env.loader = ChoiceLoader([env.loader, _ArchiveTemplates(env.loader)])

"""archiver: strip chrome from news pages and archive each story once, in SQLite.

The public API::

    import archiver
    article = archiver.clean(open("page.txt", "rb").read())
    summary = archiver.ingest(["raw/"], db="archive.db", clean_dir="clean")
    changes = archiver.reprocess(db="archive.db", clean_dir="clean")
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from .models import EXTRACTOR_VERSION, Article, InputError, Metadata, RawDoc, RemovedLine

if TYPE_CHECKING:
    from .pipeline import IngestSummary, clean, ingest
    from .reprocessing import ReprocessSummary, reprocess

# Imported on first use: the command line starts (and a Ctrl-C can stop it quietly, see
# archiver.__main__) before the extraction and storage modules are loaded.
_LAZY = {
    "IngestSummary": "pipeline",
    "clean": "pipeline",
    "ingest": "pipeline",
    "ReprocessSummary": "reprocessing",
    "reprocess": "reprocessing",
}


def __getattr__(name: str) -> Any:
    """The public functions and classes of the pipeline, imported when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        # A submodule (archiver.store, say), as when this package imported them all.
        if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EXTRACTOR_VERSION",
    "Article",
    "IngestSummary",
    "InputError",
    "Metadata",
    "RawDoc",
    "RemovedLine",
    "ReprocessSummary",
    "clean",
    "ingest",
    "reprocess",
]

"""archiver: strip chrome from news pages and archive each story once, in SQLite.

The public API::

    import archiver
    article = archiver.clean(open("page.txt", "rb").read())
    summary = archiver.ingest(["raw/"], db="archive.db", clean_dir="clean")
    changes = archiver.reprocess(db="archive.db", clean_dir="clean")
"""

from .models import EXTRACTOR_VERSION, Article, InputError, Metadata, RawDoc, RemovedLine
from .pipeline import IngestSummary, clean, ingest
from .reprocessing import ReprocessSummary, reprocess

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

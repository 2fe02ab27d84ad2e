"""Compose the stages: read, decode, strip chrome, extract metadata, store.

The pipeline streams: files are read one at a time and each file's outcome is
stored before the next is read, so memory does not grow with the corpus.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import dedupe, sources, store, warc
from .chrome import strip_chrome
from .meta import extract_metadata
from .models import EXTRACTOR_VERSION, Article, InputError, RawDoc, article_id

OK, UNCHANGED, FAILED = "ok", "unchanged", "failed"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one raw input: its raw_files record and its articles."""

    record: store.RawFileRecord
    articles: tuple[Article, ...]
    warnings: tuple[str, ...] = ()
    # Records of a capture that failed, each stored as its own raw_files row.
    record_failures: tuple[store.RawFileRecord, ...] = ()

    @property
    def status(self) -> str:
        """ok, unchanged or failed."""
        return self.record.status


@dataclass(frozen=True)
class IngestSummary:
    """Counts of one ingest run."""

    ingested: int
    unchanged: int
    failed: int
    articles: int

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        return (
            f"{self.ingested} ingested, {self.unchanged} unchanged, {self.failed} failed "
            f"({self.articles} articles stored)"
        )


def article_from_doc(doc: RawDoc) -> Article:
    """Strip chrome from one decoded document and collect its metadata into an Article."""
    page = strip_chrome(doc.text)
    if not page.body:
        raise InputError("no article text found")
    meta = extract_metadata(page)
    return Article(
        id=article_id(doc.doc_key),
        raw_path=doc.path,
        raw_sha256=doc.sha256,
        title=meta.title,
        text=page.text,
        published=meta.published,
        source=meta.source,
        dateline=meta.dateline,
        author=meta.author,
        language=meta.language,
        removed=page.removed,
        url=doc.url,
    )


def articles_from_bytes(path: str, data: bytes, max_bytes: int) -> tuple[RawDoc, list[Article]]:
    """Decode one raw input and build its articles; raises InputError for bad input."""
    doc = sources.decode_raw(path, data, max_bytes)
    if doc.format == "html":
        from .html import article_from_html

        return doc, [article_from_html(doc)]
    return doc, [article_from_doc(doc)]


def clean(raw: str | bytes, path: str = "<input>") -> Article:
    """Clean one raw page given as text or bytes (no database); raises InputError."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return articles_from_bytes(path, data, sources.DEFAULT_MAX_BYTES)[1][0]


def process_file(
    path: Path,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    known: Callable[[str], tuple[str | None, str | None]] | None = None,
) -> FileOutcome:
    """Read, decode and clean one raw file; never raises for bad input.

    ``known(path)`` gives the sha256 and extractor version stored for the path, so
    an unchanged file is recognised without being cleaned again.
    """
    name = str(path)
    sha256 = size = None
    try:
        if warc.is_capture(path):
            return process_capture(path, max_bytes, known)
        data = sources.read_bytes(path, max_bytes)
        sha256, size = hashlib.sha256(data).hexdigest(), len(data)
        if known is not None and known(name) == (sha256, EXTRACTOR_VERSION):
            record = store.RawFileRecord(
                name, sha256, size, None, None, UNCHANGED, None, 0, EXTRACTOR_VERSION
            )
            return FileOutcome(record, ())
        doc, articles = articles_from_bytes(name, data, max_bytes)
    except InputError as exc:
        return _failure(name, sha256, size, str(exc))
    except RecursionError:
        return _failure(name, sha256, size, "document nested too deeply to parse")
    except MemoryError:
        return _failure(name, sha256, size, "out of memory while parsing")
    except Exception as exc:  # a bug must cost one file, not the run
        return _failure(name, sha256, size, f"internal error: {type(exc).__name__}: {exc}")
    record = store.RawFileRecord(
        name, sha256, size, doc.format, doc.encoding, OK, None, len(articles), EXTRACTOR_VERSION
    )
    return FileOutcome(record, tuple(articles), doc.warnings)


def process_capture(
    path: Path,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    known: Callable[[str], tuple[str | None, str | None]] | None = None,
) -> FileOutcome:
    """Clean every HTML response record of a WARC or ARC capture into an article."""
    from .html import article_from_html

    name = str(path)
    sha256, size = warc.file_sha256(path)
    if known is not None and known(name) == (sha256, EXTRACTOR_VERSION):
        unchanged = store.RawFileRecord(
            name, sha256, size, "warc", None, UNCHANGED, None, 0, EXTRACTOR_VERSION
        )
        return FileOutcome(unchanged, ())
    articles: list[Article] = []
    failures: list[store.RawFileRecord] = []
    warnings: list[str] = []
    skipped = 0
    for item in warc.iter_records(path, sha256, max_bytes):
        if isinstance(item, warc.Skipped):
            skipped += 1
            continue
        error = item.error if isinstance(item, warc.RecordFailure) else None
        if isinstance(item, RawDoc):
            try:
                articles.append(article_from_html(item))
                warnings += [f"{item.url}: {w}" for w in item.warnings]
            except InputError as exc:
                error = str(exc)
            except Exception as exc:  # a bug must cost one record, not the capture
                error = f"internal error: {type(exc).__name__}: {exc}"
        if error is not None:
            key = item.record if isinstance(item, RawDoc) else item.key
            failures.append(
                store.RawFileRecord(
                    f"{name}#{key}",
                    None,
                    None,
                    "warc-record",
                    None,
                    FAILED,
                    f"{item.url or 'record'}: {error}",
                    0,
                    EXTRACTOR_VERSION,
                )
            )
    status, error = OK, None
    if failures and not articles:
        status, error = FAILED, f"no page could be read ({failures[0].error})"
    elif failures:
        error = f"{len(failures)} record(s) failed"
    record = store.RawFileRecord(
        name, sha256, size, "warc", None, status, error, len(articles), EXTRACTOR_VERSION, skipped
    )
    return FileOutcome(record, tuple(articles), tuple(warnings), tuple(failures))


def _failure(path: str, sha256: str | None, size: int | None, error: str) -> FileOutcome:
    record = store.RawFileRecord(
        path, sha256, size, None, None, FAILED, error, 0, EXTRACTOR_VERSION
    )
    return FileOutcome(record, ())


def iter_ingest(
    paths: Iterable[str | os.PathLike[str]],
    db_path: str | os.PathLike[str],
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
) -> Iterator[FileOutcome]:
    """Ingest files and folders into the archive, yielding each file's outcome once stored."""
    db = store.open_db(db_path)
    folder = Path(clean_dir) if clean_dir is not None else None
    try:
        for path in sources.iter_raw_files(paths):
            outcome = process_file(path, max_bytes, known=lambda p: store.stored_sha256(db, p))
            if outcome.status == OK:
                store.save_articles(db, outcome.record, outcome.articles, folder)
                dedupe.after_save(db, outcome.record.path, outcome.articles, folder)
            elif outcome.status == FAILED:
                # A file that fails now keeps the articles an earlier run stored from it.
                store.save_raw_file(db, outcome.record)
            for failure in outcome.record_failures:
                store.save_raw_file(db, failure)
            yield outcome
    finally:
        db.close()


def summarise(outcomes: Iterable[FileOutcome]) -> IngestSummary:
    """Count the outcomes of a run."""
    counts = {OK: 0, UNCHANGED: 0, FAILED: 0}
    articles = 0
    for outcome in outcomes:
        counts[outcome.status] += 1
        counts[FAILED] += len(outcome.record_failures)
        articles += len(outcome.articles)
    return IngestSummary(counts[OK], counts[UNCHANGED], counts[FAILED], articles)


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: str | os.PathLike[str] = "archive.db",
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
) -> IngestSummary:
    """Ingest files and folders into the archive and return the run's counts."""
    return summarise(iter_ingest(paths, db, clean_dir, max_bytes))

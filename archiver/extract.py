"""Extraction of one raw input: what a worker does with a file, reading included.

A file is read, decoded, stripped of its chrome and given its metadata, and comes back
as a :class:`FileOutcome` (its raw_files record and its articles), never as an
exception for bad input: a worker's one file must not end the run. Storing is the
writer's (:mod:`archiver.pipeline`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import sources, store, warc
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
        body_lines=tuple(line.no for line in page.body),
    )


def articles_from_bytes(path: str, data: bytes, max_bytes: int) -> tuple[RawDoc, list[Article]]:
    """Decode one raw input and build its articles; raises InputError for bad input."""
    doc = sources.decode_raw(path, data, max_bytes)
    if doc.format == "html":
        from .html import article_from_html

        return doc, [article_from_html(doc)]
    return doc, [article_from_doc(doc)]


def clean(raw: str | bytes, path: str = "<input>") -> Article:
    """Clean one raw page given as text or bytes (no database); raises InputError.

    The bytes of a WARC capture of one page give that page. A TypeError says what to
    give instead of a file's path or an open file.
    """
    if isinstance(raw, str):
        if sources.names_a_file(raw):
            raise TypeError(
                f"clean() takes a page's text or bytes, and {raw!r} is a file's name: "
                "clean(Path(name).read_bytes())"
            )
        # surrogatepass: a lone surrogate becomes undecodable bytes, read as U+FFFD.
        data = raw.encode("utf-8", "surrogatepass")
    elif isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
    else:
        raise TypeError(
            f"clean() takes a page's text or bytes, not {type(raw).__name__}: for a file, "
            "clean(Path(name).read_bytes())"
        )
    if warc.is_capture_data(data):
        return _page_of_capture(data, path)
    return articles_from_bytes(path, data, sources.DEFAULT_MAX_BYTES)[1][0]


def _page_of_capture(data: bytes, name: str) -> Article:
    """The one page of a capture given as bytes; InputError for none or several."""
    with tempfile.TemporaryDirectory() as folder:
        capture = Path(folder, "capture.warc")
        capture.write_bytes(data)
        outcome = process_capture(capture, named_as=Path(name))
    if outcome.status == FAILED:
        raise InputError(str(outcome.record.error))
    if len(outcome.articles) == 1:
        return outcome.articles[0]
    if not outcome.articles:
        raise InputError(outcome.warnings[0] if outcome.warnings else "no HTML page in it")
    raise InputError(
        f"a capture of {len(outcome.articles)} pages, and clean() gives one: "
        "`archiver clean FILE` prints them all, `archiver ingest FILE` stores them"
    )


def process_file(
    path: Path,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    known: Callable[[str], tuple[str | None, str | None]] | None = None,
    named_as: Path | None = None,
    data: bytes | None = None,
) -> FileOutcome:
    """Read, decode and clean one raw file; never raises for bad input.

    ``known(path)`` gives the sha256 and extractor version stored for the path, so
    an unchanged file is recognised without being cleaned again. ``named_as`` is the
    path the archive knows the file by, when it is read by another spelling of it.
    ``data`` is the input's bytes when they were read already (from standard input):
    a page or a text dump, not a capture.
    """
    # A name that is not UTF-8 fails, stored escaped. The name is checked, not the path
    # read: a Dask worker may read it under a working folder whose own name is not UTF-8.
    named = path if named_as is None else named_as
    name = sources.path_text(named)
    sha256 = size = None
    try:
        if data is None:
            sources.check_name(named)
            data = warc.read_unless_capture(path, max_bytes)
            if data is None:
                return process_capture(path, max_bytes, known, named_as)
        elif len(data) > max_bytes:
            raise InputError(f"input too large (over {sources.size_text(max_bytes)})")
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
    named_as: Path | None = None,
) -> FileOutcome:
    """Clean every HTML response record of a WARC or ARC capture into an article."""
    from .html import article_from_html

    name = str(path if named_as is None else named_as)
    sha256, size = warc.file_sha256(path)
    if known is not None and known(name) == (sha256, EXTRACTOR_VERSION):
        unchanged = store.RawFileRecord(
            name, sha256, size, "warc", None, UNCHANGED, None, 0, EXTRACTOR_VERSION
        )
        return FileOutcome(unchanged, ())
    articles: list[Article] = []
    failures: list[store.RawFileRecord] = []
    warnings: list[str] = []
    skipped: Counter[str] = Counter()
    for item in warc.iter_records(path, sha256, max_bytes, named_as):
        if isinstance(item, warc.Skipped):
            skipped[item.why] += 1
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
    elif not articles:
        # Stored as read (nothing in it is a page), but said: the user expected pages.
        warnings.append(f"no HTML page in this capture ({warc.skipped_records(skipped)})")
    record = store.RawFileRecord(
        name,
        sha256,
        size,
        "warc",
        None,
        status,
        error,
        len(articles),
        EXTRACTOR_VERSION,
        sum(skipped.values()),
    )
    return FileOutcome(record, tuple(articles), tuple(warnings), tuple(failures))


def _failure(path: str, sha256: str | None, size: int | None, error: str) -> FileOutcome:
    record = store.RawFileRecord(
        path, sha256, size, None, None, FAILED, error, 0, EXTRACTOR_VERSION
    )
    return FileOutcome(record, ())


def extract_task(
    path: str, known: tuple[str | None, str | None], max_bytes: int, folder: str | None = None
) -> FileOutcome:
    """One unit of work for a worker: clean one raw file, given what the archive holds of it.

    ``folder`` is the ingest's working folder, which a relative path is read from: a Dask
    worker runs in a folder of its own (or on another machine). The archive keeps the
    path as given, so a local run and a distributed one store the same.
    """
    read = Path(folder or "", path)  # Path("", path) is the path itself
    return process_file(read, max_bytes, known=lambda _: known, named_as=Path(path))


WORKER_DIED = (
    "the worker process reading this file died, twice (out of memory, or a crash in a "
    "parser); the other files went on"
)


def task_bytes(
    path: str, known: tuple[str | None, str | None], max_bytes: int, folder: str | None = None
) -> int:
    """The size of a task's raw file, what its extraction costs grows with (0 if unknown)."""
    try:
        # A capture is read whole, whatever max_bytes says.
        return os.stat(Path(folder or "", path)).st_size
    except (OSError, ValueError):
        return 0


def crashed_task(
    path: str, known: tuple[str | None, str | None], max_bytes: int, folder: str | None = None
) -> FileOutcome:
    """The outcome of a raw file that killed the worker process reading it, twice."""
    return _failure(sources.path_text(path), None, None, WORKER_DIED)

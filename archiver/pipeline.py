"""Compose the stages: read, decode, strip chrome, extract metadata, store.

The pipeline streams: files are read one at a time and each file's outcome is
stored before the next is read, so memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from . import cleanfiles, dedupe, sources, store, warc
from . import workers as workers_module
from .chrome import strip_chrome
from .meta import extract_metadata
from .models import EXTRACTOR_VERSION, Article, InputError, RawDoc, article_id, counted

T = TypeVar("T")
LOGGER = logging.getLogger(__name__)

OK, UNCHANGED, FAILED = "ok", "unchanged", "failed"

# A batch commits after this many files or seconds, whichever comes first: large
# enough to amortise the commit, small enough to hold the write lock briefly.
BATCH_FILES = 200
BATCH_SECONDS = 2.0
#: The writer takes the workers' outcomes in groups of this many files and prepares each
#: group's deduplication in one go (see dedupe.prepare); at most the pool's window of
#: tasks in flight, so that the workers stay busy meanwhile.
PREPARE_FILES = 16


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
            f"({counted(self.articles, 'article')} stored)"
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
            if warc.is_capture(path):
                return process_capture(path, max_bytes, known, named_as)
            data = sources.read_bytes(path, max_bytes)
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


class ArchiveWriter:
    """The one writer: stores outcomes in batched transactions; clean/ follows each commit.

    A batch is replay-safe: its raw files are marked ingested in the same transaction
    as their articles, so after a crash the files of an uncommitted batch are simply
    ingested again, and clean files are written only for committed rows (on a thread,
    see :class:`cleanfiles.CleanFileWriter`, while the next batch is stored).
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        clean_dir: Path | None,
        batch_files: int = BATCH_FILES,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.db, self.clean_dir = db, clean_dir
        self.batch_files, self.batch_seconds = batch_files, batch_seconds
        self._pending = 0
        self._started = 0.0
        self.files = cleanfiles.start_writer(db, clean_dir)  # None: clean files written here
        self._closed = False
        # Files stored as copies of a file the archive holds under another path.
        self.copied_files = 0
        #: A Ctrl-C came while a file was stored: raised by :meth:`raise_if_interrupted`.
        self.interrupted = False
        self._cut_short = False  # an error left a file half stored: the batch is rolled back

    def prepare(self, outcomes: Sequence[FileOutcome]) -> None:
        """Prepare the deduplication of the next outcomes to save, in one go (optional)."""
        self.begin()
        # Reads and caches only: an error here leaves nothing half stored.
        with self._holding_interrupts(writes=False):
            dedupe.prepare(self.db, [a for o in outcomes if o.status == OK for a in o.articles])

    def save(self, outcome: FileOutcome) -> FileOutcome:
        """Store one file's outcome in the current batch, committing when the batch is full.

        Returns the outcome as stored: a copy of a stored file's articles get ids of their
        own (see :func:`store.own_article_ids`), and known site templates are stripped.
        A file is stored whole: a Ctrl-C meanwhile is held (see :meth:`raise_if_interrupted`).
        """
        self.begin()  # waits for another run's write lock: Ctrl-C is not held meanwhile
        with self._holding_interrupts(writes=True):
            return self._save(outcome)

    def raise_if_interrupted(self) -> None:
        """Raise the Ctrl-C held while a file was stored; call it once the file is reported."""
        if self.interrupted:
            self.interrupted = False
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def _holding_interrupts(self, writes: bool) -> Iterator[None]:
        """Hold Ctrl-C for :meth:`raise_if_interrupted`; an error in a block that ``writes``
        leaves a file half stored, and the batch is rolled back."""
        with workers_module.held_interrupts() as held:
            try:
                yield
            except BaseException:
                self._cut_short = self._cut_short or writes
                raise
        self.interrupted = self.interrupted or bool(held)

    def _save(self, outcome: FileOutcome) -> FileOutcome:
        if outcome.status == OK:
            articles = store.own_article_ids(self.db, outcome.record.path, outcome.articles)
            if any(
                own.id != given.id for own, given in zip(articles, outcome.articles, strict=True)
            ):
                self.copied_files += 1
            # Site templates known so far are stripped first, so each article is written once.
            articles = dedupe.before_save(self.db, articles)
            whole = not outcome.record_failures
            store.save_articles(self.db, outcome.record, articles, self.clean_dir, whole)
            if outcome.record.format == "warc":
                # Records of this capture that failed before are read again with it.
                store.delete_record_failures(self.db, outcome.record.path)
            dedupe.after_save(self.db, outcome.record.path, articles, None, defer=True)
            outcome = dataclasses.replace(outcome, articles=tuple(articles))
        elif outcome.status == FAILED:
            # A file that fails now keeps the articles an earlier run stored from it, and
            # its row counts them.
            kept = self.db.execute(
                "select count(*) from articles where raw_path = ?", [outcome.record.path]
            ).fetchone()[0]
            store.save_raw_file(self.db, dataclasses.replace(outcome.record, articles=kept))
        for failure in outcome.record_failures:
            store.save_raw_file(self.db, failure)
        self._pending += 1
        if (
            self._pending >= self.batch_files
            or time.monotonic() - self._started > self.batch_seconds
        ):
            self.commit()
        return outcome

    def commit(self) -> None:
        """Commit the batch, then have the clean files it changed written and removed."""
        if self.db.conn.in_transaction:
            dedupe.flush(self.db)  # the dedupe stage's writes of the batch, deferred
            if self.files is not None:
                cleanfiles.forget_entries(self.db.conn, self.files.take_done())
            self.db.conn.commit()
        self._pending = 0
        if self.files is None:
            cleanfiles.flush_clean_outbox(self.db, self.clean_dir)
        else:
            self.files.submit(cleanfiles.read_outbox(self.db.conn))
        dedupe.trim_heap()

    def close(self) -> None:
        """Commit the batch and wait until clean/ is in step with the archive (once)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.commit()
        except BaseException:
            # The first error is the one to report; what is left queued is replayed.
            with contextlib.suppress(Exception):
                self._close_files()
            raise
        self._close_files()
        if self.copied_files:
            verb = "is" if self.copied_files == 1 else "are"
            LOGGER.info(
                f"{counted(self.copied_files, 'file')} {verb} byte-identical to files the "
                "archive holds under other paths, each stored as a copy of the other: the "
                "same files named another way (raw/a.txt, then /data/raw/a.txt)?"
            )

    @contextlib.contextmanager
    def closing(self) -> Iterator[ArchiveWriter]:
        """Close the writer and its database at the end, reporting the first error only."""
        try:
            yield self
        except BaseException:
            with contextlib.suppress(Exception):
                if self._cut_short:
                    self._abandon()
                else:
                    self.close()
            raise
        else:
            self.close()
        finally:
            self.db.close()

    def _abandon(self) -> None:
        """Roll the batch back (a file in it was cut short) and close; a rerun stores it."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
        finally:
            self._close_files()

    def _close_files(self) -> None:
        files, self.files = self.files, None  # from now on, flushed in place
        if files is None:
            return
        files.close()
        done = files.take_done()
        if done and not self.db.conn.in_transaction:
            with store.write_lock(self.db):
                cleanfiles.forget_entries(self.db.conn, done)
        files.check()

    def begin(self) -> None:
        """Start the next batch's transaction, waiting for another run's write lock if needed."""
        if self.db.conn.in_transaction:
            return
        # IMMEDIATE takes the write lock now, so two ingests take turns per batch
        # instead of one failing on a lock upgrade; busy_timeout makes the wait quiet.
        store.begin_immediate(self.db)
        self._started = time.monotonic()


def iter_ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: str | os.PathLike[str],
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    workers: int = 1,
    scheduler: str | None = None,
    on_stored: Callable[[FileOutcome], object] | None = None,
) -> Iterator[FileOutcome]:
    """Ingest files and folders into the archive, yielding each file's outcome once stored.

    Extraction runs in ``workers`` processes (or on the Dask ``scheduler``); storing,
    deduplication and clean files stay in this process, one writer per archive.
    ``on_stored(outcome)`` counts a file as it is stored, before a Ctrl-C can stop the
    run (see :func:`stored_and_reported`).
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a whole number of bytes above 0, not {max_bytes!r}")
    check_workers(workers)
    paths = sources.given_paths(paths)
    if paths and not any(os.path.lexists(path) for path in paths):
        # A mistyped path: no archive made for it, no failed row kept of it for ever.
        raise FileNotFoundError(f"no such file or folder: {', '.join(map(str, paths[:3]))}")
    folder = Path(clean_dir) if clean_dir is not None else None
    if folder is not None:  # before the archive is made: a refused run leaves nothing
        cleanfiles.check_apart_from_inputs(folder, paths)
        cleanfiles.check_clean_dir(folder, db)
    archive = store.open_db(db)
    writer = ArchiveWriter(archive, folder)
    with writer.closing(), workers_module.fewer_collections():
        # An earlier run stopped between commit and clean files: finish its work. A clean
        # folder new to the archive (or missing files) gets every article's file, not
        # only the next ones'.
        if folder is not None and (
            cleanfiles.flush_clean_outbox(archive, folder)
            or cleanfiles.out_of_step(archive, folder)
        ):
            cleanfiles.reconcile_clean_dir(archive, folder)
        here = task_folder(scheduler)
        tasks = (
            (str(path), store.stored_sha256(archive, sources.path_text(path)), max_bytes, here)
            for path in sources.iter_raw_files(paths, sources.archive_paths(db, clean_dir))
        )
        # Closed on the way out, whatever ends the run: its workers are stopped then, not
        # left for the interpreter's exit to wait on.
        with contextlib.closing(
            workers_module.map_ordered(
                extract_task, tasks, workers, scheduler, on_crash=crashed_task, size=task_bytes
            )
        ) as outcomes:
            for group in _groups(outcomes, PREPARE_FILES):
                writer.prepare(group)
                writer.raise_if_interrupted()
                for outcome in group:
                    save = functools.partial(writer.save, outcome)
                    yield from stored_and_reported(writer, save, on_stored)


def check_workers(workers: object) -> None:
    """Refuse a worker count that is not a whole number above 0 (a string from a config)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number above 0, not {workers!r}")


def stored_and_reported(
    writer: ArchiveWriter,
    store_one: Callable[[], T],
    on_stored: Callable[[T], object] | None = None,
) -> Iterator[T]:
    """Store one file (``store_one()``), count it (``on_stored``), then yield it.

    Ctrl-C is held from the storing to the counting, so that what an interrupted run
    says it stored is what the archive holds; the run stops once the file is yielded. A
    second Ctrl-C stops it at once. The wait for another run's write lock comes first,
    not held: a Ctrl-C there stops the run at once.
    """
    writer.begin()
    with workers_module.held_interrupts() as held:
        stored = store_one()
        if on_stored is not None:
            on_stored(stored)
    yield stored
    if held:
        raise KeyboardInterrupt


def task_folder(scheduler: str | None) -> str | None:
    """The folder relative raw paths are read from on Dask workers; None for local ones."""
    return os.getcwd() if scheduler else None


def _groups(items: Iterable[FileOutcome], size: int) -> Iterator[list[FileOutcome]]:
    group: list[FileOutcome] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


class Tally:
    """Running counts of a run's outcomes, kept without holding the outcomes."""

    def __init__(self) -> None:
        self.counts = {OK: 0, UNCHANGED: 0, FAILED: 0}
        self.articles = 0

    def add(self, outcome: FileOutcome) -> FileOutcome:
        """Count one outcome and hand it back."""
        self.counts[outcome.status] += 1
        self.counts[FAILED] += len(outcome.record_failures)
        self.articles += len(outcome.articles)
        return outcome

    def summary(self) -> IngestSummary:
        """The counts so far."""
        c = self.counts
        return IngestSummary(c[OK], c[UNCHANGED], c[FAILED], self.articles)


def summarise(outcomes: Iterable[FileOutcome]) -> IngestSummary:
    """Count the outcomes of a run."""
    tally = Tally()
    for outcome in outcomes:
        tally.add(outcome)
    return tally.summary()


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    db: str | os.PathLike[str] = "archive.db",
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    workers: int = 1,
    scheduler: str | None = None,
) -> IngestSummary:
    """Ingest files and folders into the archive and return the run's counts."""
    return summarise(iter_ingest(paths, db, clean_dir, max_bytes, workers, scheduler))

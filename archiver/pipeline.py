"""Compose the stages: read, decode, strip chrome, extract metadata, store.

Workers extract (:mod:`archiver.extract`, one file at a time); the one writer here
stores each outcome in batched transactions, deduplicates and keeps clean/ in step. The
pipeline streams: a window of files is in flight and each outcome is stored before the
next is taken, so memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from . import cleanfiles, dedupe, sources, store
from . import workers as workers_module
from .extract import (  # the outcomes the writer stores, named here too for callers
    FAILED,
    OK,
    UNCHANGED,
    WORKER_DIED,
    FileOutcome,
    article_from_doc,
    articles_from_bytes,
    clean,
    crashed_task,
    extract_task,
    process_capture,
    process_file,
    task_bytes,
)
from .models import counted

T = TypeVar("T")
LOGGER = logging.getLogger(__name__)

# A batch commits after this many files or seconds, whichever comes first: large
# enough to amortise the commit, small enough to hold the write lock briefly.
BATCH_FILES = 200
BATCH_SECONDS = 2.0
#: The writer takes the workers' outcomes in groups of this many files and prepares each
#: group's deduplication in one go (see dedupe.prepare); at most the pool's window of
#: tasks in flight, so that the workers stay busy meanwhile.
PREPARE_FILES = 16


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
            ) and store.held_elsewhere(self.db, outcome.record.path, outcome.record.sha256):
                # (A capture read again, or one that shares pages with another, is no copy.)
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
            store.index_queued(self.db)  # the batch's new articles, into full-text search
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
) -> Generator[FileOutcome, None, None]:
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
    check_inputs(paths, db, clean_dir)
    folder = Path(clean_dir) if clean_dir is not None else None
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


def check_inputs(
    paths: Sequence[Path],
    db: str | os.PathLike[str],
    clean_dir: str | os.PathLike[str] | None,
    names: Sequence[str] = (),
) -> None:
    """Refuse, before anything is made, an ingest that can only go wrong.

    None of the paths exists (a typo: no archive is made for it, and no failed row kept
    of it for ever), FileNotFoundError; the clean folder is another archive's, or is or
    holds an input, cleanfiles.CleanDirRefused. ``names`` are the paths as typed, for
    the message.
    """
    if paths and not any(os.path.lexists(path) for path in paths):
        shown = list(names) or [str(path) for path in paths]
        more = ", ..." if len(shown) > 3 else ""
        raise FileNotFoundError(f"no such file or folder: {', '.join(shown[:3])}{more}")
    if clean_dir is not None:
        cleanfiles.check_apart_from_inputs(Path(clean_dir), paths)
        cleanfiles.check_clean_dir(Path(clean_dir), db)


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
        if outcome.status != FAILED:  # a capture that failed whole is one failure, not two
            self.counts[FAILED] += len(outcome.record_failures)
        self.articles += len(outcome.articles)
        return outcome

    def summary(self) -> IngestSummary:
        """The counts so far."""
        c = self.counts
        return IngestSummary(c[OK], c[UNCHANGED], c[FAILED], self.articles)


def summarise(outcomes: Iterable[FileOutcome]) -> IngestSummary:
    """Count the outcomes of a run (closing them: a run stopped early commits what it stored)."""
    tally = Tally()
    try:
        for outcome in outcomes:
            tally.add(outcome)
    finally:
        close = getattr(outcomes, "close", None)  # iter_ingest's generator has it
        if close is not None:
            close()
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


__all__ = [
    "FAILED",
    "OK",
    "UNCHANGED",
    "WORKER_DIED",
    "ArchiveWriter",
    "FileOutcome",
    "IngestSummary",
    "Tally",
    "article_from_doc",
    "articles_from_bytes",
    "check_inputs",
    "clean",
    "crashed_task",
    "extract_task",
    "ingest",
    "iter_ingest",
    "process_capture",
    "process_file",
    "stored_and_reported",
    "summarise",
    "task_bytes",
    "task_folder",
]

"""Re-derive an archive from raw/: every stored raw file read again with the current code.

The articles, their links and clean files are rewritten in place (ids kept), and each
raw file's articles are compared before and after, so that a run says what changed.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from . import cleanfiles, dedupe, sources, store
from . import workers as workers_module
from .models import EXTRACTOR_VERSION, counted
from .pipeline import (
    FAILED,
    ArchiveWriter,
    FileOutcome,
    check_workers,
    crashed_task,
    extract_task,
    stored_and_reported,
    task_bytes,
    task_folder,
)

# The stored fields whose change counts as a changed article when it is re-derived.
_COMPARED = "title, text, published, source, dateline, author, language, url, duplicate_of"


@dataclass(frozen=True)
class ReprocessSummary:
    """What a reprocess run changed in the archive."""

    files: int
    changed: int
    unchanged: int
    added: int
    dropped: int
    failed: int
    missing: int
    edited: int = 0

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        kept = self.failed + self.missing + self.edited
        return (
            f"{counted(self.files, 'raw file')} re-read: {counted(self.changed, 'article')} "
            f"changed, {self.unchanged} unchanged, {self.added} new, {self.dropped} dropped; "
            f"{counted(kept, 'file')} kept as stored ({self.missing} missing from disk, "
            f"{self.edited} changed on disk, {self.failed} failing now)"
        )


@dataclass(frozen=True)
class Rederived:
    """One raw file re-derived: its outcome and the ids of its articles by kind of change."""

    outcome: FileOutcome
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    missing: bool = False
    # Its bytes differ from those ingested: not the input its articles came from.
    edited: bool = False

    @property
    def kept_because(self) -> str | None:
        """Why what the archive holds of the file was kept as it was, or None."""
        if self.missing:
            return "missing from disk"
        if self.edited:
            return EDITED
        return self.outcome.record.error if self.outcome.status == FAILED else None


EDITED = "changed on disk since it was ingested (archiver ingest takes it as it reads now)"


#: Rows of raw_files read at a time by stored_raw_paths.
STORED_PATHS_PAGE = 1000


def stored_raw_paths(db: sqlite_utils.Database, only_outdated: bool = False) -> Iterator[str]:
    """Paths of the raw files the archive was built from (not per-record failure rows).

    In the order they were first stored, read a page of rows at a time: a list of them
    all would grow with the archive. Reprocessing rewrites each row it has passed in
    place (a row keeps its rowid), so the pages after it are unchanged.
    """
    where, params = _stored_filter(only_outdated)
    last = 0
    while True:
        rows = db.execute(
            f"select rowid, path from raw_files where rowid > ? and {where} order by rowid limit ?",
            [last, *params, STORED_PATHS_PAGE],
        ).fetchall()
        if not rows:
            return
        yield from (row[1] for row in rows)
        last = rows[-1][0]


def count_stored_raw_files(db: sqlite_utils.Database, only_outdated: bool = False) -> int:
    """How many raw files :func:`stored_raw_paths` gives."""
    where, params = _stored_filter(only_outdated)
    return int(db.execute(f"select count(*) from raw_files where {where}", params).fetchone()[0])


def _stored_filter(only_outdated: bool) -> tuple[str, list[str]]:
    where = "coalesce(format, '') != 'warc-record'"
    if only_outdated:
        return f"{where} and coalesce(extractor_version, '') != ?", [EXTRACTOR_VERSION]
    return where, []


def iter_reprocess(
    db: str | os.PathLike[str],
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    workers: int = 1,
    scheduler: str | None = None,
    only_outdated: bool = False,
    on_stored: Callable[[Rederived], object] | None = None,
) -> Generator[Rederived, None, None]:
    """Re-derive the archive's articles from raw/ with the current extractor version.

    Every raw file the archive records is read and cleaned again (never refetched) and
    its articles replaced; ids come from the raw file and record, so an article keeps
    its id. A file missing from disk or failing now keeps what was stored from it.
    Learned site templates are applied to every article at the end, and links redone.
    ``on_stored(item)`` counts a file as it is stored, before a Ctrl-C can stop the run.
    Raises store.NotAnArchive for a path that holds no archive (a mistyped one).
    """
    check_workers(workers)
    store.open_archive_read_only(db).close()
    folder = Path(clean_dir) if clean_dir is not None else None
    if folder is not None:
        cleanfiles.check_clean_dir(folder, db)
    archive = store.open_db(db)
    writer = ArchiveWriter(archive, folder)
    with writer.closing(), workers_module.fewer_collections():
        paths = stored_raw_paths(archive, only_outdated)
        here = task_folder(scheduler)
        tasks = ((path, (None, None), max_bytes, here) for path in paths)
        with contextlib.closing(
            workers_module.map_ordered(
                extract_task, tasks, workers, scheduler, on_crash=crashed_task, size=task_bytes
            )
        ) as outcomes:  # closed whatever ends the run, which stops its workers
            for outcome in outcomes:
                rederive = functools.partial(_rederive, writer, outcome)
                yield from stored_and_reported(writer, rederive, on_stored)
        writer.commit()
        with store.write_lock(archive):
            dedupe.reindex(archive)
        writer.close()
        if folder is not None:
            cleanfiles.reconcile_clean_dir(archive, folder)


def _rederive(writer: ArchiveWriter, outcome: FileOutcome) -> Rederived:
    path = outcome.record.path
    if outcome.status == FAILED:
        # The stored articles stay: a raw file gone or unreadable is no reason to lose them.
        missing = not os.path.lexists(path)
        return Rederived(outcome, missing=missing)
    # Reprocessing re-derives the bytes that were ingested. Other bytes under the stored
    # name are another input (edited, or another project's file when the run is not in
    # the folder the paths are relative to): replacing the articles with them would lose
    # what was stored, so that is left to ingest, which is asked for those files.
    stored = writer.db.execute("select sha256 from raw_files where path = ?", [path]).fetchone()
    if stored and stored[0] and outcome.record.sha256 and stored[0] != outcome.record.sha256:
        return Rederived(outcome, edited=True)
    before = _stored_fields(writer.db, path)
    writer.save(outcome)
    after = _stored_fields(writer.db, path)
    return Rederived(
        outcome,
        changed=tuple(i for i in after if i in before and after[i] != before[i]),
        unchanged=tuple(i for i in after if i in before and after[i] == before[i]),
        added=tuple(i for i in after if i not in before),
        dropped=tuple(i for i in before if i not in after),
    )


def _stored_fields(db: sqlite_utils.Database, raw_path: str) -> dict[str, tuple]:
    rows = db.execute(f"select id, {_COMPARED} from articles where raw_path = ?", [raw_path])
    return {row[0]: tuple(row[1:]) for row in rows}


def reprocess(
    db: str | os.PathLike[str] = "archive.db",
    clean_dir: str | os.PathLike[str] | None = "clean",
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    workers: int = 1,
    scheduler: str | None = None,
    only_outdated: bool = False,
) -> ReprocessSummary:
    """Re-derive every article and clean file from raw/ and return what changed."""
    tally = ReprocessTally()
    items = iter_reprocess(db, clean_dir, max_bytes, workers, scheduler, only_outdated)
    with contextlib.closing(items):  # stopped early, the run commits what it stored
        for item in items:
            tally.add(item)
    return tally.summary()


class ReprocessTally:
    """Running counts of a reprocess run, kept without holding the items."""

    KINDS = ("changed", "unchanged", "added", "dropped")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("files", *self.KINDS), 0)
        self.failed = self.missing = self.edited = 0

    def add(self, item: Rederived) -> Rederived:
        """Count one re-derived raw file and hand it back."""
        self.counts["files"] += 1
        for kind in self.KINDS:
            self.counts[kind] += len(getattr(item, kind))
        self.missing += item.missing
        self.edited += item.edited
        self.failed += item.outcome.status == FAILED and not item.missing
        return item

    def summary(self) -> ReprocessSummary:
        """The counts so far."""
        return ReprocessSummary(
            failed=self.failed, missing=self.missing, edited=self.edited, **self.counts
        )

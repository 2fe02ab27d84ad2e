"""The clean/ folder: one plain-text file per article, kept in step with the archive.

The ``articles`` table's triggers queue every change to a clean file in
``clean_outbox``, in the same transaction as the change itself; the queue is worked
off after commit, so a file is only ever written for a committed row. Each step reads
the article's current row, so replaying the queue after a crash is harmless. An entry
leaves the queue only once its file is written. (Two runs that change one article at
once may race to write its file and leave the older text; `archiver reprocess`
rewrites every clean file.)

During an ingest the queue is worked off by a :class:`CleanFileWriter` thread, so the
writer's next batch does not wait for the file system: creating a file costs from
50 microseconds to a millisecond of kernel time, as much as storing the article.
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import socket
import sqlite3
import threading
import time
import unicodedata
import zlib
from collections.abc import Iterable
from pathlib import Path

import sqlite_utils

from . import sources
from .models import Article

MAX_SLUG_CHARS = 60
# Letters below this code point are Latin ones (Basic Latin to Latin Extended-B).
LATIN_END = "\u0250"
#: Batches of entries handed to the thread and not yet written: the writer waits when
#: the file system falls this far behind, so that the backlog stays small.
BACKLOG_BATCHES = 2
# How long a reader waits for the writer's lock before an error (it never needs one in
# WAL mode, but an archive in another journal mode locks readers out during a commit).
READ_TIMEOUT_SECONDS = 30.0

#: One queued change: (seq, article id, clean file name, "write" or "delete").
OutboxEntry = tuple[int, str, str, str]

#: A temporary file this old is abandoned, whichever process made it: a write takes
#: milliseconds. Younger, it is only removed once the process named in it has ended.
ABANDONED_AFTER_SECONDS = 3600.0

# The clean file names clean_file_name() makes: DATE_slug_ID.txt
_CLEAN_NAME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}|undated)_[^\W_]+(?:-[^\W_]+)*_(?P<id>[0-9a-f]{12})\.txt$"
)


def clean_file_name(article: Article) -> str:
    """A readable, stable, collision-free file name: date, title slug and id."""
    slug = slugify(article.title or "") or "untitled"
    return f"{article.published or 'undated'}_{slug}_{article.id[:12]}.txt"


def slugify(text: str) -> str:
    """Lower-case words joined by hyphens, cut at a word boundary.

    Latin accents go (café: cafe), letters of every script stay: a Russian or Korean title
    names its file as an English one does, not ``untitled``. A word longer than the
    whole slug (a Chinese or Japanese title has no spaces) is cut.
    """
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        # Only a Latin letter's accents: in other scripts a mark makes another letter
        # (Russian й, Japanese が).
        if unicodedata.combining(ch) and kept and kept[-1] < LATIN_END:
            continue
        kept.append(ch)
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFC", "".join(kept)).lower())
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > MAX_SLUG_CHARS:
            if not slug:
                slug = word[:MAX_SLUG_CHARS]
            break
        slug = f"{slug}-{word}" if slug else word
    return slug


def clean_text(title: str | None, text: str) -> str:
    """A clean file's content: the title on the first line, a blank line, the body."""
    return f"{title or ''}\n\n{text}\n"


def write_atomic(path: Path, text: str) -> None:
    """Write a file by rename, so a reader or a crash never sees half of it."""
    data = text.encode("utf-8")
    # Plain system calls, four a file: open, write, close, rename. A file object (or
    # mkstemp) adds as many again (stat, isatty, seek, getpid), and in a virtual machine
    # each costs 10 to 20 microseconds: writing a clean file took twice as long.
    fd, tmp = _create_temporary(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# O_EXCL: a name that is taken (left by a crashed run, or another machine's process
# with the same id on a shared folder) is never written into; the next number is tried.
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_TMP_NUMBERS = itertools.count()
# The machine a temporary file's process runs on, as 8 hex digits of its name: a folder
# may be shared, and a process id only tells something on its own machine.
_HOST = f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"
_TMP_NAME = re.compile(r"^\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-\d+-")
_TMP_ATTEMPTS = 100


def temporary_name(path: Path, pid: int, number: int, host: str = _HOST) -> Path:
    """The temporary file a process of this machine writes ``path`` in first."""
    return path.with_name(f".tmp-{host}-{pid}-{number}-{path.name}")


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new file beside ``path`` to write it in, open for writing: (descriptor, path)."""
    for _ in range(_TMP_ATTEMPTS):
        tmp = temporary_name(path, os.getpid(), next(_TMP_NUMBERS))
        try:
            return os.open(tmp, _TMP_FLAGS, 0o644), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)  # once per folder, not per file
            mark_clean_dir(path.parent)
    raise FileExistsError(f"no free temporary name beside {path}")


class CleanDirRefused(ValueError):
    """The clean folder given cannot be this archive's: another's, or the raw input's."""


# The marker's line naming the archive whose clean files the folder holds: its database,
# relative to the folder, so that the two can move together.
_OWNER = "archive: "
_MARKER_TEXT = (
    "This folder holds the clean text of archived articles, written by archiver.\n"
    "archiver ingest skips it: clean files are its output, never raw input.\n"
)


def mark_clean_dir(clean_dir: Path, db_file: str | os.PathLike[str] | None = None) -> None:
    """Leave the marker that tells ingest a folder holds clean files, not raw input.

    Without it, ``archiver ingest .`` would read a clean folder used with the archive
    before (or another archive's) as new pages: copies of stored articles. With
    ``db_file``, the marker also names the archive the folder belongs to (see
    :func:`check_clean_dir`); a folder whose archive is gone is taken over.
    """
    marker = clean_dir / sources.CLEAN_MARKER
    if not clean_dir.is_dir():
        return
    if marker.exists():
        owner = clean_dir_owner(clean_dir)
        if db_file is None or (owner is not None and _same_file(owner, db_file)):
            return
        if owner is not None and owner.is_file():
            return  # another archive's: check_clean_dir refuses such a folder before a run
    text = _MARKER_TEXT
    if db_file is not None:
        text += _OWNER + _relative_to(Path(db_file), clean_dir) + "\n"
    marker.write_text(text, encoding="utf-8")


def clean_dir_owner(clean_dir: Path) -> Path | None:
    """The database of the archive a clean folder's marker names, or None."""
    try:
        text = (clean_dir / sources.CLEAN_MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith(_OWNER) and line[len(_OWNER) :].strip():
            return clean_dir / line[len(_OWNER) :].strip()
    return None


def check_clean_dir(clean_dir: Path, db_file: str | os.PathLike[str]) -> None:
    """Refuse a clean folder that holds another archive's clean files.

    Each archive deletes the clean files that none of its articles names, so two
    archives sharing one folder would delete each other's. A folder whose archive no
    longer exists (moved away, deleted) is free.
    """
    owner = clean_dir_owner(clean_dir)
    if owner is None or not owner.is_file() or _same_file(owner, db_file):
        return
    raise CleanDirRefused(
        f"{clean_dir} holds the clean files of another archive ({os.path.normpath(owner)}): "
        "give this archive a --clean-dir of its own"
    )


def check_apart_from_inputs(clean_dir: Path, inputs: Iterable[Path]) -> None:
    """Refuse a clean folder that is an input, or holds one, unless it is a clean folder.

    Marked as clean files (see :func:`mark_clean_dir`), the folder would be skipped by
    every later ingest: its raw files never read again. A folder marked already is
    skipped as output, the files in it too.
    """
    if sources.is_clean_folder(clean_dir):
        return
    folder = os.path.abspath(clean_dir)
    for path in inputs:
        given = os.path.abspath(path)
        if given == folder:
            raise CleanDirRefused(
                f"the clean folder {clean_dir} is also an input: clean files are output, "
                "give --clean-dir a folder of its own"
            )
        if given.startswith(folder.rstrip(os.sep) + os.sep):
            raise CleanDirRefused(
                f"{path} is inside the clean folder {clean_dir}: clean files are output, "
                "give --clean-dir a folder of its own"
            )


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _relative_to(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # another drive
        return str(path.resolve())


def database_file(db: sqlite_utils.Database) -> str | None:
    """The file an archive's connection reads, or None for one held in memory."""
    for _, name, file in db.conn.execute("pragma database_list"):
        if name == "main" and file:
            return str(file)
    return None


def read_outbox(conn: sqlite3.Connection) -> list[OutboxEntry]:
    """The queued clean-file changes, oldest first."""
    rows = conn.execute("select seq, article_id, clean_path, action from clean_outbox order by seq")
    return [(int(seq), str(aid), str(path), str(action)) for seq, aid, path, action in rows]


def apply_entry(conn: sqlite3.Connection, clean_dir: Path, entry: OutboxEntry) -> None:
    """Write or remove one queued clean file as the article's committed row has it now."""
    _, article_id, clean_path, action = entry
    if action == "write":
        row = conn.execute(
            "select clean_path, title, text from articles where id = ?", [article_id]
        ).fetchone()
        if row and row[0] == clean_path:
            write_atomic(clean_dir / clean_path, clean_text(row[1], row[2]))
    elif action == "delete" and not _clean_path_in_use(conn, clean_path):
        (clean_dir / clean_path).unlink(missing_ok=True)


def forget_entries(conn: sqlite3.Connection, entries: Iterable[OutboxEntry]) -> None:
    """Take done entries off the queue (inside the caller's transaction).

    By the whole entry, not by a range of seq: another run may have emptied the queue
    meanwhile, and seq then starts again from 1 for entries nobody has worked off yet.
    """
    conn.executemany(
        "delete from clean_outbox where seq = ? and article_id = ? and clean_path = ?"
        " and action = ?",
        list(entries),
    )


def flush_clean_outbox(db: sqlite_utils.Database, clean_dir: Path | None) -> int:
    """Bring clean/ in step with committed rows now: write and remove the queued files.

    Call outside a transaction, after a commit. Returns how many entries it worked off.
    """
    if db.conn.in_transaction:
        raise RuntimeError("flush the clean outbox after committing, not inside a transaction")
    entries = read_outbox(db.conn)
    if not entries:
        return 0
    if clean_dir is not None:
        for entry in entries:
            apply_entry(db.conn, clean_dir, entry)
    with db.atomic():
        forget_entries(db.conn, entries)
    return len(entries)


def _clean_path_in_use(conn: sqlite3.Connection, clean_path: str) -> bool:
    named = _CLEAN_NAME.match(clean_path)
    if named is None:
        row = conn.execute("select 1 from articles where clean_path = ?", [clean_path])
    else:
        # The name ends with its article's id: the key's index finds it, where a search
        # by clean_path would read the whole table once per file to remove.
        start = named.group("id")
        row = conn.execute(
            "select 1 from articles where id >= ? and id < ? and clean_path = ?",
            [start, start + "~", clean_path],  # "~" sorts after every hex digit
        )
    return row.fetchone() is not None


def out_of_step(db: sqlite_utils.Database, clean_dir: Path) -> bool:
    """True when the folder holds a temporary file or fewer clean files than the archive
    has articles with one: a run stopped while writing, a folder new to the archive, a fill
    cut short, a file deleted by hand. One pass over the folder, holding no names."""
    held = 0
    if clean_dir.is_dir():
        with os.scandir(clean_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".tmp-"):
                    return True
                held += entry.name.endswith(".txt")
    named = db.execute("select count(*) from articles where clean_path is not null")
    return bool(held < named.fetchone()[0])


def reconcile_clean_dir(db: sqlite_utils.Database, clean_dir: Path) -> tuple[int, int]:
    """Write clean files missing for stored articles and remove files no article names.

    Returns (written, removed). The folder is listed before the database is read, so
    a file another run writes meanwhile already has its committed row and stays; so
    does the temporary file it is writing (see :func:`_abandoned`). Call it when this
    process has no clean file of its own being written.
    """
    if not clean_dir.is_dir():
        clean_dir.mkdir(parents=True, exist_ok=True)
    mark_clean_dir(clean_dir, database_file(db))
    present = {p.name for p in clean_dir.iterdir() if p.suffix == ".txt" and p.is_file()}
    leftovers = [p for p in clean_dir.iterdir() if p.name.startswith(".tmp-") and _abandoned(p)]
    named = dict(
        db.execute("select clean_path, id from articles where clean_path is not null").fetchall()
    )
    written = removed = 0
    for name, article_id in named.items():
        if name not in present:
            row = db.execute(
                "select title, text from articles where id = ?", [article_id]
            ).fetchone()
            if row:
                write_atomic(clean_dir / name, clean_text(row[0], row[1]))
                written += 1
    for name in present - named.keys():
        if _CLEAN_NAME.match(name):  # only files this tool names; never a user's own
            (clean_dir / name).unlink(missing_ok=True)
            removed += 1
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return written, removed


def _abandoned(path: Path) -> bool:
    """True for a temporary file that no running writer will rename into place.

    Its name holds the machine and the id of the process writing it (see
    :func:`temporary_name`). A file of a process of this machine that has ended is left
    over from a crash or a kill; any file is, once it is ABANDONED_AFTER_SECONDS old. A
    younger file of another machine, or of a running process (this one included: a
    thread may be writing it), is a write in flight.
    """
    try:
        age = time.time() - path.lstat().st_mtime
    except OSError:  # gone meanwhile, or unreadable: nothing to remove
        return False
    named = _TMP_NAME.match(path.name)
    if age > ABANDONED_AFTER_SECONDS or named is None:
        return True
    pid = int(named.group("pid"))
    if named.group("host") != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether it exists
    except (ProcessLookupError, OverflowError, ValueError):
        return True  # ended, or no process id at all
    except OSError:
        return False  # it exists, another user's
    return False  # it is running


def start_writer(db: sqlite_utils.Database, clean_dir: Path | None) -> CleanFileWriter | None:
    """A CleanFileWriter for the archive, or None where the outbox is flushed in place.

    In place when there is no clean/ folder, or no database file for a second
    connection to open (an archive held in memory).
    """
    if clean_dir is None:
        return None
    file = database_file(db)
    # Made now, to be marked as this archive's before any file is written in it.
    clean_dir.mkdir(parents=True, exist_ok=True)
    mark_clean_dir(clean_dir, file)
    return CleanFileWriter(file, clean_dir) if file else None


class CleanFileWriter:
    """Works off the clean outbox on a thread with its own connection, in queue order.

    The archive's writer hands over the entries it finds after each commit
    (:meth:`submit`) and takes the done ones off the queue in its next transaction
    (:meth:`take_done`), so that an entry leaves the queue only once its file is
    written: after a crash, the next run finds it still queued and writes it.
    An error on the thread (a full disk, a folder that cannot be written) stops the
    work; the writer's next :meth:`submit` or :meth:`check` raises it, and the queue
    keeps the rest.
    """

    def __init__(self, db_file: str, clean_dir: Path, backlog: int = BACKLOG_BATCHES) -> None:
        self.db_file, self.clean_dir = db_file, clean_dir
        self.error: Exception | None = None
        self._todo: queue.Queue[list[OutboxEntry] | None] = queue.Queue(maxsize=backlog)
        self._lock = threading.Lock()
        self._done: list[OutboxEntry] = []
        self._handed: set[OutboxEntry] = set()  # handed over, not yet off the queue
        self._thread = threading.Thread(target=self._run, name="clean-files", daemon=True)
        self._thread.start()

    def submit(self, entries: Iterable[OutboxEntry]) -> None:
        """Hand over the entries not handed over before; waits while the backlog is full."""
        self.check()
        fresh = [entry for entry in entries if entry not in self._handed]
        if fresh:
            self._handed.update(fresh)
            self._todo.put(fresh)

    def take_done(self) -> list[OutboxEntry]:
        """The entries written since the last call, to take off the queue."""
        with self._lock:
            done, self._done = self._done, []
        self._handed.difference_update(done)
        return done

    def close(self) -> None:
        """Wait until every entry handed over is worked off (or the work has stopped)."""
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()

    def check(self) -> None:
        """Raise the error that stopped the thread, if one did."""
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.db_file, timeout=READ_TIMEOUT_SECONDS)
        except sqlite3.Error as exc:
            self.error = exc
            conn = None
        while (batch := self._todo.get()) is not None:
            if conn is None or self.error is not None:
                continue  # stopped: the writer raises at its next call
            try:
                for entry in batch:
                    apply_entry(conn, self.clean_dir, entry)
                    with self._lock:
                        self._done.append(entry)
            except Exception as exc:  # raised in the writer; the thread must go on draining
                self.error = exc
        if conn is not None:
            conn.close()

"""The SQLite archive (via sqlite-utils) and the clean/ folder of plain-text articles.

Tables:

- ``articles``: one row per article, full-text searchable on title and text;
- ``removed_lines``: every stripped line with the reason, so stripping is explainable;
- ``raw_files``: one row per raw input with its status (ok, unchanged, failed) and error;
- ``search_queue``: articles stored in the open transaction, indexed for full-text search
  all at once before it commits (see :func:`index_queued`); empty between transactions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from .cleanfiles import clean_file_name
from .models import Article, article_id

ARTICLE_COLUMNS: dict[str, type] = {
    "id": str,
    "raw_path": str,
    "raw_sha256": str,
    "url": str,
    "site": str,
    "extractor": str,
    "captured_at": str,
    "title": str,
    "text": str,
    "published": str,
    "source": str,
    "dateline": str,
    "author": str,
    "language": str,
    "word_count": int,
    "duplicate_of": str,
    "similarity": float,
    "clean_path": str,
    "ingested_at": str,
    "extractor_version": str,
}
RAW_FILE_COLUMNS: dict[str, type] = {
    "path": str,
    "sha256": str,
    "size": int,
    "format": str,
    "encoding": str,
    "status": str,
    "error": str,
    "articles": int,
    "skipped": int,
    "extractor_version": str,
    "ingested_at": str,
}
REMOVED_COLUMNS: dict[str, type] = {
    "article_id": str,
    "stage": str,
    "line_no": int,
    "text": str,
    "reason": str,
}

# Long enough to wait out another ingest's batch commit instead of failing.
BUSY_TIMEOUT_MS = 30_000
# How long a writer keeps retrying for the lock before it gives up with an error.
LOCK_WAIT_SECONDS = 600


@dataclass(frozen=True)
class RawFileRecord:
    """The outcome of one raw input, as stored in ``raw_files``."""

    path: str
    sha256: str | None
    size: int | None
    format: str | None
    encoding: str | None
    status: str
    error: str | None
    articles: int
    extractor_version: str
    skipped: int = 0  # records of a capture that hold no page (revisits, non-HTML)


def now() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class NotAnArchive(Exception):
    """A database file that is missing, not SQLite, or holds no archive."""


def _open_in_read_only_folder(path: str | os.PathLike[str]) -> tuple[sqlite3.Connection, set[str]]:
    """Open an archive in a folder that cannot be written (a read-only mount, a DVD).

    A reader of a WAL database makes its shared-memory file beside it, which such a
    folder refuses. Read as immutable, it needs none: right only when every committed
    change is in the database file itself, not in a write-ahead log left beside it.
    """
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise NotAnArchive(
            f"cannot read {path}: its folder is read-only and changes are still in its "
            f"write-ahead log ({wal.name}); copy the archive and its -wal file somewhere "
            "writable and read it there"
        )
    try:
        return _connect_read_only(path, "&immutable=1")
    except sqlite3.DatabaseError as exc:
        raise NotAnArchive(f"cannot read {path} as an archive: {exc}") from None


def _connect_read_only(
    path: str | os.PathLike[str], options: str = ""
) -> tuple[sqlite3.Connection, set[str]]:
    """A read-only connection to a database file, with the names of what it holds."""
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro" + options, uri=True)
    return conn, {row[0] for row in conn.execute("select name from sqlite_master")}


def open_archive_read_only(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open an existing archive to read it, changing nothing; raise NotAnArchive if it is none."""
    if not Path(path).is_file():
        raise NotAnArchive(f"no archive at {path}: run 'archiver ingest' first")
    try:
        conn, tables = _connect_read_only(path)
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) or os.access(Path(path).resolve().parent, os.W_OK):
            raise NotAnArchive(f"cannot read {path} as an archive: {exc}") from None
        conn, tables = _open_in_read_only_folder(path)
    except sqlite3.DatabaseError as exc:
        raise NotAnArchive(f"cannot read {path} as an archive: {exc}") from None
    if not {"articles", "removed_lines", "raw_files"} <= tables:
        conn.close()
        raise NotAnArchive(f"{path} is not an archive (no articles, removed_lines and raw_files)")
    problem = _not_archive_tables(conn)
    if problem:
        conn.close()
        raise NotAnArchive(f"{path} is not an archive ({problem})")
    return sqlite_utils.Database(conn)


# The tables that make a database an archive, with the columns each must have.
ARCHIVE_TABLES: dict[str, tuple[str, ...]] = {
    "articles": tuple(ARTICLE_COLUMNS),
    "removed_lines": tuple(REMOVED_COLUMNS),
    "raw_files": tuple(RAW_FILE_COLUMNS),
}


def _not_archive_tables(conn: sqlite3.Connection) -> str | None:
    """Why a database cannot be used as an archive; None for an archive or an empty one.

    A database holding other tables is someone else's: making it an archive would add a
    dozen tables to it, and a table of its own named like one of the archive's would
    fail halfway through.
    """
    names = {
        row[0]
        for row in conn.execute("select name from sqlite_master where type in ('table', 'view')")
        if not row[0].startswith("sqlite_")
    }
    if names and not names & set(ARCHIVE_TABLES):
        shown = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        return f"it holds other tables: {shown}"
    for table, columns in ARCHIVE_TABLES.items():
        if table not in names:
            continue
        have = {row[1] for row in conn.execute(f"pragma table_info([{table}])")}
        missing = [c for c in columns if c not in have]
        if missing:
            return f"its {table} table has no column {', '.join(missing[:5])}"
    return None


def open_db(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating if needed) the archive database, with the schema in place.

    Safe to call from several processes at once: the schema is checked and created
    under the write lock, so two runs never race to create the same table.
    """
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an archive's database file")
    if not Path(path).parent.is_dir():
        raise FileNotFoundError(f"no folder {Path(path).parent} to hold the archive {path}")
    db = sqlite_utils.Database(Path(path))
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Checked before anything is written, WAL mode included: another program's database
    # is left as it was.
    problem = _not_archive_tables(db.conn)
    if problem:
        db.close()
        raise NotAnArchive(f"{path} is a SQLite database but not an archive ({problem})")
    _retry_locked(db.enable_wal)
    with write_lock(db):
        ensure_schema(db)
    return db


@contextlib.contextmanager
def write_lock(db: sqlite_utils.Database) -> Iterator[None]:
    """A transaction that holds the write lock from its start (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes cannot wait for another writer
    (SQLite refuses the upgrade at once); taking the lock first lets busy_timeout wait.
    """
    begin_immediate(db)
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def begin_immediate(db: sqlite_utils.Database) -> None:
    """Start a transaction holding the write lock, waiting while another writer has it."""
    _retry_locked(lambda: db.execute("BEGIN IMMEDIATE"))


def _retry_locked(action: Callable[[], object], seconds: float = LOCK_WAIT_SECONDS) -> None:
    """Run an action, retrying while another process holds the database lock."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            action()
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create the tables, indexes, full-text search and triggers that are missing."""
    articles = db.table("articles")
    if not articles.exists():
        articles.create(ARTICLE_COLUMNS, pk="id", not_null={"text"})
        articles.create_index(["raw_path"])
        articles.create_index(["published"])
        articles.create_index(["duplicate_of"])
    removed = db.table("removed_lines")
    if not removed.exists():
        # line_no counts lines of the HTML source for the "html" stage (elements removed
        # before extraction) and lines of the text for the "text" stage.
        removed.create(
            REMOVED_COLUMNS,
            foreign_keys=[("article_id", "articles", "id")],
            defaults={"stage": "text"},
            not_null={"stage"},
        )
        removed.create_index(["article_id", "stage", "line_no"], unique=True)
        removed.create_index(["reason"])
    raw_files = db.table("raw_files")
    if not raw_files.exists():
        raw_files.create(RAW_FILE_COLUMNS, pk="path")
        raw_files.create_index(["status"])
    if not db.table("articles_fts").exists():
        articles.enable_fts(["title", "text"], tokenize="porter")
    _index_in_batches(db)
    if "stories" not in db.view_names():
        db.create_view("stories", STORIES_VIEW)
    if not db.table("clean_outbox").exists():
        db.table("clean_outbox").create(
            {"seq": int, "article_id": str, "clean_path": str, "action": str}, pk="seq"
        )
        for sql in CLEAN_OUTBOX_TRIGGERS:
            db.execute(sql)


# Full-text search follows the articles table. A new article is queued (search_queue)
# and indexed with the rest of its batch by index_queued, before the batch commits: FTS5
# writes its pending terms out at every statement and savepoint, so indexing each insert
# in its own (a trigger per row, inside a savepoint per raw file) wrote one small segment
# an article and merged them again and again, twice the cost of one statement a batch.
# An update of the title or text and a delete change the index at once, unless the row
# is still queued (never indexed: there is nothing to take out of the index).
SEARCH_TRIGGERS = {
    "articles_ai": """CREATE TRIGGER articles_ai after insert on articles begin
         insert into search_queue (article_rowid) values (new.rowid);
       end""",
    "articles_ad": """CREATE TRIGGER articles_ad after delete on articles begin
         insert into articles_fts (articles_fts, rowid, title, text)
           select 'delete', old.rowid, old.title, old.text
           where not exists (select 1 from search_queue where article_rowid = old.rowid);
         delete from search_queue where article_rowid = old.rowid;
       end""",
    # Of title and text only: linking a copy (setting duplicate_of) re-indexes nothing.
    "articles_au": """CREATE TRIGGER articles_au after update of title, text on articles
       when not exists (select 1 from search_queue where article_rowid = old.rowid) begin
         insert into articles_fts (articles_fts, rowid, title, text)
           values ('delete', old.rowid, old.title, old.text);
         insert into articles_fts (rowid, title, text) values (new.rowid, new.title, new.text);
       end""",
}


def _index_in_batches(db: sqlite_utils.Database) -> None:
    """Put the search queue and its triggers in place (an archive made before had one
    trigger a row, sqlite-utils' own), and index what an earlier run left queued."""
    if not db.table("search_queue").exists():
        db.execute("create table search_queue (article_rowid integer primary key)")
    have = dict(db.execute("select name, sql from sqlite_master where type = 'trigger'").fetchall())
    for name, sql in SEARCH_TRIGGERS.items():
        # sqlite_master keeps the text as given but for its first words, upper-cased (as
        # the constants are written): an archive already brought over is left as it is.
        if have.get(name) != sql:
            db.execute(f"drop trigger if exists {name}")
            db.execute(sql)
    index_queued(db)


def index_queued(db: sqlite_utils.Database) -> None:
    """Add the queued articles to full-text search, all in one statement.

    Call inside the transaction that stored them, before it commits (the writer does,
    at each batch), so that a committed article is always searchable.
    """
    db.execute(
        """insert into articles_fts (rowid, title, text)
           select a.rowid, a.title, a.text from search_queue q
           join articles a on a.rowid = q.article_rowid order by q.article_rowid"""
    )
    db.execute("delete from search_queue")


# clean/ follows the articles table: every change to an article's clean file is queued
# in the same transaction as the change itself, and written out after commit.
CLEAN_OUTBOX_TRIGGERS = (
    """create trigger if not exists articles_clean_insert after insert on articles
       when new.clean_path is not null begin
         insert into clean_outbox (article_id, clean_path, action) values (new.id, new.clean_path, 'write');
       end""",
    """create trigger if not exists articles_clean_update after update of title, text, clean_path on articles
       begin
         insert into clean_outbox (article_id, clean_path, action)
           select old.id, old.clean_path, 'delete'
           where old.clean_path is not null and old.clean_path is not new.clean_path;
         insert into clean_outbox (article_id, clean_path, action)
           select new.id, new.clean_path, 'write' where new.clean_path is not null;
       end""",
    """create trigger if not exists articles_clean_delete after delete on articles
       when old.clean_path is not null begin
         insert into clean_outbox (article_id, clean_path, action) values (old.id, old.clean_path, 'delete');
       end""",
)


# One row per canonical article: how many copies the archive holds and who carried it.
STORIES_VIEW = """
select
  story.id,
  story.title,
  story.published,
  story.source,
  story.site,
  1 + (select count(*) from articles copy where copy.duplicate_of = story.id) as copies,
  (select group_concat(name, ', ') from (
     select distinct coalesce(member.source, member.site, '(unknown)') as name
     from articles member
     where member.id = story.id or member.duplicate_of = story.id
     order by name)) as sources
from articles story
where story.duplicate_of is null
"""


def stored_sha256(db: sqlite_utils.Database, path: str) -> tuple[str | None, str | None]:
    """(sha256, extractor_version) of a raw file's last successful ingest, or (None, None)."""
    row = db.execute(
        "select sha256, extractor_version from raw_files where path = ? and status = 'ok'", [path]
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def article_row(article: Article, clean_path: str | None, ingested_at: str) -> dict[str, Any]:
    """The ``articles`` row of an article."""
    return {
        "id": article.id,
        "raw_path": article.raw_path,
        "raw_sha256": article.raw_sha256,
        "url": article.url,
        "site": article.site,
        "extractor": article.extractor,
        "captured_at": article.captured_at,
        "title": article.title,
        "text": article.text,
        "published": article.published,
        "source": article.source,
        "dateline": article.dateline,
        "author": article.author,
        "language": article.language,
        "word_count": article.word_count,
        "duplicate_of": None,
        "similarity": None,
        "clean_path": clean_path,
        "ingested_at": ingested_at,
        "extractor_version": article.extractor_version,
    }


def save_articles(
    db: sqlite_utils.Database,
    record: RawFileRecord,
    articles: Iterable[Article],
    clean_dir: Path | None,
    read_whole: bool = True,
) -> None:
    """Store one raw file's outcome, replacing the articles stored from it before.

    Runs in one transaction (a savepoint inside a writer's batch), so a raw file is
    wholly stored or not at all. Clean files are not written here: the triggers queue
    them in ``clean_outbox``, worked off after commit (see :mod:`archiver.cleanfiles`).
    ``clean_dir`` only says whether articles get a clean file name. A file not
    ``read_whole`` (a capture with records that failed, or cut short) keeps the articles
    stored before from what could not be read, and its row counts them.
    """
    stamp = now()
    articles = list(articles)
    batched = db.conn.in_transaction  # else this call's own transaction indexes its articles
    with db.atomic():
        rows = db.execute(
            "select id, url, captured_at from articles where raw_path = ?", [record.path]
        ).fetchall()
        keep = {a.id for a in articles}
        # Read in part, a capture replaces only the pages it read again (the same URL and
        # capture time: a record read again whole keeps its id); the others stay.
        read_again = {(a.url, a.captured_at) for a in articles}
        old = [r[0] for r in rows if read_whole or (r[1], r[2]) in read_again]
        for article_id in old:
            if article_id not in keep:
                delete_article(db, article_id)
        if not read_whole:
            record = dataclasses.replace(record, articles=len(rows) - len(old) + len(keep))
        for article in articles:
            clean_path = clean_file_name(article) if clean_dir is not None else None
            db.execute("delete from removed_lines where article_id = ?", [article.id])
            _upsert(db, "articles", article_row(article, clean_path, stamp), "id")
            # Plain executemany: this is the writer's hottest loop (a hundred lines or
            # more per page), and the rows need no type conversion.
            db.conn.executemany(
                """insert or replace into removed_lines (article_id, stage, line_no, text, reason)
                   values (?, ?, ?, ?, ?)""",
                [(article.id, r.stage, r.line_no, r.text, r.reason) for r in article.removed],
            )
        save_raw_file(db, record, stamp)
        if not batched:
            index_queued(db)


def own_article_ids(
    db: sqlite_utils.Database, raw_path: str, articles: Iterable[Article]
) -> list[Article]:
    """The articles, each with the id the path holds for it, else one no other file holds.

    An id the path already holds is kept, so re-deriving a file keeps its ids. So does
    a page of a capture (one URL at one capture time) stored before from the path: its id
    comes from its record's bytes, but an archive written by an earlier version holds
    ids from the whole capture's bytes, which a capture that grows, or a reprocess, would
    otherwise change (a page met twice in the capture, or stored twice, keeps its own).

    An id comes from the raw content, so a byte-identical copy of a stored file (the
    same page saved twice, or a file moved or named another way) would take over its
    article: the copy gets an id of its own, from the content and its path, and is
    linked to the original as a copy (one story). Each raw file keeps its articles, so
    changing one copy never loses the other's.
    """
    articles = list(articles)
    rows = db.execute(
        "select id, url, captured_at from articles where raw_path = ?", [raw_path]
    ).fetchall()
    held = {row[0] for row in rows}
    stored = Counter((url, at) for _, url, at in rows)
    by_page = {(url, at): held_id for held_id, url, at in rows if at and stored[url, at] == 1}
    pages = Counter((a.url, a.captured_at) for a in articles)
    owned = []
    for article in articles:
        page = (article.url, article.captured_at)
        stored_id = by_page.get(page) if pages[page] == 1 else None
        own = article_id(f"{article.id}\n{raw_path}")
        if own in held or (
            article.id not in held and stored_id is None and article_stored(db, article.id)
        ):
            article = dataclasses.replace(article, id=own)
        elif article.id not in held and stored_id is not None:
            article = dataclasses.replace(article, id=stored_id)
        owned.append(article)
    return owned


def held_elsewhere(db: sqlite_utils.Database, path: str, sha256: str | None) -> bool:
    """True when the archive holds a raw file of these bytes under another path."""
    if sha256 is None:
        return False
    found = db.execute(
        "select 1 from raw_files where sha256 = ? and path != ? limit 1", [sha256, path]
    ).fetchone()
    return found is not None


def article_stored(db: sqlite_utils.Database, article_id: str) -> bool:
    """True when the archive holds an article with this id."""
    return db.execute("select 1 from articles where id = ?", [article_id]).fetchone() is not None


def _upsert(db: sqlite_utils.Database, table: str, row: dict[str, Any], pk: str) -> None:
    """Insert a row, or update every column of the row with the same key.

    An update, not a replace, so that the row keeps its rowid (full-text search
    follows it) and the update triggers (the clean outbox) fire.
    """
    columns = list(row)
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != pk)
    db.execute(
        f"insert into {table} ({names}) values ({marks}) on conflict({pk}) do update set {updates}",
        [row[c] for c in columns],
    )


def save_raw_file(
    db: sqlite_utils.Database, record: RawFileRecord, stamp: str | None = None
) -> None:
    """Insert or replace the ``raw_files`` row of one raw input.

    A failed re-read of a file that was stored before does not touch its articles.
    """
    _upsert(
        db,
        "raw_files",
        {
            "path": record.path,
            "sha256": record.sha256,
            "size": record.size,
            "format": record.format,
            "encoding": record.encoding,
            "status": record.status,
            "error": record.error,
            "articles": record.articles,
            "skipped": record.skipped,
            "extractor_version": record.extractor_version,
            "ingested_at": stamp or now(),
        },
        "path",
    )


def delete_record_failures(db: sqlite_utils.Database, capture_path: str) -> None:
    """Delete the per-record failure rows (``PATH#record``) stored for one capture."""
    # A range on the primary key ('#' < '$'), so the lookup uses its index.
    db.execute(
        "delete from raw_files where path >= ? and path < ? and format = 'warc-record'",
        [f"{capture_path}#", f"{capture_path}$"],
    )


def delete_article(db: sqlite_utils.Database, article_id: str) -> None:
    """Delete an article and its removed lines (a trigger queues its clean file's removal)."""
    db.execute("delete from removed_lines where article_id = ?", [article_id])
    db.execute("delete from articles where id = ?", [article_id])


def archive_stats(db: sqlite_utils.Database) -> dict[str, list[tuple[str, int]]]:
    """Totals (articles, stories, copies, raw files), then articles by source and language,
    removed lines by reason and raw files by status."""
    queries = {
        # One story a canonical article; its copies are linked to it (duplicate_of).
        "archive": """select 'articles', count(*) from articles
                      union all select 'stories', count(*) from articles where duplicate_of is null
                      union all select 'copies linked to a story', count(*) from articles
                        where duplicate_of is not null
                      union all select 'raw files', count(*) from raw_files
                        where coalesce(format, '') != 'warc-record'""",
        "articles by source": "select coalesce(source, '(unknown)'), count(*) from articles group by 1 order by 2 desc, 1",
        "articles by language": "select coalesce(language, '(unknown)'), count(*) from articles group by 1 order by 2 desc, 1",
        "removed lines by reason": "select reason, count(*) from removed_lines group by 1 order by 2 desc, 1",
        "raw files by status": "select status, count(*) from raw_files group by 1 order by 2 desc, 1",
    }
    return {
        name: [(str(r[0]), int(r[1])) for r in db.execute(sql)] for name, sql in queries.items()
    }

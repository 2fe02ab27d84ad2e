"""The signatures of an archive's articles: persisted in SQLite, indexed in memory.

The ``minhash`` table holds one row per article: its MinHash signature and anchor
shingles (blobs, made by :mod:`archiver.shingles`), its ingest sequence ``seq`` and a
``stamp`` raised by every write to the row. It also keeps the article's whole shingle set
and a digest of the text it was made from: verifying a candidate needs its set, and
reading it back costs a tenth or less of making it again from the text (which, in a large
archive, took a third of the writer's main thread). A forgotten article keeps its row, emptied,
so that forgetting raises a stamp too. The persisted signatures are what lets a later
ingest find the copies of earlier articles without recomputing the corpus.

Each open archive has a :class:`Signatures` in memory: the band and anchor keys of every
signature in a :class:`archiver.keyindex.KeyIndex`, and every row's seq and raw file. It
is built from the table the first time it is needed and catches up with the rows stamped
since it last looked when another connection has written (``PRAGMA data_version`` says
so); it is rebuilt if its own last write is gone (rolled back). Its own writes are
buffered and written by :meth:`Signatures.flush`, in one statement, before the writer
commits.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
import sqlite_utils

from . import shingles
from .keyindex import KeyIndex

#: The ``params`` of a forgotten article's emptied row.
FORGOTTEN = "forgotten"
#: Rows read at a time when an index is built from the archive.
BUILD_ROWS = 20_000


def ensure_table(db: sqlite_utils.Database) -> None:
    """Create the ``minhash`` table if missing, or bring an older one up to date."""
    db.execute(
        """create table if not exists minhash (
            seq integer primary key,
            article_id text not null unique,
            raw_path text,
            shingles integer not null,
            signature blob not null,
            anchors blob not null,
            params text not null,
            stamp integer,
            shingle_set blob,
            text_digest blob)"""
    )
    columns = {row[1] for row in db.execute("pragma table_info(minhash)").fetchall()}
    if "stamp" not in columns:  # an archive made before stamps: number its rows once
        db.execute("alter table minhash add column stamp integer")
        db.execute("update minhash set stamp = seq")
    # Older rows have no set: it is made from the text when needed, as it always was.
    for column in ("shingle_set", "text_digest"):
        if column not in columns:
            db.execute(f"alter table minhash add column {column} blob")
    db.execute("create index if not exists minhash_stamp on minhash(stamp)")
    # Older archives kept band and anchor rows, and looked rows up by raw file: the
    # index in memory replaced them.
    db.execute("drop index if exists minhash_raw_path")
    db.execute("drop table if exists lsh_bands")
    db.execute("drop table if exists anchors")


#: Where each column sits in a buffered row (see Signatures.put).
_PENDING_AT = {
    name: at
    for at, name in enumerate(
        ("seq", "article_id", "raw_path", "shingles", "signature", "anchors", "params",
         "stamp", "shingle_set", "text_digest")
    )
}  # fmt: skip
#: The path hash of a row without a raw file.
NO_PATH = 0


def path_key(raw_path: str | None) -> int:
    """A raw file path's hash, as held in memory for its rows (NO_PATH: no path)."""
    if raw_path is None:
        return NO_PATH
    return hash(raw_path) or 1


def keys_of(fp: shingles.Fingerprint) -> np.ndarray:
    """The index keys of a fingerprint: its band keys, then its anchors."""
    return np.concatenate([fp.bands, fp.anchors])


def outdated(db: sqlite_utils.Database) -> int:
    """Rows whose signature was made with other parameters: not found until re-indexed."""
    if not db["minhash"].exists():
        return 0
    return int(
        db.execute(
            "select count(*) from minhash where params not in (?, ?)",
            [shingles.PARAMS_VERSION, FORGOTTEN],
        ).fetchone()[0]
    )


#: Matches of an article's keys above which its candidates are counted in NumPy: below,
#: NumPy's cost per call is more than a loop's.
NUMPY_TALLY_MATCHES = 256


class Signatures:
    """The ``minhash`` table of one open archive in memory, and its writes not yet made.

    Use it inside a write transaction (the writer's batch): :meth:`sync` once at its
    start, then :meth:`put`, :meth:`forget` and the lookups, then :meth:`flush` before
    the commit. New rows are numbered here as SQLite will number them when written.
    """

    def __init__(self) -> None:
        self.version: int | None = None  # PRAGMA data_version when last in step
        self.synced = False
        self._reset()

    def _reset(self) -> None:
        self.keys = KeyIndex()
        self.ids: dict[int, str] = {}  # seq -> article id of every indexed row
        self.rows: dict[str, int] = {}  # article -> seq, of every row
        # The raw file of each row, by seq, as its path's hash (NO_PATH: none): a few
        # hundred thousand paths would cost more than the index's keys. A lookup by
        # path is confirmed against the row itself (see signed_from).
        self.path_keys = array("q")
        # raw file's hash -> the article signed from it, or the set of them (most files
        # have one)
        self.by_raw_path: dict[int, str | set[str]] = {}
        self.emptied: set[str] = set()  # articles whose row is emptied (forgotten)
        self.max_seq = 0
        self.stamp = 0  # every row stamped up to this one is known here
        self.synced_stamp = 0  # the stamp when last in step with the table
        self.last: tuple[int, str | None] = (0, None)  # the newest row known (stamp, article)
        self.pending: dict[str, tuple] = {}  # article -> minhash row to write

    def sync(self, db: sqlite_utils.Database) -> None:
        """Catch up with the table (once per transaction: until the next flush)."""
        if self.synced:
            return
        version, last = db.execute(
            """select (select data_version from pragma_data_version),
                      (select article_id from minhash where stamp = ?)""",
            [self.last[0]],
        ).fetchone()
        if self.version is None or last != self.last[1]:
            self._build(db)
        elif version != self.version:
            cursor = db.execute(
                """select seq, article_id, raw_path, signature, anchors, params, stamp
                   from minhash where stamp > ? order by stamp""",
                [self.stamp],
            )
            for row in cursor.fetchall():
                self._known(*row)
        self.version, self.synced = version, True
        self.synced_stamp = self.stamp

    def _build(self, db: sqlite_utils.Database) -> None:
        self._reset()
        cursor = db.execute(
            "select seq, article_id, raw_path, signature, anchors, params, stamp from minhash"
        )
        while rows := cursor.fetchmany(BUILD_ROWS):
            current = [r for r in rows if r[5] == shingles.PARAMS_VERSION]
            if current:
                seqs = np.array([r[0] for r in current], dtype=np.int64)
                bands = shingles.band_key_matrix(
                    np.frombuffer(b"".join(r[3] for r in current), np.uint32).reshape(
                        len(current), shingles.NUM_PERM
                    )
                )
                anchor_counts = [len(r[4]) // 8 for r in current]
                self.keys.add_many(
                    np.concatenate(
                        [np.repeat(seqs, shingles.FULL_BANDS), np.repeat(seqs, anchor_counts)]
                    ),
                    np.concatenate(
                        [bands.ravel(), np.frombuffer(b"".join(r[4] for r in current), np.int64)]
                    ),
                )
                self.ids.update((r[0], r[1]) for r in current)
            for seq, article_id, raw_path, _, _, params, stamp in rows:
                self._place(seq, article_id, raw_path)
                if params == FORGOTTEN:
                    self.emptied.add(article_id)
                if stamp is not None and stamp > self.stamp:
                    self.stamp, self.last = stamp, (stamp, article_id)

    def _known(
        self,
        seq: int,
        article_id: str,
        raw_path: str | None,
        signature: bytes,
        anchors: bytes,
        params: str,
        stamp: int | None,
    ) -> None:
        """Take in a row another connection wrote."""
        keys = None
        if params == shingles.PARAMS_VERSION:
            bands = shingles.band_keys(np.frombuffer(signature, np.uint32))
            keys = np.concatenate([bands, np.frombuffer(anchors, np.int64)])
        self._index(seq, article_id, raw_path, keys)
        if params == FORGOTTEN:
            self.emptied.add(article_id)
        else:
            self.emptied.discard(article_id)
        if stamp is not None and stamp > self.stamp:
            self.stamp, self.last = stamp, (stamp, article_id)

    def _place(self, seq: int, article_id: str, raw_path: str | None) -> None:
        moved = self.rows.get(article_id)
        if moved is not None and moved != seq:  # deleted and written again elsewhere
            self._unindex(moved)
        self.rows[article_id] = seq
        key = path_key(raw_path)
        if seq >= len(self.path_keys):  # grown by half again, so appends stay linear
            more = max(seq + 1 - len(self.path_keys), len(self.path_keys) // 2, 1024)
            self.path_keys.frombytes(bytes(more * self.path_keys.itemsize))
        self.path_keys[seq] = key
        if key != NO_PATH:
            found = self.by_raw_path.get(key)
            if found is None:
                self.by_raw_path[key] = article_id
            elif isinstance(found, set):
                found.add(article_id)
            elif found != article_id:
                self.by_raw_path[key] = {found, article_id}
        self.max_seq = max(self.max_seq, seq)

    def _index(
        self, seq: int, article_id: str, raw_path: str | None, keys: np.ndarray | None
    ) -> None:
        """Index a row's keys (None: a row not indexed), replacing those it had."""
        if keys is None:
            self._unindex(seq)
        elif seq in self.ids:
            self.keys.replace(seq, keys)
        else:
            self.keys.add(seq, keys)
        if keys is not None:
            self.ids[seq] = article_id
        self._place(seq, article_id, raw_path)

    def _unindex(self, seq: int) -> None:
        if self.ids.pop(seq, None) is not None:
            self.keys.remove(seq)

    def put(
        self,
        article_id: str,
        raw_path: str | None,
        fp: shingles.Fingerprint,
        keys: np.ndarray,
        digest: bytes,
    ) -> None:
        """Record an article's signature (its band keys, then anchors, are ``keys``),
        made from a text with this digest (:func:`shingles.text_digest`)."""
        seq = self.rows.get(article_id, self.max_seq + 1)
        self.stamp += 1
        self.pending[article_id] = (
            seq,
            article_id,
            raw_path,
            len(fp.shingles),
            fp.signature.tobytes(),
            fp.anchors.tobytes(),
            shingles.PARAMS_VERSION,
            self.stamp,
            fp.shingles.tobytes(),
            digest,
        )
        self._index(seq, article_id, raw_path, keys)
        self.emptied.discard(article_id)

    def forget(self, article_id: str) -> None:
        """Empty an article's row (it is gone, replaced, or has no words)."""
        seq = self.rows.get(article_id)
        if seq is None or article_id in self.emptied:
            return
        self.stamp += 1
        empty = (None, 0, b"", b"", FORGOTTEN, self.stamp, None, None)
        self.pending[article_id] = (seq, article_id, *empty)
        self._index(seq, article_id, None, None)
        self.emptied.add(article_id)

    def signed_from(self, db: sqlite_utils.Database, raw_path: str) -> list[str]:
        """Articles whose current row was made from this raw file."""
        key = path_key(raw_path)
        found = self.by_raw_path.get(key, ())
        signed = [
            a
            for a in ((found,) if isinstance(found, str) else found)
            if self.path_keys[self.rows[a]] == key
        ]
        return sorted(a for a in signed if self._current(db, a, "raw_path")[0] == raw_path)

    def sketches(
        self, db: sqlite_utils.Database, article_ids: list[str]
    ) -> dict[str, tuple[int, np.ndarray]]:
        """(shingle count, signature) of those articles that have a current row."""
        found: dict[str, tuple[int, np.ndarray]] = {}
        stored = []
        for article_id in article_ids:
            pending = self.pending.get(article_id)
            if pending is None:
                stored.append(article_id)
            elif pending[_PENDING_AT["params"]] == shingles.PARAMS_VERSION:
                found[article_id] = (
                    pending[_PENDING_AT["shingles"]],
                    np.frombuffer(pending[_PENDING_AT["signature"]], np.uint32),
                )
        if stored:
            marks = ",".join("?" * len(stored))
            rows = db.execute(
                f"""select article_id, shingles, signature from minhash
                    where article_id in ({marks}) and params = ?""",
                [*stored, shingles.PARAMS_VERSION],
            ).fetchall()
            found.update((a, (n, np.frombuffer(sig, np.uint32))) for a, n, sig in rows)
        return found

    def stored_set(
        self, db: sqlite_utils.Database, article_id: str, digest: bytes
    ) -> np.ndarray | None:
        """An article's shingle set as signed, if made from the text with this digest."""
        found, made_from, params = self._current(
            db, article_id, "shingle_set", "text_digest", "params"
        )
        if found is None or made_from != digest or params != shingles.PARAMS_VERSION:
            return None
        return np.frombuffer(found, np.uint64)

    def _current(self, db: sqlite_utils.Database, article_id: str, *columns: str) -> tuple:
        """Columns of an article's current row (None each if it has none): buffered here,
        else in the table."""
        pending = self.pending.get(article_id)
        if pending is not None:
            return tuple(pending[_PENDING_AT[column]] for column in columns)
        row = db.execute(
            f"select {', '.join(columns)} from minhash where article_id = ?", [article_id]
        ).fetchone()
        return tuple(row) if row is not None else (None,) * len(columns)

    def seq(self, article_id: str) -> int | None:
        """The ingest sequence of an article's row (None: it has none)."""
        return self.rows.get(article_id)

    def indexed(self, article_id: str) -> bool:
        """True when the article's signature is in the index (current parameters)."""
        return self.rows.get(article_id) in self.ids

    def look_ahead(self, fingerprints: Iterable[shingles.Fingerprint]) -> None:
        """Probe the index for the keys of the next articles to link, in one go."""
        self.keys.look_ahead([keys_of(fp) for fp in fingerprints])

    def candidates(self, article_id: str, keys: np.ndarray, bands: int, limit: int) -> list[str]:
        """Other articles sharing a band, or enough anchors, with these keys (the first
        ``bands`` of them band keys, then anchors); most agreement first, at most ``limit``."""
        seqs, at = self.keys.lookup_arrays(keys)
        shared: Iterable[tuple[int, int]]  # (other, keys it shares), if it may be a copy
        if len(seqs) > NUMPY_TALLY_MATCHES:
            # Counted in NumPy: a passage that many texts share matches hundreds of them.
            others, which = np.unique(seqs, return_inverse=True)
            hits = np.bincount(which, minlength=len(others))
            banded = np.bincount(which, weights=at < bands, minlength=len(others)) > 0
            # An article sharing no band needs enough anchors (then its hits are anchors).
            keep = np.flatnonzero(banded | (hits >= shingles.MIN_SHARED_ANCHORS))
            shared = zip(others[keep].tolist(), hits[keep].tolist(), strict=True)
        else:
            counts: dict[int, int] = {}
            in_band: set[int] = set()
            for other, i in zip(seqs.tolist(), at.tolist(), strict=True):
                counts[other] = counts.get(other, 0) + 1
                if i < bands:
                    in_band.add(other)
            shared = (
                (other, n)
                for other, n in counts.items()
                if other in in_band or n >= shingles.MIN_SHARED_ANCHORS
            )
        ids = self.ids
        ranked = sorted(
            (-n, ids[other]) for other, n in shared if other in ids and ids[other] != article_id
        )
        return [other for _, other in ranked[:limit]]

    def flush(self, db: sqlite_utils.Database) -> None:
        """Write the buffered rows (in the transaction that made them)."""
        if self.pending:
            # SQLite numbers new rows (one above the highest) in the order they are
            # written, so they are written in the order of the numbers given here, which
            # follow each article's first put (an article put again later in the batch
            # keeps its number). It stamps them one above the highest too: one stamp per
            # row, from the stamp at the sync on (an article put twice in the batch is one
            # row, though it took two stamps here), unless another connection wrote since
            # the sync (then rebuild at the next one).
            rows = sorted(self.pending.values(), key=lambda row: row[0])
            db.conn.executemany(
                """insert into minhash (article_id, raw_path, shingles, signature, anchors,
                     params, shingle_set, text_digest, stamp)
                   values (?, ?, ?, ?, ?, ?, ?, ?,
                     (select coalesce(max(stamp), 0) + 1 from minhash))
                   on conflict(article_id) do update set raw_path = excluded.raw_path,
                     shingles = excluded.shingles, signature = excluded.signature,
                     anchors = excluded.anchors, params = excluded.params,
                     shingle_set = excluded.shingle_set, text_digest = excluded.text_digest,
                     stamp = excluded.stamp""",
                [(*row[1:7], *row[8:10]) for row in rows],
            )
            newest = db.execute(
                "select (select max(seq) from minhash), stamp, article_id from minhash "
                "where stamp = (select max(stamp) from minhash)"
            ).fetchone()
            written = self.synced_stamp + len(rows)
            if tuple(newest) == (self.max_seq, written, rows[-1][1]):
                self.stamp = written
            else:
                self.version = None
            self.last = (newest[1], newest[2])
            self.pending = {}
        self.synced = False

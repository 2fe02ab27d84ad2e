"""The signatures of an archive's articles: persisted in SQLite, indexed in memory.

The ``minhash`` table holds one row per article: its MinHash signature and anchor
shingles (blobs, made by :mod:`archiver.shingles`), its ingest sequence ``seq`` and a
``stamp`` raised by every write to the row. A forgotten article keeps its row, emptied,
so that forgetting raises a stamp too. The persisted signatures are what lets a later
ingest find the copies of earlier articles without recomputing the corpus.

Each open archive has a :class:`Signatures` in memory: the band and anchor keys of every
signature in a :class:`KeyIndex`, and every row's seq and raw file. It is built from the
table the first time it is needed and catches up with the rows stamped since it last
looked when another connection has written (``PRAGMA data_version`` says so); it is
rebuilt if its own last write is gone (rolled back). Its own writes are buffered and
written by :meth:`Signatures.flush`, in one statement, before the writer commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import sqlite_utils

from . import shingles

#: The ``params`` of a forgotten article's emptied row.
FORGOTTEN = "forgotten"
#: Rows read at a time when an index is built from the archive.
BUILD_ROWS = 20_000
#: The index's row numbers: half the memory of int64, room for two billion rows.
SEQ_TYPE = np.int32


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
            stamp integer)"""
    )
    columns = {row[1] for row in db.execute("pragma table_info(minhash)").fetchall()}
    if "stamp" not in columns:  # an archive made before stamps: number its rows once
        db.execute("alter table minhash add column stamp integer")
        db.execute("update minhash set stamp = seq")
    db.execute("create index if not exists minhash_stamp on minhash(stamp)")
    # Older archives kept band and anchor rows, and looked rows up by raw file: the
    # index in memory replaced them.
    db.execute("drop index if exists minhash_raw_path")
    db.execute("drop table if exists lsh_bands")
    db.execute("drop table if exists anchors")


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


class KeyIndex:
    """A multimap from 64-bit keys to sequence numbers, in memory, probed many keys at once.

    The entries sit in two sorted NumPy arrays (keys, numbers) probed with
    ``np.searchsorted``, and the newest in a dict. The dict is merged into the arrays
    when it holds more than 1 / PENDING_SHARE of their entries: each merge is linear, and
    the arrays grow by a constant factor between merges, so adding n entries costs O(n)
    moves in all (PENDING_SHARE + 1 per entry). A number whose keys were replaced (or
    removed) keeps its current keys apart, and its matches are filtered through them
    until the next merge drops its stale entries.

    Most probes find nothing (most articles are new stories), and a binary search in a
    large array misses the CPU cache at every step: a bitmap of the keys' top bits (one to
    two times FILTER_BITS bits per entry: 3% to 6% false positives) answers most first.
    """

    #: A dict entry costs about eight times an array entry (12 bytes): with the dict held
    #: to a 32nd of the arrays, it is a fifth of the index's memory, and each entry is
    #: moved 33 times by merges, a few hundred milliseconds in all at 100,000 articles.
    PENDING_SHARE = 32
    MIN_PENDING = 65_536
    FILTER_BITS = 16
    #: Entries returned per key and part (arrays, pending) at most: the last added. A key
    #: that hundreds of texts share is a passage of boilerplate, or a story copied that
    #: often, whose newest copies are enough to find it; without a cap each probe would
    #: cost as much as the archive holds copies of it.
    MAX_MATCHES = 64
    #: Keys whose filter bits are set in one go when the filter is rebuilt.
    MARK_KEYS = 1 << 18

    def __init__(self) -> None:
        self._keys = np.empty(0, np.int64)
        self._seqs = np.empty(0, SEQ_TYPE)
        # key -> first number; the next numbers of a key shared by several in _more
        self._pending: dict[int, int] = {}
        self._more: dict[int, list[int]] = {}
        self._pending_entries = 0
        self._replaced: dict[int, frozenset[int]] = {}
        self._filter_log2 = 16
        self._filter = bytearray(1 << (self._filter_log2 - 3))
        self._last_tops: tuple[np.ndarray | None, int, list[int]] = (None, 0, [])
        # Raised by every merge: the arrays' matches found ahead hold until then.
        self._epoch = 0
        self._ahead: dict[bytes, list[tuple[int, int]]] = {}
        self._ahead_epoch = -1

    def __len__(self) -> int:
        return len(self._keys) + self._pending_entries

    def add(self, seq: int, keys: np.ndarray) -> None:
        """Index a number's keys (distinct int64); use :meth:`replace` if it has some already."""
        if seq in self._replaced:
            self.replace(seq, keys)
            return
        self._add(seq, keys)

    def _add(self, seq: int, keys: np.ndarray) -> None:
        pending, bitmap = self._pending, self._filter
        for key, top in zip(keys.tolist(), self._tops(keys), strict=True):
            if pending.setdefault(key, seq) is not seq:
                self._more.setdefault(key, []).append(seq)
            bitmap[top >> 3] |= 1 << (top & 7)
        self._pending_entries += len(keys)
        if self._pending_entries > max(self.MIN_PENDING, len(self._keys) // self.PENDING_SHARE):
            self._merge()

    def _tops(self, keys: np.ndarray) -> list[int]:
        """The filter bit of each key; kept for the same keys probed, then added."""
        found, log2, tops = self._last_tops
        if found is not keys or log2 != self._filter_log2:
            tops = (keys.view(np.uint64) >> np.uint64(64 - self._filter_log2)).tolist()
            self._last_tops = (keys, self._filter_log2, tops)
        return tops

    def _bits(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The filter's byte and bit mask of each key (its top bits)."""
        top = keys.view(np.uint64) >> np.uint64(64 - self._filter_log2)
        return (top >> np.uint64(3)).astype(np.intp), (top & np.uint64(7)).astype(np.uint8)

    def _mark(self, keys: np.ndarray) -> None:
        """Set the filter bits of many keys."""
        bitmap = np.frombuffer(self._filter, np.uint8)
        # A slice at a time: the bits of all keys at once cost three arrays of 8 bytes a
        # key; measured alone, adding past a doubling at 4.2 million keys took 165 MB more
        # that way, against 69 MB a slice at a time.
        for start in range(0, len(keys), self.MARK_KEYS):
            at, bit = self._bits(keys[start : start + self.MARK_KEYS])
            np.bitwise_or.at(bitmap, at, np.left_shift(np.uint8(1), bit))

    def _refilter(self) -> None:
        """A filter sized for the entries (rebuilt when they outgrow it, doubling)."""
        if len(self) * self.FILTER_BITS <= 1 << self._filter_log2:
            return
        self._filter_log2 = (self.FILTER_BITS * len(self) - 1).bit_length()
        self._filter = bytearray(1 << (self._filter_log2 - 3))
        self._mark(self._keys)
        self._mark(np.fromiter(self._pending, np.int64, len(self._pending)))

    def add_many(self, seqs: np.ndarray, keys: np.ndarray) -> None:
        """Index many new (number, key) pairs at once (building an index from storage)."""
        self._mark(keys.astype(np.int64))
        self._merge(seqs.astype(SEQ_TYPE), keys.astype(np.int64))

    def replace(self, seq: int, keys: np.ndarray) -> None:
        """Make a number's keys exactly these (none: the number is gone)."""
        self._replaced[seq] = frozenset(keys.tolist())
        self._add(seq, keys)

    def remove(self, seq: int) -> None:
        """Forget a number's keys."""
        self.replace(seq, np.empty(0, np.int64))

    def look_ahead(self, batch: Sequence[np.ndarray]) -> None:
        """Probe the arrays for many sets of query keys at once; :meth:`lookup` of the
        same keys then only probes the newest entries (until the next merge).

        A probe of one article's few dozen keys is mostly NumPy's cost per call: the keys
        of a group of articles probed together share it.
        """
        self._ahead, self._ahead_epoch = {}, self._epoch
        if not batch or not len(self._keys):
            return
        queries = np.concatenate(batch)
        ends = np.cumsum([len(b) for b in batch]).tolist()
        at, bit = self._bits(queries)
        maybe = np.flatnonzero(np.frombuffer(self._filter, np.uint8)[at] >> bit & 1)
        found: list[list[tuple[int, int]]] = [[] for _ in batch]
        owner, first, probed = 0, 0, maybe.tolist()
        for seq, j in self._array_matches(queries[maybe]):
            at_query = probed[j]
            while at_query >= ends[owner]:  # matches come in query order
                first = ends[owner]
                owner += 1
            found[owner].append((seq, at_query - first))
        for queries_of, matches in zip(batch, found, strict=True):
            self._ahead[queries_of.tobytes()] = matches

    def lookup(self, queries: np.ndarray) -> list[tuple[int, int]]:
        """(number, index of the query key) of every entry matching a query; each pair once."""
        if self._ahead and self._ahead_epoch == self._epoch:
            ahead = self._ahead.get(queries.tobytes())
            if ahead is not None:
                return self._lookup_pending(queries, list(ahead))
        found: list[tuple[int, int]] = []
        bitmap = self._filter
        maybe = [
            i for i, top in enumerate(self._tops(queries)) if bitmap[top >> 3] >> (top & 7) & 1
        ]
        if not maybe:
            return found
        queries = queries[maybe]
        if len(self._keys):
            found = self._array_matches(queries)
        return [(seq, maybe[i]) for seq, i in self._lookup_pending(queries, found)]

    def _array_matches(self, queries: np.ndarray) -> list[tuple[int, int]]:
        """(number, index of the query key) of the arrays' entries matching the queries,
        the newest MAX_MATCHES per key, in query order."""
        found: list[tuple[int, int]] = []
        keys, seqs, cap = self._keys, self._seqs, self.MAX_MATCHES
        start_at = keys.searchsorted(queries)
        end_at = keys.searchsorted(queries, "right")
        hit = np.flatnonzero(end_at > start_at)
        for i, start, end in zip(
            hit.tolist(), start_at[hit].tolist(), end_at[hit].tolist(), strict=True
        ):
            found.extend((seq, i) for seq in seqs[max(start, end - cap) : end].tolist())
        return found

    def _lookup_pending(
        self, queries: np.ndarray, found: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """:meth:`lookup` once the arrays' matches (``found``) are known: the pending
        entries' matches added, those of replaced numbers filtered."""
        pending, more, cap = self._pending, self._more, self.MAX_MATCHES
        for i, key in enumerate(queries.tolist() if pending else ()):
            seq = pending.get(key)
            if seq is not None:
                others = more.get(key) if more else None
                matches = [seq, *others][-cap:] if others else (seq,)
                found.extend((match, i) for match in matches)
        if self._replaced and found:
            found = self._current(found, queries)
        return found

    def _current(self, found: list[tuple[int, int]], queries: np.ndarray) -> list[tuple[int, int]]:
        """Matches of replaced numbers kept only where the key is still theirs, once."""
        replaced = self._replaced
        kept = [(seq, i) for seq, i in found if seq not in replaced]
        again = {
            (seq, i)
            for seq, i in found
            if seq in replaced and int(queries[i]) in replaced[seq]
        }  # fmt: skip
        return kept + sorted(again)

    def _merge(self, seqs: np.ndarray | None = None, keys: np.ndarray | None = None) -> None:
        """Merge the pending entries (and these) into the arrays, dropping stale entries."""
        pending, more = self._pending, self._more
        new_keys = np.fromiter(pending.keys(), np.int64, len(pending))
        new_seqs = np.fromiter(pending.values(), SEQ_TYPE, len(pending))
        if more:
            extra = np.array([(k, seq) for k, seqs in more.items() for seq in seqs], np.int64)
            new_keys = np.concatenate([new_keys, extra[:, 0]])
            new_seqs = np.concatenate([new_seqs, extra[:, 1].astype(SEQ_TYPE)])
        if keys is not None and seqs is not None:
            new_keys, new_seqs = np.concatenate([new_keys, keys]), np.concatenate([new_seqs, seqs])
        self._pending, self._more, self._pending_entries = {}, {}, 0
        self._epoch += 1
        old_keys, old_seqs = self._keys, self._seqs
        if self._replaced:
            gone = np.fromiter(self._replaced, np.int64, len(self._replaced))
            stale_old, stale_new = np.isin(old_seqs, gone), np.isin(new_seqs, gone)
            old_keys, old_seqs = old_keys[~stale_old], old_seqs[~stale_old]
            new_keys, new_seqs = new_keys[~stale_new], new_seqs[~stale_new]
            current = [(key, seq) for seq, now in self._replaced.items() for key in now]
            again = np.array(current, dtype=np.int64).reshape(-1, 2)
            new_keys = np.concatenate([new_keys, again[:, 0]])
            new_seqs = np.concatenate([new_seqs, again[:, 1].astype(SEQ_TYPE)])
            self._replaced = {}
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_seqs = new_keys[order], new_seqs[order]
        at = old_keys.searchsorted(new_keys, "right")
        self._keys = insert_in_place(old_keys, at, new_keys)
        self._seqs = insert_in_place(old_seqs, at, new_seqs)
        self._refilter()


#: Entries moved at a time by :func:`insert_in_place` (its working memory: a few MB).
INSERT_STEP = 1 << 17


def insert_in_place(array: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.insert(array, at, values)`` (``at`` sorted) made by growing ``array`` itself.

    ``np.insert`` writes a new array beside the old one: for the key index of 100,000
    articles that held 63 MB more at each merge, the writer's peak. Grown in place (a
    large array is remapped, not copied) and its entries moved from the back, a slice at
    a time, to where the insertions push them, the merge holds a few MB more.
    """
    if not array.flags.owndata or not array.flags.c_contiguous:
        array = array.copy()
    n, m = len(array), len(values)
    if not m:
        return array
    array.resize(n + m, refcheck=False)
    hi = n
    while hi > 0:
        lo = max(0, hi - INSERT_STEP)
        # The entry at i moves up by the number of insertions at or before it; from the
        # back, each slice lands on free space or on itself (so it is copied first).
        first, last = np.searchsorted(at, [lo, hi]).tolist()
        moved = array[lo:hi].copy()
        if first == last:
            array[lo + first : hi + first] = moved
        else:
            to = np.cumsum(np.bincount(at[first:last] - lo, minlength=hi - lo))
            to += np.arange(lo + first, hi + first)
            array[to] = moved
        hi = lo
    array[at + np.arange(m)] = values
    return array


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
        self.rows: dict[str, tuple[int, str | None]] = {}  # article -> (seq, raw file), all
        # raw file -> the article signed from it, or the set of them (most files have one)
        self.by_raw_path: dict[str, str | set[str]] = {}
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
        if moved is not None and moved[0] != seq:  # deleted and written again elsewhere
            self._unindex(moved[0])
        self.rows[article_id] = (seq, raw_path)
        if raw_path is not None:
            found = self.by_raw_path.get(raw_path)
            if found is None:
                self.by_raw_path[raw_path] = article_id
            elif isinstance(found, set):
                found.add(article_id)
            elif found != article_id:
                self.by_raw_path[raw_path] = {found, article_id}
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
    ) -> None:
        """Record an article's signature (its band keys, then anchors, are ``keys``)."""
        row = self.rows.get(article_id)
        seq = row[0] if row is not None else self.max_seq + 1
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
        )
        self._index(seq, article_id, raw_path, keys)
        self.emptied.discard(article_id)

    def forget(self, article_id: str) -> None:
        """Empty an article's row (it is gone, replaced, or has no words)."""
        row = self.rows.get(article_id)
        if row is None or article_id in self.emptied:
            return
        self.stamp += 1
        self.pending[article_id] = (row[0], article_id, None, 0, b"", b"", FORGOTTEN, self.stamp)
        self._index(row[0], article_id, None, None)
        self.emptied.add(article_id)

    def signed_from(self, raw_path: str) -> list[str]:
        """Articles whose current row was made from this raw file."""
        found = self.by_raw_path.get(raw_path, ())
        signed = (found,) if isinstance(found, str) else found
        return sorted(a for a in signed if self.rows.get(a, (0, None))[1] == raw_path)

    def seq(self, article_id: str) -> int | None:
        """The ingest sequence of an article's row (None: it has none)."""
        row = self.rows.get(article_id)
        return row[0] if row is not None else None

    def indexed(self, article_id: str) -> bool:
        """True when the article's signature is in the index (current parameters)."""
        row = self.rows.get(article_id)
        return row is not None and row[0] in self.ids

    def look_ahead(self, fingerprints: Iterable[shingles.Fingerprint]) -> None:
        """Probe the index for the keys of the next articles to link, in one go."""
        self.keys.look_ahead([keys_of(fp) for fp in fingerprints])

    def candidates(self, article_id: str, keys: np.ndarray, bands: int, limit: int) -> list[str]:
        """Other articles sharing a band, or enough anchors, with these keys (the first
        ``bands`` of them band keys, then anchors); most agreement first, at most ``limit``."""
        band_hits: dict[int, int] = {}
        anchor_hits: dict[int, int] = {}
        for other, i in self.keys.lookup(keys):
            hits = band_hits if i < bands else anchor_hits
            hits[other] = hits.get(other, 0) + 1
        ids = self.ids
        ranked = sorted(
            (-band_hits.get(other, 0) - anchor_hits.get(other, 0), ids[other])
            for other in band_hits.keys() | anchor_hits.keys()
            if other in ids
            and ids[other] != article_id
            and (other in band_hits or anchor_hits[other] >= shingles.MIN_SHARED_ANCHORS)
        )
        return [other for _, other in ranked[:limit]]

    def flush(self, db: sqlite_utils.Database) -> None:
        """Write the buffered rows (in the transaction that made them)."""
        if self.pending:
            # SQLite numbers the rows and stamps them (one above the highest), in the order
            # they were made here: one stamp per row, from the stamp at the sync on (an
            # article put twice in the batch is one row, though it took two stamps here),
            # unless another connection wrote since the sync (then rebuild at the next one).
            rows = sorted(self.pending.values(), key=lambda row: row[7])
            db.conn.executemany(
                """insert into minhash
                     (article_id, raw_path, shingles, signature, anchors, params, stamp)
                   values (?, ?, ?, ?, ?, ?, (select coalesce(max(stamp), 0) + 1 from minhash))
                   on conflict(article_id) do update set raw_path = excluded.raw_path,
                     shingles = excluded.shingles, signature = excluded.signature,
                     anchors = excluded.anchors, params = excluded.params,
                     stamp = excluded.stamp""",
                [row[1:7] for row in rows],
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

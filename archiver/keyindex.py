"""A multimap from 64-bit keys to row numbers, in memory: the index of the archive's
signatures (:mod:`archiver.signatures` feeds it the band and anchor keys of each row).

It holds every key of every article (about 70 an article: 6.7 million at 100,000
articles), so its arrays are the largest part of the writer's memory: they hold 8 bytes
an entry (a key's low 32 bits and its row number; the key's top bits are implied by
where the entry sits, see :class:`KeyIndex`), and they are changed in place: a merge
that wrote new arrays beside the old ones would hold both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The index's row numbers: half the memory of int64, room for two billion rows.
SEQ_TYPE = np.int32
#: Entries moved at a time when the arrays are changed in place (a few MB of working memory).
STEP = 1 << 17
#: A key's top bits that pick its bucket: the arrays hold the entries of each bucket in
#: turn, so these bits need not be stored. With the low 32 bits stored, an entry keeps
#: 48 of its key's 64 bits (44 for an anchor, whose low 4 bits are always zero): among
#: the 6.8 million keys of 100,000 articles, a probe meets a stranger's key by chance once
#: in 40 million probes (2.6 million for anchors, two of which make a candidate); at
#: worst a candidate more, which verification rejects.
BUCKET_BITS = 16
BUCKETS = 1 << BUCKET_BITS
_LOW = np.uint64(0xFFFFFFFF)
_TOP_SHIFT = np.uint64(64 - BUCKET_BITS)


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each key's bucket (its top bits) and its low 32 bits, as the arrays hold them."""
    unsigned = keys.view(np.uint64)
    return (unsigned >> _TOP_SHIFT).astype(np.intp), (unsigned & _LOW).astype(np.uint32)


def _codes(buckets: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """The kept bits of each entry as one number (bucket, then low bits): the arrays'
    sort order."""
    return (buckets.astype(np.uint64) << np.uint64(32)) | lows.astype(np.uint64)


def _filter_words(codes: np.ndarray) -> np.ndarray:
    """Kept bits moved to the top of 64 (the filter takes the topmost)."""
    return codes << np.uint64(64 - BUCKET_BITS - 32)


def _key_words(keys: np.ndarray) -> np.ndarray:
    """``_filter_words(_codes(*split_keys(keys)))``, in fewer passes: every probe runs it."""
    unsigned = keys.view(np.uint64)
    top = (unsigned >> _TOP_SHIFT) << _TOP_SHIFT
    return top | _filter_words(unsigned & _LOW)


class KeyIndex:
    """A multimap from 64-bit keys to sequence numbers, in memory, probed many keys at once.

    The entries sit in two NumPy arrays (the keys' low 32 bits, numbers) sorted by bucket
    (the keys' top BUCKET_BITS), then by those low bits, where ``_starts[b]`` is the
    first entry of bucket b; they are probed by a binary search within each query's
    bucket, many queries at once. The newest entries sit in a dict, merged into the arrays
    when it holds more than 1 / PENDING_SHARE of their entries: each merge is linear, and
    the arrays grow by a constant factor between merges, so adding n entries costs O(n)
    moves in all (PENDING_SHARE + 1 per entry). A number whose keys were replaced (or
    removed) keeps its current keys apart, and its matches are filtered through them
    until the next merge drops its stale entries.

    Most probes find nothing (most articles are new stories), and a binary search in a
    large array misses the CPU cache at every step: a bitmap of the keys' top bits (one to
    two times FILTER_BITS bits per entry: 6% to 12% false positives) answers most first.
    """

    #: A dict entry costs about eight times an array entry (12 bytes): with the dict held
    #: to a 64th of the arrays, it is an eighth of the index's memory, and each entry is
    #: moved 65 times by merges, a few seconds in all at 100,000 articles. (A 32nd held
    #: 8 MB more at the writer's peak.)
    PENDING_SHARE = 64
    MIN_PENDING = 65_536
    #: 8 bits, not 16: 8 MB less at 100,000 articles, and a false positive costs one
    #: search of a key among the many searched together ahead of the group's lookups.
    FILTER_BITS = 8
    #: Entries returned per key and part (arrays, pending) at most: the last added. A key
    #: that hundreds of texts share is a passage of boilerplate, or a story copied that
    #: often, whose newest copies are enough to find it; without a cap each probe would
    #: cost as much as the archive holds copies of it.
    MAX_MATCHES = 64
    #: Keys whose filter bits are set in one go when the filter is rebuilt.
    MARK_KEYS = 1 << 18

    def __init__(self) -> None:
        self._lows = np.empty(0, np.uint32)
        self._seqs = np.empty(0, SEQ_TYPE)
        self._starts = np.zeros(BUCKETS + 1, np.int64)
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
        self._ahead: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self._ahead_epoch = -1

    def __len__(self) -> int:
        return len(self._lows) + self._pending_entries

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
        if self._pending_entries > max(self.MIN_PENDING, len(self._lows) // self.PENDING_SHARE):
            self._merge()

    def _tops(self, keys: np.ndarray) -> list[int]:
        """The filter bit of each key; kept for the same keys probed, then added."""
        found, log2, tops = self._last_tops
        if found is not keys or log2 != self._filter_log2:
            tops = (_key_words(keys) >> np.uint64(64 - self._filter_log2)).tolist()
            self._last_tops = (keys, self._filter_log2, tops)
        return tops

    def _bits(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The filter's byte and bit mask of each key's kept bits (their top bits)."""
        top = words >> np.uint64(64 - self._filter_log2)
        return (top >> np.uint64(3)).astype(np.intp), (top & np.uint64(7)).astype(np.uint8)

    def _mark(self, words: np.ndarray) -> None:
        """Set the filter bits of many keys, given their kept bits (:func:`_filter_words`)."""
        bitmap = np.frombuffer(self._filter, np.uint8)
        # A slice at a time: the bits of all keys at once cost three arrays of 8 bytes a
        # key; measured alone, adding past a doubling at 4.2 million keys took 165 MB more
        # that way, against 69 MB a slice at a time.
        for start in range(0, len(words), self.MARK_KEYS):
            at, bit = self._bits(words[start : start + self.MARK_KEYS])
            np.bitwise_or.at(bitmap, at, np.left_shift(np.uint8(1), bit))

    def _refilter(self) -> None:
        """A filter sized for the entries (rebuilt when they outgrow it, doubling)."""
        if len(self) * self.FILTER_BITS <= 1 << self._filter_log2:
            return
        self._filter_log2 = (self.FILTER_BITS * len(self) - 1).bit_length()
        self._filter = bytearray(1 << (self._filter_log2 - 3))
        for start in range(0, len(self._lows), self.MARK_KEYS):
            end = min(start + self.MARK_KEYS, len(self._lows))
            buckets = self._buckets_at(np.arange(start, end))
            self._mark(_filter_words(_codes(buckets, self._lows[start:end])))
        self._mark(_key_words(np.fromiter(self._pending, np.int64, len(self._pending))))

    def _buckets_at(self, positions: np.ndarray) -> np.ndarray:
        """The bucket of the entries at these positions of the arrays."""
        return self._starts.searchsorted(positions, "right") - 1

    def _search(self, buckets: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Where each target (low 32 bits, as int64) would be inserted before the equal
        entries of its bucket: a binary search in each bucket, all at once (a step of
        each per pass). ``searchsorted`` "right" is a search for the low bits plus one."""
        lo, hi = self._starts[buckets], self._starts[buckets + 1]
        stored = self._lows
        if not len(stored):
            return lo
        while True:
            open_ = np.flatnonzero(lo < hi)
            if not len(open_):
                return lo
            low, high = lo[open_], hi[open_]
            mid = (low + high) >> 1
            below = stored[mid] < targets[open_]
            lo[open_] = np.where(below, mid + 1, low)
            hi[open_] = np.where(below, high, mid)

    def add_many(self, seqs: np.ndarray, keys: np.ndarray) -> None:
        """Index many new (number, key) pairs at once (building an index from storage)."""
        self._mark(_key_words(keys.astype(np.int64)))
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
        if not batch or not len(self._lows):
            return
        queries = np.concatenate(batch)
        ends = np.cumsum([len(b) for b in batch]).tolist()
        at, bit = self._bits(_key_words(queries))
        maybe = np.flatnonzero(np.frombuffer(self._filter, np.uint8)[at] >> bit & 1)
        seqs, probed = self._array_match_arrays(queries[maybe])
        at_query = maybe[probed]
        # Matches come in query order: each set of queries' matches is one slice.
        firsts = [0, *ends]
        bounds = np.searchsorted(at_query, firsts).tolist()
        # Kept as arrays: a key that many texts share matches up to MAX_MATCHES numbers,
        # and a group's matches then run to tens of thousands of pairs.
        for n, queries_of in enumerate(batch):
            start, end = bounds[n], bounds[n + 1]
            self._ahead[queries_of.tobytes()] = (seqs[start:end], at_query[start:end] - firsts[n])

    def lookup(self, queries: np.ndarray) -> list[tuple[int, int]]:
        """(number, index of the query key) of every entry matching a query; each pair once."""
        seqs, at = self.lookup_arrays(queries)
        return list(zip(seqs.tolist(), at.tolist(), strict=True))

    def lookup_arrays(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`lookup` as two int64 arrays: the numbers, and the index of the query key
        each matched."""
        if self._ahead and self._ahead_epoch == self._epoch:
            ahead = self._ahead.get(queries.tobytes())
            if ahead is not None:
                return self._with_pending(queries, *ahead)
        bitmap = self._filter
        maybe = [
            i for i, top in enumerate(self._tops(queries)) if bitmap[top >> 3] >> (top & 7) & 1
        ]
        if not maybe:
            return _NONE, _NONE
        if len(self._lows):
            seqs, at = self._array_match_arrays(queries[maybe])
        else:
            seqs, at = _NONE, _NONE
        seqs, at = self._with_pending(queries[maybe], seqs, at)
        return seqs, np.asarray(maybe, np.int64)[at]

    def _with_pending(
        self, queries: np.ndarray, seqs: np.ndarray, at: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The arrays' matches (``seqs``, ``at``) with the pending entries' matches added
        and those of replaced numbers filtered, as :meth:`_lookup_pending` does."""
        if self._replaced and (len(seqs) or self._pending):
            found = list(zip(seqs.tolist(), at.tolist(), strict=True))
            return _pair_arrays(self._lookup_pending(queries, found))
        pending = self._lookup_pending(queries, []) if self._pending else []
        if not pending:
            return seqs, at
        more_seqs, more_at = _pair_arrays(pending)
        return np.concatenate([seqs, more_seqs]), np.concatenate([at, more_at])

    def _array_match_arrays(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The arrays' entries matching the queries, the newest MAX_MATCHES per key, in
        query order, as two arrays: the numbers, and the index of the query each matched.

        Made in NumPy: a key that boilerplate shares has up to MAX_MATCHES."""
        buckets, lows = split_keys(queries)
        targets = lows.astype(np.int64)  # no overflow at 2**32 - 1 below
        bounds = self._search(
            np.concatenate([buckets, buckets]), np.concatenate([targets, targets + 1])
        )
        start_at, end_at = bounds[: len(queries)], bounds[len(queries) :]
        hit = np.flatnonzero(end_at > start_at)
        counts = np.minimum(end_at[hit] - start_at[hit], self.MAX_MATCHES)
        # Each hit's newest entries, counts[k] of them ending at end_at[hit[k]].
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        positions = np.repeat(end_at[hit] - counts, counts) + offsets
        return self._seqs[positions].astype(np.int64), np.repeat(hit, counts)

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
        if self._replaced:
            gone = np.fromiter(self._replaced, np.int64, len(self._replaced))
            self._lows, self._seqs, dropped = drop_in_place(self._lows, self._seqs, gone)
            if len(dropped):
                counts = np.bincount(self._buckets_at(dropped), minlength=BUCKETS)
                self._starts[1:] -= np.cumsum(counts)
            stale_new = np.isin(new_seqs, gone)
            new_keys, new_seqs = new_keys[~stale_new], new_seqs[~stale_new]
            current = [(key, seq) for seq, now in self._replaced.items() for key in now]
            again = np.array(current, dtype=np.int64).reshape(-1, 2)
            new_keys = np.concatenate([new_keys, again[:, 0]])
            new_seqs = np.concatenate([new_seqs, again[:, 1].astype(SEQ_TYPE)])
            self._replaced = {}
        buckets, lows = split_keys(new_keys)
        order = np.argsort(_codes(buckets, lows), kind="stable")  # the newest of equal last
        buckets, lows, new_seqs = buckets[order], lows[order], new_seqs[order]
        at = self._search(buckets, lows.astype(np.int64) + 1)  # after the equal entries
        self._lows = insert_in_place(self._lows, at, lows)
        self._seqs = insert_in_place(self._seqs, at, new_seqs)
        self._starts[1:] += np.cumsum(np.bincount(buckets, minlength=BUCKETS))
        self._refilter()


_NONE = np.empty(0, np.int64)


def _pair_arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(number, query index) pairs as two int64 arrays."""
    if not pairs:
        return _NONE, _NONE
    both = np.array(pairs, np.int64)
    return both[:, 0], both[:, 1]


def _own(array: np.ndarray) -> np.ndarray:
    """The array itself if it can be resized in place, else a copy that can.

    Resizing may move an array's data: the index keeps no view of its arrays beyond a
    call, so none is left pointing at the old place.
    """
    if array.flags.owndata and array.flags.c_contiguous:
        return array
    return array.copy()


def drop_in_place(
    keys: np.ndarray, seqs: np.ndarray, gone: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries (``keys[i]``, ``seqs[i]``) whose number is not in ``gone``, in order,
    made by moving them down in the arrays themselves, a slice at a time; and the
    positions the dropped entries had.

    A few numbers are replaced between most merges; selecting the rest into new arrays
    held a second copy of the index, 100 MB at 100,000 articles.
    """
    keys, seqs = _own(keys), _own(seqs)
    kept = 0
    dropped = [np.empty(0, np.intp)]
    for lo in range(0, len(seqs), STEP):
        keep = ~np.isin(seqs[lo : lo + STEP], gone)
        dropped.append(np.flatnonzero(~keep) + lo)
        count = int(np.count_nonzero(keep))
        # Kept entries only move down (kept <= lo): the slice is read before it is written.
        keys[kept : kept + count] = keys[lo : lo + STEP][keep]
        seqs[kept : kept + count] = seqs[lo : lo + STEP][keep]
        kept += count
    keys.resize(kept, refcheck=False)
    seqs.resize(kept, refcheck=False)
    return keys, seqs, np.concatenate(dropped)


def insert_in_place(array: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.insert(array, at, values)`` (``at`` sorted) made by growing ``array`` itself.

    ``np.insert`` writes a new array beside the old one: for the key index of 100,000
    articles that held 63 MB more at each merge, the writer's peak. Grown in place (a
    large array is remapped, not copied) and its entries moved from the back, a slice at
    a time, to where the insertions push them, the merge holds a few MB more.
    """
    array = _own(array)
    n, m = len(array), len(values)
    if not m:
        return array
    array.resize(n + m, refcheck=False)
    hi = n
    while hi > 0:
        lo = max(0, hi - STEP)
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

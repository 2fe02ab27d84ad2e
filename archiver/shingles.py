"""Shingles, MinHash signatures and their verification: the similarity of two texts.

Texts are compared as sets of hashed 5-word shingles (lower-cased words only, so quote
styles and punctuation do not matter). A MinHash signature banded for LSH proposes
near-duplicates, anchor shingles propose excerpts, and :func:`verify` decides on the real
shingle sets. :mod:`archiver.dedupe` applies this to the archive.

The signature is made by one permutation hashing (Li, Owen and Zhang, 2012): the shingle
hashes are split into NUM_PERM bins by value and each bin's smallest is one value; an
empty bin borrows from the next filled one (rotation densification, Shrivastava and Li,
2014). Two texts agree on a value with probability equal to their Jaccard, as with
NUM_PERM separate hash functions, at the cost of the one sort that finds the set anyway.
Words are hashed in NumPy, many texts at once when the writer prefetches them.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# --- Parameters (the only place they are set) ------------------------------------------
#: Words per shingle; text is lower-cased words only, so quote styles and punctuation
#: do not matter.
SHINGLE_WORDS = 5
#: The whole-text signature: FULL_BANDS bands of FULL_ROWS MinHash values each (bins
#: of one permutation hashing; each agrees with probability equal to the Jaccard).
#: Candidate probability 1 - (1 - s**3)**20 at Jaccard s (see :func:`s_curve`): 0.93 at
#: 0.5, 0.99 at 0.6, 1.0 from 0.7 (false negatives of near-duplicates under 1%); 0.15 at
#: 0.2 and 0.02 at 0.1 (false positives, each then rejected by verification).
FULL_BANDS, FULL_ROWS = 20, 3
NUM_PERM = FULL_BANDS * FULL_ROWS
#: One shingle in ANCHOR_EVERY is an anchor; MIN_SHARED_ANCHORS shared anchors make a
#: candidate. A shared passage of L shingles is found with probability
#: 1 - e**-x (1 + x), x = L / ANCHOR_EVERY: 0.71 at 40 shingles, 0.96 at 80, 0.9995 at 160.
ANCHOR_EVERY = 16  # a power of two (anchors are picked by a bit mask)
MIN_SHARED_ANCHORS = 2
#: Verified thresholds: a near-duplicate has shingle Jaccard at least MIN_JACCARD; an
#: excerpt has at least MIN_CONTAINMENT of its shingles in the other text and is at
#: least MIN_EXCERPT_SHINGLES shingles long (a shared quote or lead sentence is not).
MIN_JACCARD = 0.5
MIN_CONTAINMENT = 0.75
MIN_EXCERPT_SHINGLES = 25
#: An excerpt's shared passage is centred within this share of the longer text (a site
#: runs the start of a story; a block found at the foot of a page is chrome).
MAX_EXCERPT_MIDDLE = 0.5
#: Changing any parameter above changes the signatures: bump this so that old rows are
#: recognised (``archiver reprocess`` re-indexes them).
PARAMS_VERSION = "5w-oph60-20x3-a16-v2"
# (The two below only decide which candidates are verified: no signature changes.)
#: A candidate whose signature agrees with the article's on so few values that a copy
#: would agree on that few less than once in this many comparisons is not verified.
MAX_MISSED_COPY = 1e-6
#: ... and only when both texts have at least this many shingles: every bin of each is
#: then filled (a bin is empty with probability e**-5), and its value agrees or not on
#: its own. In smaller sets empty bins borrow their neighbours' values, agreements come
#: in runs, and the count strays far further from the Jaccard than a binomial would.
MIN_SKETCH_SHINGLES = 5 * NUM_PERM
_SEED = 20190121

_rng = np.random.default_rng(_SEED)
# One permutation hashing: NUM_PERM bins of equal width over the 64-bit shingle hashes
# (bin j holds _BIN_STARTS[j] up to _BIN_SPANS[j] above it); a value is 32 bits of a
# bin's smallest hash: its offset from the bin's start without the lowest bits.
_BIN_STARTS = np.array([-(-(j << 64) // NUM_PERM) for j in range(NUM_PERM)], dtype=np.uint64)
_BIN_SPANS = np.append(_BIN_STARTS[1:], np.uint64(0)) - _BIN_STARTS - np.uint64(1)
_BIN_NUMBERS = np.arange(NUM_PERM)
_VALUE_SHIFT = np.uint64(int(_BIN_SPANS.max()).bit_length() - 32)
_VALUE_MASK = np.uint64(0xFFFFFFFF)
# What a value borrowed from d bins away is shifted by (d * a large odd number).
_BORROWED = np.arange(NUM_PERM, dtype=np.uint64) * np.uint64(0x9E3779B1)
_WINDOW_MUL = _rng.integers(1, 2**63, SHINGLE_WORDS, dtype=np.uint64) | np.uint64(1)
_BAND_MUL = _rng.integers(1, 2**63, FULL_ROWS + 1, dtype=np.uint64) | np.uint64(1)
_BAND_NUMBERS = (np.arange(FULL_BANDS, dtype=np.uint64) + np.uint64(1)) * _BAND_MUL[-1]
# Word hashes (see _word_hashes): letter k of a word is weighted by _LETTER_MUL ** k.
_LETTER_MUL = np.uint64(int(_rng.integers(1, 2**63)) | 1)
_LETTER_INVERSE = np.uint64(pow(int(_LETTER_MUL), -1, 2**64))
#: Bytes of words hashed in one go at most (the size of the power tables).
WORD_CHUNK_BYTES = 1 << 16
# Word splitting (see _word_bytes): non-word characters outside ASCII, and a byte table that
# turns every ASCII byte that is not a word character into a space.
_ODD_CHARS = re.compile(r"[^\w\x00-\x7f]+")
_ASCII_BYTES = bytes(range(128))
# Distinct non-word characters outside ASCII replaced one by one at most, and distinct
# characters outside ASCII looked at (beyond either, a regular expression replaces them).
_MAX_ODD_CHARS = 32
_MAX_WIDE_CHARS = 256
_ASCII_NON_WORD = bytes(
    32 if b < 128 and not (chr(b).isalnum() or chr(b) == "_") else b for b in range(256)
)
_ASCII_LOWER_NON_WORD = _ASCII_NON_WORD.translate(
    bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that two texts with this Jaccard share at least one band (the LSH S-curve)."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def anchor_probability(passage_shingles: int) -> float:
    """Chance that a shared passage of this many shingles yields enough shared anchors."""
    x = passage_shingles / ANCHOR_EVERY
    return 1.0 - sum(math.exp(-x) * x**k / math.factorial(k) for k in range(MIN_SHARED_ANCHORS))


def s_curve(points: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> str:
    """Tables of the candidate probability: MinHash LSH by Jaccard, anchors by passage length."""
    rows = ["jaccard  P(candidate)"]
    rows += [f"{s:7.2f}  {candidate_probability(s, FULL_BANDS, FULL_ROWS):.4f}" for s in points]
    rows.append("shared passage (shingles)  P(candidate by anchors)")
    rows += [f"{n:25d}  {anchor_probability(n):.4f}" for n in (25, 40, 80, 160, 320)]
    return "\n".join(rows)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An article's shingle set, its MinHash signature and the keys that find its copies."""

    shingles: np.ndarray  # sorted unique uint64 shingle hashes
    signature: np.ndarray  # NUM_PERM uint32 values, one per bin (see _minhash)
    anchors: np.ndarray  # the shingles sampled as anchors, as int64
    bands: np.ndarray  # the signature's band keys (see band_keys), int64
    ordered: np.ndarray  # the shingle hashes in reading order (see shingle_hashes)


def _word_bytes(text: str) -> bytes:
    """The lower-cased words of a text (runs of ``\\w``), UTF-8 encoded, between spaces.

    The same words as ``re.findall(r"\\w+", text.lower())``, found several times faster:
    the few distinct non-word characters outside ASCII (quotes, dashes) become spaces,
    and a byte table turns ASCII non-word bytes into spaces.
    """
    if text.isascii():  # lower-casing ASCII is one more byte mapping
        return text.encode("ascii").translate(_ASCII_LOWER_NON_WORD)
    text = text.lower()
    odd = _odd_chars(text)
    if odd is None:
        text = _ODD_CHARS.sub(" ", text)
    else:
        for char in odd:
            text = text.replace(char, " ")
    return text.encode("utf-8", "surrogatepass").translate(_ASCII_NON_WORD)


def _odd_chars(text: str) -> list[str] | None:
    """The distinct non-word characters of a text outside ASCII; None: too many to replace
    one by one.

    A text in a Latin script has a few (quotes, dashes): finding them in the UTF-8 bytes
    left once the ASCII ones are deleted (whole characters) costs a fraction of a search
    with a regular expression.
    """
    data = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    wide = set(data.decode("utf-8", "surrogatepass"))
    if len(wide) > _MAX_WIDE_CHARS:
        return None
    odd = [char for char in wide if not char.isalnum()]
    return odd if len(odd) <= _MAX_ODD_CHARS else None


def _tables(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` powers of the letter multiplier and of its inverse."""
    if count <= WORD_CHUNK_BYTES:
        return _POWERS[:count], _INVERSES[:count]
    # A word longer than a chunk (no space to cut at): tables for this call only.
    return _powers_of(_LETTER_MUL, count), _powers_of(_LETTER_INVERSE, count)


def _powers_of(base: np.uint64, count: int) -> np.ndarray:
    """base ** 0, base ** 1, ... base ** (count - 1), modulo 2 ** 64."""
    powers = np.full(count, base, np.uint64)
    powers[0] = 1
    return np.cumprod(powers)


_POWERS = _powers_of(_LETTER_MUL, WORD_CHUNK_BYTES)
_INVERSES = _powers_of(_LETTER_INVERSE, WORD_CHUNK_BYTES)


def _word_hashes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Odd 64-bit hashes of the words of a byte string of words and spaces, and where each
    word starts in it."""
    hashes, starts, done = [], [], 0
    while len(data) - done > WORD_CHUNK_BYTES:  # cut at a space: the tables stay small
        cut = data.rfind(b" ", done + 1, done + WORD_CHUNK_BYTES)
        if cut < 0:
            break
        found, at = _chunk_word_hashes(data[done:cut])
        hashes.append(found)
        starts.append(at + done)
        done = cut
    found, at = _chunk_word_hashes(data[done:] if done else data)
    if not hashes:
        return found, at
    return np.concatenate([*hashes, found]), np.concatenate([*starts, at + done])


def _chunk_word_hashes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    letters = np.frombuffer(data, np.uint8)
    edges = np.zeros(len(letters) + 2, np.int8)
    np.not_equal(letters, 32, out=edges[1:-1].view(bool))
    bounds = np.flatnonzero(np.diff(edges))
    starts, ends = bounds[::2], bounds[1::2]
    # A word's hash is the sum of its letters times powers of one odd number (by position
    # in the word): the difference of two prefix sums, divided by the power at its start.
    powers, inverses = _tables(len(letters))
    prefix = np.empty(len(letters) + 1, np.uint64)
    prefix[0] = 0
    np.cumsum(letters * powers, out=prefix[1:])
    hashes = prefix[ends]
    hashes -= prefix[starts]
    hashes *= inverses[starts]
    hashes ^= hashes >> np.uint64(32)
    hashes *= np.uint64(0xD6E8FEB86659FD93)
    hashes |= np.uint64(1)  # none is zero, the padding of a short text
    return hashes, starts


def _mixed(words: np.ndarray) -> np.ndarray:
    """The shingle hashes of a run of word hashes (at least SHINGLE_WORDS of them)."""
    # Each shingle mixes its words, weighted by position: one product over a window view.
    windows = np.ndarray(
        (len(words) - SHINGLE_WORDS + 1, SHINGLE_WORDS), np.uint64, words, 0, (8, 8)
    )
    mixed = windows @ _WINDOW_MUL
    # A final avalanche so that MinHash sees well-spread values.
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    return mixed


def shingle_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the word shingles of a text, in reading order (may repeat)."""
    return _shingle_hashes([text])[0]


def _shingle_hashes(texts: Sequence[str]) -> list[np.ndarray]:
    """:func:`shingle_hashes` of many texts, hashing all their words in one go."""
    pieces = [_word_bytes(text) for text in texts]
    words, starts = _word_hashes(b" ".join(pieces))
    # The index of each text's first word (the pieces are joined by one space).
    offsets = np.cumsum([0, *(len(piece) + 1 for piece in pieces)])
    first = starts.searchsorted(offsets).tolist()
    mixed = _mixed(words) if len(words) >= SHINGLE_WORDS else words[:0]
    found = []
    for start, end in itertools.pairwise(first):
        if end - start >= SHINGLE_WORDS:
            found.append(mixed[start : end - SHINGLE_WORDS + 1])
        elif end > start:  # padded to one shingle
            padding = np.zeros(SHINGLE_WORDS - (end - start), np.uint64)
            found.append(_mixed(np.concatenate([words[start:end], padding])))
        else:
            found.append(words[:0])
    return found


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique is several times slower on short arrays)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _minhash(shingles: np.ndarray) -> np.ndarray:
    """The signature values of a sorted shingle set, as uint64 (each under 2**32)."""
    # Sorted by hash, so sorted by bin: a bin's smallest hash is the first one at or above
    # its start, unless that one lies beyond the bin (wrapping below zero if there is none).
    offsets = shingles.take(shingles.searchsorted(_BIN_STARTS), mode="clip")
    offsets -= _BIN_STARTS
    filled = offsets <= _BIN_SPANS
    values = offsets >> _VALUE_SHIFT
    if np.count_nonzero(filled) < NUM_PERM:
        # An empty bin takes the value of the next filled one (circularly), shifted by
        # the distance: two texts agree on it exactly when they agree on that bin.
        full = np.flatnonzero(filled)
        donor = full.take(np.searchsorted(full, _BIN_NUMBERS), mode="wrap")
        values = values.take(donor) + _BORROWED.take((donor - _BIN_NUMBERS) % NUM_PERM)
        values &= _VALUE_MASK
    return values


def fingerprint(text: str) -> Fingerprint | None:
    """Shingles, signature, anchors and band keys of a text; None when it has no words."""
    found = _PREFETCHED.get(text)
    if found is not None:
        return found
    return _fingerprint(text)


def prefetch(texts: Iterable[str]) -> list[Fingerprint]:
    """Fingerprint texts about to be linked, in one go; :func:`fingerprint` then has them.

    Returns the fingerprints of the distinct texts that have words.

    Their words are hashed in one pass of NumPy, and one text at a time, between the
    writer's SQLite work, would run with cold CPU caches. Only the last call's texts are
    kept, so a caller prefetches one group at a time.
    """
    _PREFETCHED.clear()
    distinct = list(dict.fromkeys(texts))
    for text, ordered in zip(distinct, _shingle_hashes(distinct), strict=True):
        found = _fingerprint(text, ordered)
        if found is not None:
            _PREFETCHED[text] = found
    return list(_PREFETCHED.values())


def _fingerprint(text: str, ordered: np.ndarray | None = None) -> Fingerprint | None:
    if ordered is None:
        ordered = shingle_hashes(text)
    if len(ordered) == 0:
        return None
    shingles = _RECENT_SETS.put(text, _unique(ordered))
    minima = _minhash(shingles)
    anchors = shingles[(shingles & np.uint64(ANCHOR_EVERY - 1)) == 0].view(np.int64)
    return Fingerprint(shingles, minima.astype(np.uint32), anchors, _bands(minima), ordered)


def band_key_matrix(signatures: np.ndarray) -> np.ndarray:
    """Signed 64-bit keys of every band of each signature (rows), band number mixed in."""
    return _bands(signatures.astype(np.uint64).reshape(len(signatures), NUM_PERM))


def band_keys(signature: np.ndarray) -> np.ndarray:
    """Signed 64-bit keys of every band of one signature."""
    return _bands(signature.astype(np.uint64))


def _bands(minima: np.ndarray) -> np.ndarray:
    """Band keys of uint64 signature values (one signature, or rows of them)."""
    mixed = minima.reshape(*minima.shape[:-1], FULL_BANDS, FULL_ROWS) @ _BAND_MUL[:FULL_ROWS]
    mixed += _BAND_NUMBERS
    mixed ^= mixed >> np.uint64(32)
    return mixed.view(np.int64)


def overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger) of two shingle sets."""
    if len(a) == 0 or len(b) == 0:
        return 0.0, 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common), common / min(len(a), len(b))


@dataclass(frozen=True)
class Verdict:
    """How two shingle sets compare, and whether they are copies of one story."""

    jaccard: float
    containment: float  # of the smaller set in the larger
    duplicate: bool


def verify(
    a: np.ndarray, b: np.ndarray, ordered: Callable[[int], np.ndarray] | None = None
) -> Verdict:
    """Compare two shingle sets: near-duplicate (Jaccard) or excerpt (containment).

    ``ordered(i)`` gives text i's shingles in reading order (0 for a, 1 for b). With
    it, an excerpt must also lie mostly in the first half of the longer text, as a site
    running the start of a story does; a block of chrome that a page prints at its
    foot (a disclaimer, a notice) is contained in it too, but at the end.
    """
    jaccard, containment = overlap(a, b)
    duplicate = jaccard >= MIN_JACCARD or (
        containment >= MIN_CONTAINMENT
        and min(len(a), len(b)) >= MIN_EXCERPT_SHINGLES
        and (ordered is None or _leads_longer_text(a, b, ordered))
    )
    return Verdict(jaccard, containment, duplicate)


def may_copy(size_a: int, size_b: int, agreement: int) -> bool:
    """False when two signatures agreeing on ``agreement`` of NUM_PERM values rule out a
    copy of sets this large (:func:`verify` would say no), but for MAX_MISSED_COPY.

    A copy has Jaccard at least MIN_JACCARD, or holds MIN_CONTAINMENT of the smaller set:
    then, with m and M the sizes, Jaccard at least 0.75m / (M + 0.25m). Each signature
    value of two sets that fill every bin agrees with probability equal to the Jaccard
    (and the values of one set are, if anything, less alike than independent draws), so
    a copy agrees on fewer than :func:`min_copy_agreement` values only by that small
    chance. Smaller sets are always verified. Verifying a candidate
    reads its stored set and intersects two sets; most candidates in a large archive
    (the anchors of stock phrases, the other stories of one site) are no copy.
    """
    smaller, larger = sorted((size_a, size_b))
    if smaller < MIN_SKETCH_SHINGLES:
        return True  # few filled bins: the count says little (see MIN_SKETCH_SHINGLES)
    excerpt = MIN_CONTAINMENT * smaller / (larger + (1 - MIN_CONTAINMENT) * smaller)
    lowest = min(MIN_JACCARD, excerpt)
    # In hundredths, rounded down: a lower Jaccard asks for fewer agreeing values.
    return agreement >= min_copy_agreement(math.floor(lowest * 100))


@functools.lru_cache(maxsize=128)
def min_copy_agreement(jaccard_percent: int) -> int:
    """The fewest agreeing signature values a pair with this Jaccard (in hundredths)
    shows but for MAX_MISSED_COPY: the binomial tail of NUM_PERM values."""
    p = jaccard_percent / 100
    tail = 0.0
    for k in range(NUM_PERM + 1):
        tail += math.comb(NUM_PERM, k) * p**k * (1 - p) ** (NUM_PERM - k)
        if tail > MAX_MISSED_COPY:
            return k
    return NUM_PERM


def _leads_longer_text(a: np.ndarray, b: np.ndarray, ordered: Callable[[int], np.ndarray]) -> bool:
    longer_index = 0 if len(a) >= len(b) else 1
    longer, shorter = ordered(longer_index), (b if longer_index == 0 else a)
    # Membership in the shorter text's sorted set by binary search (np.isin sorts both).
    at = np.minimum(shorter.searchsorted(longer), len(shorter) - 1)
    shared_at = np.flatnonzero(shorter[at] == longer)
    if not len(shared_at):
        return False
    # The middle of the shared passage, not its first shingle: a stock phrase early in
    # the longer text is shared by chance.
    middle = (int(shared_at[(len(shared_at) - 1) // 2]) + int(shared_at[len(shared_at) // 2])) / 2
    return middle <= MAX_EXCERPT_MIDDLE * len(longer)


# Shingle sets of recently seen texts: copies of one story are compared with the same
# few articles again and again. Bounded by bytes, not texts, so the writer's memory stays
# flat whatever the length of the texts. A set missed here is read back from the archive
# (see signatures.Signatures.stored_set) for a fraction of the cost of making it: with
# 4 MB instead of 16, ingesting 20,000 text dumps took no longer and 14 MB less memory.
SHINGLE_CACHE_BYTES = 4 << 20


class _RecentSets:
    """The shingle sets of the texts seen last, up to a number of bytes.

    Keyed by the text itself (its hash and length), so an article whose text changed is
    never served a stale set.
    """

    def __init__(self) -> None:
        self.sets: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.nbytes = 0

    def get(self, text: str) -> np.ndarray | None:
        key = (hash(text), len(text))
        found = self.sets.get(key)
        if found is not None:
            self.sets.move_to_end(key)
        return found

    def put(self, text: str, shingles: np.ndarray) -> np.ndarray:
        key = (hash(text), len(text))
        replaced = self.sets.pop(key, None)
        self.nbytes += shingles.nbytes - (replaced.nbytes if replaced is not None else 0)
        self.sets[key] = shingles
        while self.nbytes > SHINGLE_CACHE_BYTES and len(self.sets) > 1:
            self.nbytes -= self.sets.popitem(last=False)[1].nbytes
        return shingles


_RECENT_SETS = _RecentSets()
# The fingerprints of the last prefetched texts, by text.
_PREFETCHED: dict[str, Fingerprint] = {}


def recent_set(text: str) -> np.ndarray | None:
    """The shingle set of a text seen lately (None: not among them)."""
    return _RECENT_SETS.get(text)


def text_digest(text: str) -> bytes:
    """A digest of a text, stored with its shingle set to tell that the set is its own."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def shingle_set(text: str) -> np.ndarray:
    """The sorted distinct shingle hashes of a text, from a cache of recent texts."""
    found = _RECENT_SETS.get(text)
    if found is not None:
        return found
    return _RECENT_SETS.put(text, _unique(shingle_hashes(text)))

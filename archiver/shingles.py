"""Shingles, MinHash signatures and their verification: the similarity of two texts.

Texts are compared as sets of hashed 5-word shingles (lower-cased words only, so quote
styles and punctuation do not matter). A MinHash signature banded for LSH proposes
near-duplicates, anchor shingles propose excerpts, and :func:`verify` decides on the real
shingle sets. :mod:`archiver.dedupe` applies this to the archive.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# --- Parameters (the only place they are set) ------------------------------------------
#: Words per shingle; text is lower-cased words only, so quote styles and punctuation
#: do not matter.
SHINGLE_WORDS = 5
#: The whole-text signature: FULL_BANDS bands of FULL_ROWS MinHash values each.
#: Candidate probability 1 - (1 - s**3)**20 at Jaccard s (see :func:`s_curve`): 0.93 at
#: 0.5, 0.99 at 0.6, 1.0 from 0.7 (false negatives of near-duplicates under 1%); 0.15 at
#: 0.2 and 0.02 at 0.1 (false positives, each then rejected by verification).
FULL_BANDS, FULL_ROWS = 20, 3
NUM_PERM = FULL_BANDS * FULL_ROWS
#: One shingle in ANCHOR_EVERY is an anchor; MIN_SHARED_ANCHORS shared anchors make a
#: candidate. A shared passage of L shingles is found with probability
#: 1 - e**-x (1 + x), x = L / ANCHOR_EVERY: 0.71 at 40 shingles, 0.96 at 80, 0.9995 at 160.
ANCHOR_EVERY = 16
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
PARAMS_VERSION = "5w-20x3-a16-v1"
_SEED = 20190121

_rng = np.random.default_rng(_SEED)
_PERM_A = _rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) | np.uint64(1)
_PERM_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_WINDOW_MUL = _rng.integers(1, 2**63, SHINGLE_WORDS, dtype=np.uint64) | np.uint64(1)
_BAND_MUL = _rng.integers(1, 2**63, FULL_ROWS + 1, dtype=np.uint64) | np.uint64(1)
_WORD = re.compile(r"\w+")
_word_cache: dict[str, int] = {}
_WORD_CACHE_MAX = 500_000


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


@dataclass(frozen=True)
class Fingerprint:
    """An article's shingle set and its MinHash signatures."""

    shingles: np.ndarray  # sorted unique uint64 shingle hashes
    signature: np.ndarray  # NUM_PERM uint32 minima over all shingles
    anchors: np.ndarray  # the shingles sampled as anchors, as int64


def _word_hashes(words: list[str]) -> list[int]:
    """Stable 32-bit hashes of words (crc32, plus one so that none is zero), cached."""
    values = list(map(_word_cache.get, words))
    if None in values:
        if len(_word_cache) >= _WORD_CACHE_MAX:
            _word_cache.clear()
        for i, value in enumerate(values):
            if value is None:
                word = words[i]
                values[i] = _word_cache[word] = zlib.crc32(word.encode("utf-8")) + 1
    return values  # type: ignore[return-value]


def shingle_hashes(text: str) -> np.ndarray:
    """64-bit hashes of the word shingles of a text, in reading order (may repeat)."""
    words = np.array(_word_hashes(_WORD.findall(text.lower())), dtype=np.uint64)
    if len(words) == 0:
        return words
    if len(words) < SHINGLE_WORDS:
        words = np.concatenate([words, np.zeros(SHINGLE_WORDS - len(words), np.uint64)])
    n = len(words) - SHINGLE_WORDS + 1
    mixed = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE_WORDS):
        mixed += words[k : k + n] * _WINDOW_MUL[k]
    # A final avalanche so that MinHash sees well-spread values.
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0x9E3779B97F4A7C15)
    mixed ^= mixed >> np.uint64(29)
    return mixed


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique is several times slower on short arrays)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _minhash(hashes: np.ndarray, perms: int) -> np.ndarray:
    permuted = (hashes[:, None] * _PERM_A[:perms] + _PERM_B[:perms]) >> np.uint64(32)
    return permuted.min(axis=0).astype(np.uint32)


def fingerprint(text: str) -> Fingerprint | None:
    """Shingles and signatures of a text; None when it has no words."""
    shingles = shingle_set(text)
    if len(shingles) == 0:
        return None
    anchors = shingles[shingles % np.uint64(ANCHOR_EVERY) == 0].view(np.int64)
    return Fingerprint(shingles, _minhash(shingles, NUM_PERM), anchors)


def band_keys(signature: np.ndarray) -> list[int]:
    """Signed 64-bit keys of every band of a signature (band number mixed in)."""
    matrix = signature.astype(np.uint64).reshape(FULL_BANDS, FULL_ROWS)
    mixed = (matrix * _BAND_MUL[:FULL_ROWS]).sum(axis=1, dtype=np.uint64)
    mixed += (np.arange(FULL_BANDS, dtype=np.uint64) + np.uint64(1)) * _BAND_MUL[-1]
    mixed ^= mixed >> np.uint64(32)
    return mixed.view(np.int64).tolist()


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


def _leads_longer_text(a: np.ndarray, b: np.ndarray, ordered: Callable[[int], np.ndarray]) -> bool:
    longer_index = 0 if len(a) >= len(b) else 1
    longer, shorter = ordered(longer_index), (b if longer_index == 0 else a)
    shared_at = np.flatnonzero(np.isin(longer, shorter))
    # The middle of the shared passage, not its first shingle: a stock phrase early in
    # the longer text is shared by chance.
    return bool(len(shared_at)) and bool(np.median(shared_at) <= MAX_EXCERPT_MIDDLE * len(longer))


# Shingle sets of recently seen texts: copies of one story are compared with the same
# few articles again and again. Keyed by the text itself (its hash and length), so an
# article whose text changed is never served a stale set.
_SHINGLE_CACHE: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
SHINGLE_CACHE_TEXTS = 8192


def shingle_set(text: str) -> np.ndarray:
    """The sorted distinct shingle hashes of a text, from a cache of recent texts."""
    key = (hash(text), len(text))
    found = _SHINGLE_CACHE.get(key)
    if found is not None:
        _SHINGLE_CACHE.move_to_end(key)
        return found
    shingles = _unique(shingle_hashes(text))
    _SHINGLE_CACHE[key] = shingles
    if len(_SHINGLE_CACHE) > SHINGLE_CACHE_TEXTS:
        _SHINGLE_CACHE.popitem(last=False)
    return shingles

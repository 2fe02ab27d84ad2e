"""Each story once: link exact copies, near-duplicates and excerpts to one canonical article.

After chrome stripping every stored article is compared with the archive (earlier runs
included) through MinHash signatures and LSH banding persisted in SQLite:

- ``minhash``: one row per article with its signatures (a blob) and its ingest sequence;
- ``lsh_bands``: one row per band of each signature, indexed by the band's hash, so the
  articles sharing a band with a new article are found with one indexed query.

- ``anchors``: the article's anchor shingles (those whose hash falls in 1 of
  :data:`ANCHOR_EVERY`), indexed; two texts sharing a passage share its anchors wherever
  the passage sits, so this finds excerpts, which MinHash on Jaccard misses (half a story
  has a Jaccard of about 0.5 with the whole, and leftover chrome lowers it further).

LSH and anchors only propose candidates; each is verified on the real shingle sets
before it is linked, so a link never rests on an estimate. A new article joins at most
one cluster, and only if it verifies against a majority of that cluster's members: a
block of site chrome left in several articles cannot chain different stories together.

A link sets ``articles.duplicate_of`` to the canonical article of the cluster (NULL on
the canonical itself) and ``similarity`` to the share of the shorter text's shingles
found in the canonical one (1.0 for an exact copy or a clean excerpt). The canonical is
the earliest published, else the longest, else the first ingested article; when a new
article becomes the canonical of an existing cluster the whole cluster is relinked, so
the outcome does not depend on the order in which copies arrive.
"""

from __future__ import annotations

import math
import re
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from . import templates
from .models import Article

# --- Parameters (the only place they are set) -------------------------------------------
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
#: Two stories an article copies both are one story when the canonical of one shares
#: this much of the shorter text with the other (a copy that gained or lost chrome).
MIN_BRIDGE_CONTAINMENT = 0.5
#: Candidates verified per article at most, best agreement first; cluster members
#: checked at most when joining a cluster.
MAX_CANDIDATES = 16
MAX_MEMBERS_CHECKED = 12
#: Changing any parameter above changes the signatures: bump this so that old rows are
#: recognised (``archiver reprocess`` re-indexes them).
PARAMS_VERSION = "5w-20x3-a16-v1"
#: SQLite page cache of the writer's connection, in KiB.
PAGE_CACHE_KIB = 65_536
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


@dataclass(frozen=True)
class Link:
    """The outcome of linking one article: its canonical (None if it is one) and similarity."""

    article_id: str
    duplicate_of: str | None
    similarity: float | None


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
    shingles = _shingle_set(text)
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


def is_duplicate(
    a: np.ndarray, b: np.ndarray, ordered: Callable[[int], np.ndarray] | None = None
) -> bool:
    """True when two shingle sets are copies of one story: near-duplicate or excerpt.

    ``ordered(i)`` gives text i's shingles in reading order (0 for a, 1 for b). With
    it, an excerpt must also lie mostly in the first half of the longer text, as a site
    running the start of a story does; a block of chrome that a page prints at its
    foot (a disclaimer, a notice) is contained in it too, but at the end.
    """
    jaccard, containment = overlap(a, b)
    if jaccard >= MIN_JACCARD:
        return True
    if containment < MIN_CONTAINMENT or min(len(a), len(b)) < MIN_EXCERPT_SHINGLES:
        return False
    if ordered is None:
        return True
    longer_index = 0 if len(a) >= len(b) else 1
    longer, shorter = ordered(longer_index), (b if longer_index == 0 else a)
    shared_at = np.flatnonzero(np.isin(longer, shorter))
    # The middle of the shared passage, not its first shingle: a stock phrase early in
    # the longer text is shared by chance.
    return bool(len(shared_at)) and bool(np.median(shared_at) <= MAX_EXCERPT_MIDDLE * len(longer))


def _reading_order(
    db: sqlite_utils.Database, ids: tuple[str, str], cache: dict[str, np.ndarray]
) -> Callable[[int], np.ndarray]:
    """A loader of the two articles' shingles in reading order, computed once each."""

    def load(index: int) -> np.ndarray:
        key = ids[index]
        if key not in cache:
            cache[key] = shingle_hashes(_texts(db, [key]).get(key, ""))
        return cache[key]

    return load


def ensure_tables(db: sqlite_utils.Database) -> None:
    """Create the persisted MinHash and LSH tables if missing; size the page cache."""
    # The band and anchor indexes are probed at random keys: a page cache holding their
    # inner pages keeps each probe to about one page read as the archive grows.
    db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    db.execute(
        """create table if not exists minhash (
            seq integer primary key,
            article_id text not null unique,
            raw_path text,
            shingles integer not null,
            signature blob not null,
            anchors blob not null,
            params text not null)"""
    )
    db.execute("create index if not exists minhash_raw_path on minhash(raw_path)")
    db.execute(
        """create table if not exists lsh_bands (
            band integer not null,
            article_id text not null,
            primary key (band, article_id)) without rowid"""
    )
    db.execute(
        """create table if not exists anchors (
            anchor integer not null,
            article_id text not null,
            primary key (anchor, article_id)) without rowid"""
    )


def _store_signature(
    db: sqlite_utils.Database, article_id: str, raw_path: str | None, fp: Fingerprint
) -> list[int]:
    _drop_bands(db, article_id)
    db.execute(
        """insert into minhash (article_id, raw_path, shingles, signature, anchors, params)
           values (?, ?, ?, ?, ?, ?)
           on conflict(article_id) do update set raw_path = excluded.raw_path,
             shingles = excluded.shingles, signature = excluded.signature,
             anchors = excluded.anchors, params = excluded.params""",
        [
            article_id,
            raw_path,
            len(fp.shingles),
            fp.signature.tobytes(),
            fp.anchors.tobytes(),
            PARAMS_VERSION,
        ],
    )
    keys = band_keys(fp.signature)
    db.conn.executemany(
        "insert or ignore into lsh_bands (band, article_id) values (?, ?)",
        [(key, article_id) for key in keys],
    )
    db.conn.executemany(
        "insert or ignore into anchors (anchor, article_id) values (?, ?)",
        [(anchor, article_id) for anchor in fp.anchors.tolist()],
    )
    return keys


def _drop_bands(db: sqlite_utils.Database, article_id: str) -> None:
    row = db.execute(
        "select signature, anchors, params from minhash where article_id = ?", [article_id]
    ).fetchone()
    if row is None:
        return
    if row[2] == PARAMS_VERSION:
        keys = band_keys(np.frombuffer(row[0], np.uint32))
        db.conn.executemany(
            "delete from lsh_bands where band = ? and article_id = ?",
            [(key, article_id) for key in keys],
        )
        db.conn.executemany(
            "delete from anchors where anchor = ? and article_id = ?",
            [(anchor, article_id) for anchor in np.frombuffer(row[1], np.int64).tolist()],
        )
    else:  # rows of other parameters cannot be recomputed: find them the slow way
        db.execute("delete from lsh_bands where article_id = ?", [article_id])
        db.execute("delete from anchors where article_id = ?", [article_id])


def forget(db: sqlite_utils.Database, article_id: str) -> None:
    """Remove an article's signature and bands (the article itself is gone or replaced)."""
    _drop_bands(db, article_id)
    db.execute("delete from minhash where article_id = ?", [article_id])


def _candidates(
    db: sqlite_utils.Database, article_id: str, keys: list[int], anchors: list[int]
) -> list[str]:
    """Articles sharing a band, or enough anchors, with this one; most agreement first."""
    counts: list[dict[str, int]] = []
    for table, column, values in (("lsh_bands", "band", keys), ("anchors", "anchor", anchors)):
        found: dict[str, int] = {}
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            rows = db.execute(
                f"""select article_id, count(*) from {table}
                    where {column} in ({",".join("?" * len(chunk))}) and article_id != ?
                    group by article_id""",
                [*chunk, article_id],
            ).fetchall()
            for other, count in rows:
                found[other] = found.get(other, 0) + count
        counts.append(found)
    bands, shared = counts
    ranked = sorted(
        (other for other in bands.keys() | shared.keys()
         if other in bands or shared[other] >= MIN_SHARED_ANCHORS),
        key=lambda other: (-bands.get(other, 0) - shared.get(other, 0), other),
    )  # fmt: skip
    return ranked[:MAX_CANDIDATES]


def _texts(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    ids = list(ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(db.execute(f"select id, text from articles where id in ({marks})", ids).fetchall())


# Shingle sets of recently seen texts: copies of one story are compared with the same
# few articles again and again. Keyed by the text itself (its hash and length), so an
# article whose text changed is never served a stale set.
_SHINGLE_CACHE: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
SHINGLE_CACHE_TEXTS = 8192


def _shingle_set(text: str) -> np.ndarray:
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


def link_article(db: sqlite_utils.Database, article_id: str) -> Link | None:
    """Index one stored article and link it (and its cluster) to the cluster's canonical."""
    row = db.execute(
        "select text, raw_path, duplicate_of from articles where id = ?", [article_id]
    ).fetchone()
    if row is None:
        return None
    fp = fingerprint(row[0] or "")
    if fp is None:
        forget(db, article_id)
        return Link(article_id, None, None)
    keys = _store_signature(db, article_id, row[1], fp)
    candidates = _candidates(db, article_id, keys, fp.anchors.tolist())
    texts = _texts(db, candidates)
    for missing in set(candidates) - set(texts):
        forget(db, missing)  # a signature left by an article deleted since
    shingle_sets = {article_id: fp.shingles}
    ordered: dict[str, np.ndarray] = {}
    verdicts: dict[str, bool] = {}
    scores: dict[str, float] = {}
    for other, other_text in texts.items():
        shingle_sets[other] = _shingle_set(other_text)
        verdicts[other] = is_duplicate(
            fp.shingles, shingle_sets[other], _reading_order(db, (article_id, other), ordered)
        )
        if verdicts[other]:
            scores[other] = overlap(fp.shingles, shingle_sets[other])[0]
    members = {article_id}
    members.update(_copies_of(db, [article_id]))
    members.update(_choose_cluster(db, article_id, scores, verdicts, shingle_sets))
    if len(members) == 1 and row[2] is None:
        return Link(article_id, None, None)  # a story of its own, already stored as such
    return _relink(db, sorted(members), article_id, shingle_sets)


def _roots(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    ids = list(ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(
        db.execute(
            f"select id, coalesce(duplicate_of, id) from articles where id in ({marks})", ids
        ).fetchall()
    )


def _copies_of(db: sqlite_utils.Database, roots: list[str]) -> list[str]:
    marks = ",".join("?" * len(roots))
    return [
        r[0]
        for r in db.execute(
            f"select id from articles where duplicate_of in ({marks}) order by id", roots
        ).fetchall()
    ]


def _choose_cluster(
    db: sqlite_utils.Database,
    article_id: str,
    scores: dict[str, float],
    verdicts: dict[str, bool],
    shingle_sets: dict[str, np.ndarray],
) -> list[str]:
    """The members of the one cluster the article joins, or [] if it starts its own.

    Clusters are tried by their best Jaccard with the article; one is joined when the
    article verifies against one of its members and is close to most of them, so a
    block of chrome shared with one member does not pull it in. A second cluster the
    article also copies is merged in only when the two stories are close themselves:
    an article never bridges two distinct stories.
    """
    roots = _roots(db, scores)
    best: dict[str, float] = {}
    for other, score in scores.items():
        root = roots.get(other, other)
        if root != article_id:
            best[root] = max(best.get(root, 0.0), score)
    joined: list[str] = []
    joined_root = None
    for root in sorted(best, key=lambda r: (-best[r], r)):
        members = [root, *(m for m in _copies_of(db, [root]) if m != article_id)]
        checked = members[:MAX_MEMBERS_CHECKED]
        agree = close = 0
        for member in checked:
            if member not in verdicts:
                _load_shingles(db, member, shingle_sets)
                verdicts[member] = is_duplicate(
                    shingle_sets[article_id],
                    shingle_sets[member],
                    _reading_order(db, (article_id, member), {}),
                )
            agree += verdicts[member]
            close += verdicts[member] or _close(shingle_sets[article_id], shingle_sets[member])
        # One copy verified, and most of the story's copies close to the article: copies
        # that gained or lost some chrome still count, a chrome block shared once does not.
        if not agree or 2 * close <= len(checked):
            continue
        if joined_root is None:
            joined, joined_root = members, root
        elif _same_story(db, joined_root, root, shingle_sets):
            # The article is a copy of both stories, and the two are close enough to be
            # one story whose copies lost or gained text: they were split, not distinct.
            joined += members
    return joined


def _load_shingles(
    db: sqlite_utils.Database, article_id: str, shingle_sets: dict[str, np.ndarray]
) -> np.ndarray:
    if article_id not in shingle_sets:
        shingle_sets[article_id] = _shingle_set(_texts(db, [article_id]).get(article_id, ""))
    return shingle_sets[article_id]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the shorter of two texts shares at least MIN_BRIDGE_CONTAINMENT with the other."""
    return (
        overlap(a, b)[1] >= MIN_BRIDGE_CONTAINMENT and min(len(a), len(b)) >= MIN_EXCERPT_SHINGLES
    )


def _same_story(
    db: sqlite_utils.Database, root: str, other: str, shingle_sets: dict[str, np.ndarray]
) -> bool:
    """True when two clusters that one article copies share most of the shorter text."""
    return _close(_load_shingles(db, root, shingle_sets), _load_shingles(db, other, shingle_sets))


def canonical_key(published: str | None, word_count: int | None, seq: int | None) -> tuple:
    """Sort key of the canonical choice: earliest published, else longest, else first ingested."""
    return (
        published is None,
        published or "",
        -(word_count or 0),
        seq if seq is not None else 2**62,
    )


def _relink(
    db: sqlite_utils.Database,
    members: list[str],
    article_id: str,
    shingle_sets: dict[str, np.ndarray],
) -> Link:
    marks = ",".join("?" * len(members))
    rows = db.execute(
        f"""select a.id, a.published, a.word_count, m.seq, a.duplicate_of, a.similarity
            from articles a left join minhash m on m.article_id = a.id
            where a.id in ({marks})""",
        members,
    ).fetchall()
    ranked = sorted(rows, key=lambda r: (*canonical_key(r[1], r[2], r[3]), r[0]))
    canonical = ranked[0][0]
    result = Link(article_id, None, None)
    for member_id, _, _, _, duplicate_of, similarity in rows:
        if member_id == canonical:
            if duplicate_of is not None or similarity is not None:
                db.execute(
                    "update articles set duplicate_of = null, similarity = null where id = ?",
                    [member_id],
                )
            continue
        if duplicate_of != canonical or similarity is None or member_id == article_id:
            similarity = _similarity(db, member_id, canonical, shingle_sets)
            db.execute(
                "update articles set duplicate_of = ?, similarity = ? where id = ?",
                [canonical, similarity, member_id],
            )
        if member_id == article_id:
            result = Link(article_id, canonical, similarity)
    return result


def _similarity(
    db: sqlite_utils.Database, a: str, b: str, shingle_sets: dict[str, np.ndarray]
) -> float:
    for key in (a, b):
        if key not in shingle_sets:
            shingle_sets[key] = _shingle_set(_texts(db, [key]).get(key, ""))
    return round(overlap(shingle_sets[a], shingle_sets[b])[1], 4)


def _orphans(db: sqlite_utils.Database, raw_path: str, keep: set[str]) -> list[str]:
    """Signatures of articles of this raw file that a re-ingest replaced."""
    rows = db.execute("select article_id from minhash where raw_path = ?", [raw_path]).fetchall()
    return [r[0] for r in rows if r[0] not in keep]


def _unlink_copies_of(db: sqlite_utils.Database, gone: str) -> list[str]:
    copies = [r[0] for r in db.execute("select id from articles where duplicate_of = ?", [gone])]
    if copies:
        db.execute(
            "update articles set duplicate_of = null, similarity = null where duplicate_of = ?",
            [gone],
        )
    return copies


# Archives whose dedupe and template tables this process has already made sure of.
_PREPARED: weakref.WeakSet[sqlite_utils.Database] = weakref.WeakSet()


def _prepare(db: sqlite_utils.Database) -> None:
    """Create the dedupe and template tables once per open archive, not once per file."""
    if db not in _PREPARED:
        ensure_tables(db)
        templates.ensure_tables(db)
        _PREPARED.add(db)


def after_save(
    db: sqlite_utils.Database,
    raw_path: str,
    articles: Sequence[Article],
    clean_dir: Path | None = None,
) -> list[Link]:
    """Link a raw file's freshly stored articles to the archive and learn site templates.

    Runs in the writer right after ``store.save_articles``, inside the writer's batch
    transaction (or its own). ``clean_dir`` is unused: clean files follow the articles
    table through its clean outbox.
    """
    _prepare(db)
    if db.conn.in_transaction:  # the writer's batch: a savepoint per file costs time
        return _link_saved(db, raw_path, articles)
    with db.atomic():
        return _link_saved(db, raw_path, articles)


def _link_saved(
    db: sqlite_utils.Database, raw_path: str, articles: Sequence[Article]
) -> list[Link]:
    links = []
    keep = {a.id for a in articles}
    relink: list[str] = []
    for gone in _orphans(db, raw_path, keep):
        forget(db, gone)
        relink.extend(_unlink_copies_of(db, gone))
    for article in articles:
        # Templates known so far are stripped before the article is indexed; it is
        # counted after linking, so that copies of one story count once per site.
        templates.apply(db, article.id)
        link = link_article(db, article.id)
        templates.observe(db, article)
        if link is not None:
            links.append(link)
    for copy in relink:
        link_article(db, copy)
    return links


def reindex(db: sqlite_utils.Database) -> tuple[int, int]:
    """Re-strip known site templates from older articles and relink what changed.

    Also indexes articles without a signature or with one made with other parameters.
    Returns (articles re-stripped, articles relinked). Flush the clean outbox afterwards.
    """
    ensure_tables(db)
    templates.ensure_tables(db)
    stripped = relinked = 0
    ids = [r[0] for r in db.execute("select id from articles order by rowid")]
    for article_id in ids:
        changed = templates.apply(db, article_id)
        stale = db.execute(
            "select params from minhash where article_id = ?", [article_id]
        ).fetchone()
        if changed or stale is None or stale[0] != PARAMS_VERSION:
            link_article(db, article_id)
            relinked += 1
        stripped += changed
    return stripped, relinked

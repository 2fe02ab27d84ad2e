"""Each story once: link exact copies, near-duplicates and excerpts to one canonical article.

After chrome stripping every stored article is compared with the archive (earlier runs
included) through MinHash signatures and LSH banding (made by :mod:`archiver.shingles`)
persisted in SQLite:

- ``minhash``: one row per article with its signatures (a blob) and its ingest sequence;
- ``lsh_bands``: one row per band of each signature, indexed by the band's hash, so the
  articles sharing a band with a new article are found with one indexed query.

- ``anchors``: the article's anchor shingles (those whose hash falls in 1 of
  :data:`archiver.shingles.ANCHOR_EVERY`), indexed; two texts sharing a passage share its anchors wherever
  the passage sits, so this finds excerpts, which MinHash on Jaccard misses (half a story
  has a Jaccard of about 0.5 with the whole, and leftover chrome lowers it further).

LSH and anchors only propose candidates; each is verified on the real shingle sets
before it is linked, so a link never rests on an estimate. A new article joins a cluster
only if it verifies against one member and shares half its text with most of them, and
it merges two clusters only when they share half their text themselves: a block of site
chrome left in several articles cannot chain different stories together.

A link sets ``articles.duplicate_of`` to the canonical article of the cluster (NULL on
the canonical itself) and ``similarity`` to the share of the shorter text's shingles
found in the canonical one (1.0 for an exact copy or a clean excerpt). The canonical is
the earliest published, else the longest, else the first ingested article; when a new
article becomes the canonical of an existing cluster the whole cluster is relinked, so
the outcome does not depend on the order in which copies arrive.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from . import shingles, templates
from .models import Article

# --- Parameters of the archive's linking (shingles and signatures: archiver.shingles) ---
#: Two stories an article copies both are one story when the canonical of one shares
#: this much of the shorter text with the other (a copy that gained or lost chrome).
MIN_BRIDGE_CONTAINMENT = 0.5
#: Candidates verified per article at most, best agreement first; cluster members
#: checked at most when joining a cluster.
MAX_CANDIDATES = 16
MAX_MEMBERS_CHECKED = 12
#: SQLite page cache of the writer's connection, in KiB.
PAGE_CACHE_KIB = 65_536


@dataclass(frozen=True)
class Link:
    """The outcome of linking one article: its canonical (None if it is one) and similarity."""

    article_id: str
    duplicate_of: str | None
    similarity: float | None


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
    db: sqlite_utils.Database, article_id: str, raw_path: str | None, fp: shingles.Fingerprint
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
            shingles.PARAMS_VERSION,
        ],
    )
    keys = shingles.band_keys(fp.signature)
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
    if row[2] == shingles.PARAMS_VERSION:
        keys = shingles.band_keys(np.frombuffer(row[0], np.uint32))
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
         if other in bands or shared[other] >= shingles.MIN_SHARED_ANCHORS),
        key=lambda other: (-bands.get(other, 0) - shared.get(other, 0), other),
    )  # fmt: skip
    return ranked[:MAX_CANDIDATES]


def _texts(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, str]:
    ids = list(ids)
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return dict(db.execute(f"select id, text from articles where id in ({marks})", ids).fetchall())


class _Comparison:
    """The texts, shingle sets and verdicts met while linking one article, each made once."""

    def __init__(self, db: sqlite_utils.Database, article_id: str, text: str) -> None:
        self.db, self.article_id = db, article_id
        self.texts = {article_id: text}
        self.sets: dict[str, np.ndarray] = {}
        self.in_order: dict[str, np.ndarray] = {}
        self.verdicts: dict[tuple[str, str], shingles.Verdict] = {}

    def text(self, key: str) -> str:
        """An article's stored text, read once."""
        if key not in self.texts:
            self.texts.update(_texts(self.db, [key]))
        return self.texts.get(key, "")

    def set_of(self, key: str) -> np.ndarray:
        """An article's shingle set."""
        if key not in self.sets:
            self.sets[key] = shingles.shingle_set(self.text(key))
        return self.sets[key]

    def verdict(self, a: str, b: str) -> shingles.Verdict:
        """How two articles compare (the excerpt test reads both in reading order)."""
        if (a, b) not in self.verdicts:

            def ordered(index: int) -> np.ndarray:
                key = (a, b)[index]
                if key not in self.in_order:
                    self.in_order[key] = shingles.shingle_hashes(self.text(key))
                return self.in_order[key]

            self.verdicts[a, b] = shingles.verify(self.set_of(a), self.set_of(b), ordered)
        return self.verdicts[a, b]

    def copies(self, other: str) -> bool:
        """True when the article and another are copies of one story."""
        return self.verdict(self.article_id, other).duplicate

    def close(self, a: str, b: str) -> bool:
        """True when the shorter of two texts shares MIN_BRIDGE_CONTAINMENT with the other."""
        verdict = self.verdict(a, b)
        shorter = min(len(self.set_of(a)), len(self.set_of(b)))
        return verdict.duplicate or (
            verdict.containment >= MIN_BRIDGE_CONTAINMENT
            and shorter >= shingles.MIN_EXCERPT_SHINGLES
        )


def link_article(db: sqlite_utils.Database, article_id: str) -> Link | None:
    """Index one stored article and link it (and its cluster) to the cluster's canonical."""
    row = db.execute(
        "select text, raw_path, duplicate_of from articles where id = ?", [article_id]
    ).fetchone()
    if row is None:
        return None
    fp = shingles.fingerprint(row[0] or "")
    if fp is None:
        forget(db, article_id)
        return Link(article_id, None, None)
    keys = _store_signature(db, article_id, row[1], fp)
    candidates = _candidates(db, article_id, keys, fp.anchors.tolist())
    seen = _Comparison(db, article_id, row[0])
    seen.sets[article_id] = fp.shingles
    seen.texts.update(_texts(db, candidates))
    for missing in set(candidates) - set(seen.texts):
        forget(db, missing)  # a signature left by an article deleted since
    scores = {
        other: seen.verdict(article_id, other).jaccard
        for other in candidates
        if other in seen.texts and seen.copies(other)
    }
    members = {article_id}
    members.update(_copies_of(db, [article_id]))
    members.update(_choose_cluster(db, article_id, scores, seen))
    if len(members) == 1 and row[2] is None:
        return Link(article_id, None, None)  # a story of its own, already stored as such
    return _relink(db, sorted(members), article_id, seen)


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
    db: sqlite_utils.Database, article_id: str, scores: dict[str, float], seen: _Comparison
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
        agree = sum(seen.copies(member) for member in checked)
        close = sum(seen.close(article_id, member) for member in checked)
        # One copy verified, and most of the story's copies close to the article: copies
        # that gained or lost some chrome still count, a chrome block shared once does not.
        if not agree or 2 * close <= len(checked):
            continue
        if joined_root is None:
            joined, joined_root = members, root
        elif seen.close(joined_root, root):
            # The article is a copy of both stories, and the two are close enough to be
            # one story whose copies lost or gained text: they were split, not distinct.
            joined += members
    return joined


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
    seen: _Comparison,
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
            similarity = round(seen.verdict(member_id, canonical).containment, 4)
            db.execute(
                "update articles set duplicate_of = ?, similarity = ? where id = ?",
                [canonical, similarity, member_id],
            )
        if member_id == article_id:
            result = Link(article_id, canonical, similarity)
    return result


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
        if changed or stale is None or stale[0] != shingles.PARAMS_VERSION:
            link_article(db, article_id)
            relinked += 1
        stripped += changed
    return stripped, relinked

"""Each story once: link exact copies, near-duplicates and excerpts to one canonical article.

After chrome stripping every stored article is compared with the archive (earlier runs
included) through MinHash signatures, LSH banding and anchor shingles (made by
:mod:`archiver.shingles`):

- The bands of a signature propose near-duplicates: two texts sharing one band are
  candidates (the rates are at the top of :mod:`archiver.shingles`).
- The anchors are the shingles whose hash falls in 1 of :data:`archiver.shingles.ANCHOR_EVERY`;
  two texts sharing a passage share its anchors wherever the passage sits, so they find
  excerpts, which MinHash on Jaccard misses (half a story has a Jaccard of about 0.5
  with the whole, and leftover chrome lowers it further).

The signatures are persisted, and probed in memory (:mod:`archiver.signatures`): a later
run finds the copies of earlier articles without recomputing the corpus. The stage's own
writes (signatures, template counts) are buffered and written by :func:`flush` before the
writer commits its batch.

LSH and anchors only propose candidates; each is verified on the real shingle sets
before it is linked, so a link never rests on an estimate. A candidate whose signature
agrees too little with the article's for any copy is dropped unverified (a copy is
dropped so once in a million: :func:`archiver.shingles.may_copy`). A new article joins a cluster
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

import ctypes
import json
import platform
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from . import shingles, signatures, store, templates
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
PAGE_CACHE_KIB = 8_192
#: Articles that :func:`prepare` works on at most in one call.
PREPARE_ARTICLES = 256


@dataclass(frozen=True)
class Link:
    """The outcome of linking one article: its canonical (None if it is one) and similarity."""

    article_id: str
    duplicate_of: str | None
    similarity: float | None


def ensure_tables(db: sqlite_utils.Database) -> None:
    """Create the persisted MinHash table if missing (or bring an older one up to date)."""
    # Candidate texts are read at random keys: a page cache holding the inner pages of
    # the articles' indexes keeps each read to about one page as the archive grows.
    db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
    signatures.ensure_table(db)


_SIGNATURES: weakref.WeakKeyDictionary[sqlite_utils.Database, signatures.Signatures] = (
    weakref.WeakKeyDictionary()
)


def _signatures(db: sqlite_utils.Database) -> signatures.Signatures:
    """The archive's signatures in memory, in step with its ``minhash`` table."""
    found = _SIGNATURES.get(db)
    if found is None:
        found = _SIGNATURES[db] = signatures.Signatures()
    found.sync(db)
    return found


def flush(db: sqlite_utils.Database) -> None:
    """Write what the dedupe stage buffered (signatures, template counts); before a commit."""
    found = _SIGNATURES.get(db)
    if found is not None:
        found.flush(db)
    templates.flush(db)


def forget(db: sqlite_utils.Database, article_id: str) -> None:
    """Drop an article's signature (the article itself is gone or replaced, or has no words)."""
    _signatures(db).forget(article_id)
    flush(db)


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
        """An article's shingle set: made lately, or as signed, or made from its text."""
        found = self.sets.get(key)
        if found is None:
            text = self.text(key)
            found = shingles.recent_set(text)
            if found is None:
                digest = shingles.text_digest(text)
                found = _signatures(self.db).stored_set(self.db, key, digest)
            if found is None:
                found = shingles.shingle_set(text)
            self.sets[key] = found
        return found

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
    link = _link_stored(db, _signatures(db), article_id)
    flush(db)
    return link


def _link_stored(
    db: sqlite_utils.Database, sigs: signatures.Signatures, article_id: str
) -> Link | None:
    row = db.execute("select text, raw_path from articles where id = ?", [article_id]).fetchone()
    if row is None:
        return None
    return _link(db, sigs, article_id, row[0] or "", row[1])[0]


def _link(
    db: sqlite_utils.Database,
    sigs: signatures.Signatures,
    article_id: str,
    text: str,
    raw_path: str | None,
    just_saved: bool = False,
) -> tuple[Link, list[str] | None]:
    """Link a stored article with this text (the signatures in step with the archive);
    also returns the members of its story (None: not known).

    ``just_saved``: the article was stored unlinked right before (``save_articles``).
    """
    fp = shingles.fingerprint(text)
    if fp is None:
        sigs.forget(article_id)
        return Link(article_id, None, None), None
    keys = signatures.keys_of(fp)
    candidates = sigs.candidates(article_id, keys, len(fp.bands), MAX_CANDIDATES)
    # Only a linked article can be a canonical, and every linked article has a row: an
    # article stored unlinked without a row has no copies yet.
    new = just_saved and sigs.seq(article_id) is None
    sigs.put(article_id, raw_path, fp, keys, shingles.text_digest(text))
    seen = _Comparison(db, article_id, text)
    seen.sets[article_id] = fp.shingles
    seen.in_order[article_id] = fp.ordered
    roots = _roots(db, candidates)
    for missing in sorted(set(candidates) - set(roots)):
        sigs.forget(missing)  # a signature left by an article deleted since
    plausible = _plausible(db, sigs, fp, candidates)
    scores = _copy_scores(article_id, candidates, roots, seen, plausible)
    duplicate_of, copies = None, "[]"
    if not new:
        duplicate_of, copies = db.execute(
            """select (select duplicate_of from articles where id = ?1),
                      (select json_group_array(id) from
                         (select id from articles where duplicate_of = ?1 order by id))""",
            [article_id],
        ).fetchone()
    members = {article_id, *json.loads(copies)}
    members.update(_choose_cluster(db, article_id, scores, roots, seen))
    if len(members) == 1 and duplicate_of is None:
        return Link(article_id, None, None), [article_id]  # a story of its own, as stored
    story = sorted(members)
    return _relink(db, sigs, story, article_id, seen), story


def _plausible(
    db: sqlite_utils.Database,
    sigs: signatures.Signatures,
    fp: shingles.Fingerprint,
    candidates: list[str],
) -> Callable[[str], bool]:
    """Whether a candidate may be a copy of the article, as far as the signatures tell
    (see :func:`shingles.may_copy`); a candidate without a current row may."""
    size, signature = len(fp.shingles), fp.signature
    if size < shingles.MIN_SKETCH_SHINGLES or not candidates:
        return lambda other: True  # may_copy rules out none: no rows worth reading
    # A row may be older than its article's text: a file whose articles are all stored
    # before any is linked. The candidates came from those rows too, and each of those
    # articles is linked in its turn, with its own current row, finding this one.
    sketches = sigs.sketches(db, candidates)

    def plausible(other: str) -> bool:
        found = sketches.get(other)
        if found is None:
            return True
        other_size, other_signature = found
        agreement = int(np.count_nonzero(signature == other_signature))
        return shingles.may_copy(size, other_size, agreement)

    return plausible


def _copy_scores(
    article_id: str,
    candidates: list[str],
    roots: dict[str, str],
    seen: _Comparison,
    plausible: Callable[[str], bool],
) -> dict[str, float]:
    """The Jaccard of the candidates the article copies, as far as choosing its cluster
    needs them: every story it copies, and the best Jaccard of each when there are two.

    A story copied hundreds of times brings a candidate list of its copies alone, and
    each verification makes a shingle set from a stored text (most of the writer's time
    in a large archive). So the candidates are verified a story at a time, best ranked
    first, up to the first copy; the rest only when a second story is copied too, where
    the order of trying them depends on each one's best Jaccard. A candidate the
    signatures rule out (``plausible``) is not verified at all.
    """
    scores: dict[str, float] = {}
    copied: set[str] = set()
    deferred: list[str] = []
    for other in candidates:
        root = roots.get(other)
        if root is None:  # deleted since it was signed
            continue
        if root in copied:
            deferred.append(other)
        elif plausible(other) and seen.copies(other):
            scores[other] = seen.verdict(article_id, other).jaccard
            copied.add(root)
    if len(copied - {article_id}) > 1:
        scores.update(
            (other, seen.verdict(article_id, other).jaccard)
            for other in deferred
            if plausible(other) and seen.copies(other)
        )
    return scores


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
    roots: dict[str, str],
    seen: _Comparison,
) -> list[str]:
    """The members of the one cluster the article joins, or [] if it starts its own.

    Clusters are tried by their best Jaccard with the article; one is joined when the
    article verifies against one of its members and is close to most of them, so a
    block of chrome shared with one member does not pull it in. A second cluster the
    article also copies is merged in only when the two stories are close themselves:
    an article never bridges two distinct stories.
    """
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
    sigs: signatures.Signatures,
    members: list[str],
    article_id: str,
    seen: _Comparison,
) -> Link:
    marks = ",".join("?" * len(members))
    rows = [
        (member, published, words, sigs.seq(member), duplicate_of, similarity)
        for member, published, words, duplicate_of, similarity in db.execute(
            f"""select id, published, word_count, duplicate_of, similarity
                from articles where id in ({marks})""",
            members,
        ).fetchall()
    ]
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


# What before_save made of a raw file's articles, by archive: (as read, as stripped) by id,
# for the after_save of the same file, which counts the lines of the article as read.
_BEFORE_SAVE: weakref.WeakKeyDictionary[
    sqlite_utils.Database, dict[str, tuple[Article, Article]]
] = weakref.WeakKeyDictionary()


def prepare(db: sqlite_utils.Database, articles: Sequence[Article]) -> None:
    """Do ahead, in one go, what storing and linking the writer's next articles will need.

    Optional: their known site templates are stripped and their texts fingerprinted,
    which one article at a time between SQLite writes runs with cold CPU caches. An
    article whose site learns a template in between is simply done again.
    """
    _prepare(db)
    ahead = templates.strip_ahead(db, articles[:PREPARE_ARTICLES])
    fingerprints = shingles.prefetch(article.text for article in ahead)
    _signatures(db).look_ahead(fingerprints)


def before_save(db: sqlite_utils.Database, articles: Sequence[Article]) -> list[Article]:
    """Strip the site templates known so far from a raw file's articles about to be stored.

    Optional: :func:`after_save` strips what is left. Stripping first stores each article
    once, instead of storing it and then rewriting its text (and its full-text entry).
    Call both in one transaction, so that no other process learns templates in between.
    """
    _prepare(db)
    stripped = [templates.strip(db, article) for article in articles]
    _BEFORE_SAVE[db] = {
        after.id: (article, after) for article, after in zip(articles, stripped, strict=True)
    }
    return stripped


def after_save(
    db: sqlite_utils.Database,
    raw_path: str,
    articles: Sequence[Article],
    clean_dir: Path | None = None,
    defer: bool = False,
) -> list[Link]:
    """Link a raw file's freshly stored articles to the archive and learn site templates.

    Runs in the writer right after ``store.save_articles``, inside the writer's batch
    transaction (or its own). With ``defer``, the stage's own writes wait for
    :func:`flush`, which the writer calls before it commits the batch (one statement per
    table for the whole batch). ``clean_dir`` is unused: clean files follow the articles
    table through its clean outbox.
    """
    _prepare(db)
    if db.conn.in_transaction:  # the writer's batch: a savepoint per file costs time
        links = _link_saved(db, raw_path, articles)
        if not defer:
            flush(db)
        return links
    with db.atomic():
        links = _link_saved(db, raw_path, articles)
        flush(db)
        return links


def _link_saved(
    db: sqlite_utils.Database, raw_path: str, articles: Sequence[Article]
) -> list[Link]:
    links = []
    keep = {a.id for a in articles}
    relink: list[str] = []
    sigs = _signatures(db)
    for gone in sigs.signed_from(db, raw_path):
        # A signature of an article a re-ingest replaced; one a partial read kept stays.
        if gone not in keep and not store.article_stored(db, gone):
            sigs.forget(gone)
            relink.extend(_unlink_copies_of(db, gone))
    stripped_before = _BEFORE_SAVE.pop(db, {})
    counted_sites: set[str | None] = set()
    for stored in articles:
        read, earlier = stripped_before.get(stored.id, (stored, None))
        site = templates.site_of(read.site, read.source)
        if earlier is not stored:  # not what before_save returned: strip it here
            read, earlier = stored, None
        # Templates known so far are stripped before the article is indexed; it is
        # counted (as read, template lines included) after linking, so that copies of
        # one story count once per site. What before_save stripped stands unless an
        # article of the same site was counted since.
        if earlier is None or site in counted_sites:
            stripped = templates.strip(db, read, earlier)
            if stripped is not stored:
                templates.store_stripped(db, stored, stripped)
        else:
            stripped = stored
        link, story = _link(db, sigs, stored.id, stripped.text, stored.raw_path, True)
        if templates.count(db, read, story):
            counted_sites.add(site)
        links.append(link)
    for copy in relink:
        _link_stored(db, sigs, copy)
    return links


def outdated_signatures(db_path: str | Path) -> int:
    """Articles indexed with older signature parameters: not compared until re-indexed
    (:func:`reindex`, which ``archiver reprocess`` runs)."""
    db = sqlite_utils.Database(db_path)
    try:
        return signatures.outdated(db)
    finally:
        db.close()


def reindex(db: sqlite_utils.Database) -> tuple[int, int]:
    """Re-strip known site templates from older articles and relink what changed.

    Also indexes articles without a signature or with one made with other parameters.
    Returns (articles re-stripped, articles relinked). Flush the clean outbox afterwards.
    """
    ensure_tables(db)
    templates.ensure_tables(db)
    stripped = relinked = 0
    sigs = _signatures(db)
    ids = [r[0] for r in db.execute("select id from articles order by rowid")]
    for article_id in ids:
        changed = templates.apply(db, article_id)
        if changed or not sigs.indexed(article_id):
            _link_stored(db, sigs, article_id)
            relinked += 1
        stripped += changed
    flush(db)
    return stripped, relinked


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing).

    The writer makes and frees NumPy arrays of megabytes (shingle sets, the key index's
    merges and filter), and glibc carves the next ones from the heap, whose freed pages
    it keeps: after 30,000 text dumps the writer held 50 MB of them. Trimming after each
    commit costs well under a millisecond a batch.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _find_malloc_trim() -> Callable[[int], int] | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _find_malloc_trim()

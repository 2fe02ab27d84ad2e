"""Learned site templates: a short line that recurs across many articles of one site is chrome.

No rule can know every site's promos and widgets ("Story continues below", a newsletter
plug, a section label). The archive learns them: each stored article's short body lines
are counted per site (the ``site`` column, else ``source``) in SQLite, so the knowledge
grows with the archive and survives restarts. Once a line qualifies as a template it is
stripped from new articles at ingest, and ``archiver reprocess`` strips it from older
ones; each stripped line lands in ``removed_lines`` with reason ``template``.

Guards against the opposite error (a sentence quoted in many articles is not chrome):

- only lines that are not running text count (chrome's own paragraph test), at most
  :data:`MAX_TEMPLATE_WORDS` words;
- a line must recur in at least :data:`MIN_ARTICLES` distinct articles of the site and in
  at least :data:`MIN_SHARE` of all the site's articles counted so far;
- copies of one story count once per site (a duplicate whose cluster already has an
  article of the same site is not counted);
- a sentence-like line (sentence punctuation or quotation marks) must also recur at the
  same position in the body (counted from the nearer end) in :data:`MIN_SAME_POSITION`
  of its articles: a site's sign-off does, a quote does not.

The counts of the sites met are kept in memory per open archive; they are read again
when another connection has written (``PRAGMA data_version``) or the archive's total
moved (a rollback). Counting is buffered: :func:`flush` writes the counts of a batch in
one statement per table, before the writer commits.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import re
import weakref
from collections.abc import Sequence
from pathlib import Path

import sqlite_utils

from . import lang, sources
from .lines import describe_line, normalise, split_lines
from .models import Article, RemovedLine

#: The reason label of a line stripped as a learned template.
TEMPLATE = "template"
MAX_TEMPLATE_WORDS = 12
MIN_ARTICLES = 5
MIN_SHARE = 0.3
MIN_SAME_POSITION = 0.8
#: Short lines whose key and shape are remembered: a site prints its templates again
#: and again.
LINE_CACHE_SIZE = 16_384

_QUOTES = re.compile('["“”«»„]')


@functools.lru_cache(maxsize=LINE_CACHE_SIZE)
def line_key(text: str) -> int:
    """A signed 64-bit key of a line's normalised words."""
    digest = hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def site_of(site: str | None, source: str | None) -> str | None:
    """The key templates are learned under: the site, else the source."""
    return site or source


def ensure_tables(db: sqlite_utils.Database) -> None:
    """Create the template count tables if missing."""
    db.execute(
        "create table if not exists template_sites (site text primary key, articles integer)"
    )
    db.execute(
        """create table if not exists template_seen (
            site text not null, article_id text not null,
            primary key (site, article_id)) without rowid"""
    )
    db.execute(
        """create table if not exists template_lines (
            site text not null, line_key integer not null, text text not null,
            articles integer not null, sentence integer not null,
            position integer not null, at_position integer not null,
            primary key (site, line_key)) without rowid"""
    )


def _body_lines(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def _short(paragraph: str) -> bool:
    """At most MAX_TEMPLATE_WORDS words (splitting no further than needed to tell)."""
    return len(paragraph.split(None, MAX_TEMPLATE_WORDS)) <= MAX_TEMPLATE_WORDS


# The last texts split: an article is stripped (with the writer's next ones, see
# strip_ahead), then counted, as the same text.
_SPLITS: dict[str, tuple[list[str], list[int]]] = {}
SPLITS_KEPT = 256


def _short_lines(text: str) -> tuple[list[str], list[int]]:
    """The body paragraphs of a text, and the indexes of the short ones."""
    found = _SPLITS.get(text)
    if found is None:
        if len(_SPLITS) >= SPLITS_KEPT:
            _SPLITS.clear()
        paragraphs = _body_lines(text)
        found = _SPLITS[text] = (paragraphs, [i for i, p in enumerate(paragraphs) if _short(p)])
    return found


def _position(index: int, count: int) -> int:
    """Index from the start in the first half of the body, negative from the end after."""
    return index if index < (count + 1) // 2 else index - count


def _candidate_lines(text: str, language: str | None) -> list[tuple[int, str, bool, int]]:
    """(key, text, sentence-like, position) of the body lines that could be templates."""
    paragraphs, short = _short_lines(text)
    found: dict[int, tuple[int, str, bool, int]] = {}
    for index in short:  # most paragraphs are long
        paragraph = paragraphs[index]
        candidate = _candidate_line(paragraph, language)
        if candidate is not None:
            key, line, sentence = candidate
            found.setdefault(key, (key, line, sentence, _position(index, len(paragraphs))))
    return list(found.values())


@functools.lru_cache(maxsize=LINE_CACHE_SIZE)
def _candidate_line(paragraph: str, language: str | None) -> tuple[int, str, bool] | None:
    """(key, text, sentence-like) of a short paragraph that could be a template, else None."""
    line = describe_line(0, paragraph, lang.stopwords(language))
    if line.content or line.words == 0 or line.words > MAX_TEMPLATE_WORDS:
        return None
    return line_key(paragraph), line.text, line.sentence or bool(_QUOTES.search(paragraph))


def _qualifies(articles: int, sentence: int, at_position: int, site_articles: int) -> bool:
    """True when a line with these counts is a template of a site with this many articles."""
    return (
        articles >= MIN_ARTICLES
        and articles >= MIN_SHARE * site_articles
        and (not sentence or at_position >= MIN_SAME_POSITION * articles)
    )


@dataclasses.dataclass(slots=True)
class _LineCount:
    """How often a site printed a line: in how many articles, and how many at ``position``."""

    articles: int
    sentence: int
    position: int
    at_position: int
    text: str | None = None  # set for a line first met here (the archive has the others)

    def qualifies(self, site_articles: int) -> bool:
        """True when the line is a template of a site with this many articles."""
        return _qualifies(self.articles, self.sentence, self.at_position, site_articles)


class _Site:
    """One site's counts: its articles, its lines' counts, the lines that qualify, and the
    articles counted."""

    def __init__(self, articles: int, lines: dict[int, _LineCount]) -> None:
        self.articles = articles
        self.lines = lines
        self.known = {key for key, line in lines.items() if line.qualifies(articles)}
        self.generation = 0  # raised whenever the known templates change
        self.counted: set[str] | None = None  # read when first needed


class _Counts:
    """The template counts of the sites of one open archive met so far, as the archive holds
    them plus this process's counts not yet written (see :func:`flush`)."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.total: float | None = None  # sum of template_sites.articles in the archive
        self.sites: dict[str, _Site] = {}
        self.new_seen: list[tuple[str, str]] = []
        self.site_added: dict[str, int] = {}
        # (site, line key) -> its (articles, at_position) in the archive, (0, 0) if new
        self.lines_changed: dict[tuple[str, int], tuple[int, int]] = {}
        # article id -> (article, its site's counts, their generation, article stripped),
        # made by strip_ahead
        self.ahead: dict[str, tuple[Article, _Site, int, Article]] = {}

    def site(self, db: sqlite_utils.Database, site: str, fresh: bool = False) -> _Site:
        """A site's counts; read again if the archive changed other than through here.

        ``fresh``: the caller has just made sure of that (see :meth:`refresh`).
        """
        if not fresh:
            self.refresh(db)
        found = self.sites.get(site)
        if found is None:
            row = db.execute("select articles from template_sites where site = ?", [site])
            articles = (row.fetchone() or (0,))[0]
            lines = db.execute(
                """select line_key, articles, sentence, position, at_position
                   from template_lines where site = ?""",
                [site],
            ).fetchall()
            found = self.sites[site] = _Site(articles, {r[0]: _LineCount(*r[1:]) for r in lines})
        return found

    def refresh(self, db: sqlite_utils.Database) -> None:
        """Forget the sites read if the archive changed other than through here."""
        if not self.site_added:
            # Nothing buffered: a new transaction may follow writes of another connection
            # (data_version moves) or a rollback of ours (the total of counts moves).
            version, total = db.execute(
                """select (select data_version from pragma_data_version),
                          (select total(articles) from template_sites)"""
            ).fetchone()
            if version != self.version or total != self.total:
                self.sites.clear()
            self.version, self.total = version, total

    def count(
        self, db: sqlite_utils.Database, site: str, article: Article, others: list[str]
    ) -> bool:
        """Count an article's candidate lines for its site, unless it (or a copy) was."""
        state = self.site(db, site)
        if state.counted is None:
            rows = db.execute("select article_id from template_seen where site = ?", [site])
            state.counted = {r[0] for r in rows}
        if article.id in state.counted or any(m in state.counted for m in others):
            return False
        state.counted.add(article.id)
        self.new_seen.append((site, article.id))
        state.articles += 1
        self.site_added[site] = self.site_added.get(site, 0) + 1
        for key, text, sentence, position in _candidate_lines(article.text, article.language):
            line = state.lines.get(key)
            before = (line.articles, line.at_position) if line else (0, 0)
            self.lines_changed.setdefault((site, key), before)
            if line is None:
                line = state.lines[key] = _LineCount(1, int(sentence), position, 1, text)
            else:
                line.articles += 1
                line.at_position += line.position == position
            if key not in state.known and line.qualifies(state.articles):
                state.known.add(key)
                state.generation += 1
        # Only a line just counted can start to qualify; any can stop (the site grew).
        lost = [key for key in state.known if not state.lines[key].qualifies(state.articles)]
        if lost:
            state.known.difference_update(lost)
            state.generation += 1
        return True

    def flush(self, db: sqlite_utils.Database) -> None:
        """Write the buffered counts: one statement per table."""
        if not self.site_added:
            return
        db.conn.executemany(
            "insert or ignore into template_seen (site, article_id) values (?, ?)", self.new_seen
        )
        db.conn.executemany(
            """insert into template_sites (site, articles) values (?, ?)
               on conflict(site) do update set articles = articles + excluded.articles""",
            list(self.site_added.items()),
        )
        rows = []
        for (site, key), (articles, at_position) in self.lines_changed.items():
            line = self.sites[site].lines[key]
            added, added_at = line.articles - articles, line.at_position - at_position
            rows.append((site, key, line.text or "", added, line.sentence, line.position, added_at))
        db.conn.executemany(
            """insert into template_lines
                 (site, line_key, text, articles, sentence, position, at_position)
               values (?, ?, ?, ?, ?, ?, ?)
               on conflict(site, line_key) do update set articles = articles + excluded.articles,
                 at_position = at_position + excluded.at_position""",
            rows,
        )
        self.total = (self.total or 0) + sum(self.site_added.values())
        self.new_seen, self.site_added, self.lines_changed = [], {}, {}


_COUNTS: weakref.WeakKeyDictionary[sqlite_utils.Database, _Counts] = weakref.WeakKeyDictionary()


def _counts(db: sqlite_utils.Database) -> _Counts:
    found = _COUNTS.get(db)
    if found is None:
        found = _COUNTS[db] = _Counts()
    return found


def _story_others(db: sqlite_utils.Database, article_id: str) -> list[str]:
    """The other articles of this article's story (its canonical and the canonical's copies)."""
    row = db.execute(
        "select coalesce(duplicate_of, id) from articles where id = ?", [article_id]
    ).fetchone()
    if row is None:
        return []
    root = row[0]
    # Two indexed lookups (the root, then its copies): an OR would scan the table.
    copies = db.execute("select id from articles where duplicate_of = ?", [root]).fetchall()
    return [m for m in [root, *(r[0] for r in copies)] if m != article_id]


def count(db: sqlite_utils.Database, article: Article, story: Sequence[str] | None = None) -> bool:
    """Count a stored article's candidate lines for its site; False if not counted.

    ``story`` lists the articles of its story when the caller has just linked it (it is
    read from the archive otherwise): another copy already counted for the site means
    this one is not. The counts are written by :func:`flush`.
    """
    site = site_of(article.site, article.source)
    if site is None:
        return False
    others = _story_others(db, article.id) if story is None else [
        m for m in story if m != article.id
    ]  # fmt: skip
    return _counts(db).count(db, site, article, others)


def observe(
    db: sqlite_utils.Database, article: Article, story: Sequence[str] | None = None
) -> bool:
    """Count a stored article's candidate lines for its site now; False if not counted."""
    counted = count(db, article, story)
    flush(db)
    return counted


def flush(db: sqlite_utils.Database) -> None:
    """Write the counts :func:`count` buffered (call before committing)."""
    found = _COUNTS.get(db)
    if found is not None:
        found.flush(db)


def known_templates(db: sqlite_utils.Database, site: str) -> set[int]:
    """Keys of the lines that qualify as templates of a site (tables must exist)."""
    return set(_counts(db).site(db, site).known)


def template_sites(db: sqlite_utils.Database) -> list[str]:
    """Sites with at least one known template."""
    ensure_tables(db)
    flush(db)
    return [
        r[0]
        for r in db.execute("select site from template_sites order by site").fetchall()
        if known_templates(db, r[0])
    ]


def _body_line_numbers(
    raw_path: str | None, extractor: str | None, removed: set[int], count: int
) -> list[int]:
    """Raw line numbers of the body paragraphs: the non-blank lines no removal claims.

    Text dumps are re-read from raw_path (raw inputs are never modified); for extracted
    HTML the body lines are consecutive in the extracted text.
    """
    if raw_path and extractor == "text-dump":
        try:
            text = sources.decode_bytes(sources.inflate(sources.read_bytes(Path(raw_path))))[0]
        except Exception:  # the raw file may be gone or changed: fall back below
            text = None
        if text is not None:
            lines = split_lines(text)
            numbers = [n for n, ln in enumerate(lines, 1) if ln.strip() and n not in removed]
            if len(numbers) == count:
                return numbers
    free = (n for n in itertools.count(1) if n not in removed)
    return list(itertools.islice(free, count))


def _template_hits(
    db: sqlite_utils.Database, site: str | None, source: str | None, text: str
) -> tuple[list[str], list[int]]:
    """The body paragraphs of a text and the indexes of those that are known templates."""
    key = site_of(site, source)
    if key is None:
        return [], []
    return _hits(_counts(db).site(db, key).known, text)


def _hits(known: set[int], text: str) -> tuple[list[str], list[int]]:
    if not known:
        return [], []
    paragraphs, short = _short_lines(text)
    hits = [i for i in short if line_key(paragraphs[i]) in known]
    if len(hits) == len(paragraphs):
        return paragraphs, []  # nothing but template lines: leave the article alone
    return paragraphs, hits


def _stripped(
    paragraphs: list[str], hits: list[int], numbers: list[int]
) -> tuple[str, list[RemovedLine], tuple[int, ...]]:
    """The text without the hit paragraphs, the removed lines and the kept paragraphs'
    line numbers (raw line numbers)."""
    dropped = set(hits)
    kept = [i for i in range(len(paragraphs)) if i not in dropped]
    text = "\n\n".join(paragraphs[i] for i in kept)
    lines = [RemovedLine(numbers[i], paragraphs[i], TEMPLATE) for i in hits]
    return text, lines, tuple(numbers[i] for i in kept)


def strip(db: sqlite_utils.Database, article: Article, earlier: Article | None = None) -> Article:
    """The article without its site's known templates (the same object when there are none).

    ``earlier``: what an earlier call made of this article, returned again when the known
    templates still strip the same lines (the raw file is not read again for their numbers).
    """
    counts = _counts(db)
    ahead = counts.ahead.pop(article.id, None)
    key = site_of(article.site, article.source)
    if key is None:
        return article
    state = counts.site(db, key)
    if ahead is not None and ahead[0] is article and ahead[1:3] == (state, state.generation):
        return ahead[3]
    return _strip(article, state.known, earlier)


def strip_ahead(db: sqlite_utils.Database, articles: Sequence[Article]) -> list[Article]:
    """Strip the known templates from the articles the writer stores next, in one go.

    :func:`strip` then returns the same for each, unless its site's templates changed in
    between. Only the last call's articles are kept.
    """
    counts = _counts(db)
    counts.refresh(db)
    counts.ahead = {}
    stripped = []
    for article in articles:
        key = site_of(article.site, article.source)
        if key is None:
            stripped.append(article)
            continue
        state = counts.site(db, key, fresh=True)
        result = _strip(article, state.known, None)
        counts.ahead[article.id] = (article, state, state.generation, result)
        stripped.append(result)
    return stripped


def _strip(article: Article, known: set[int], earlier: Article | None) -> Article:
    paragraphs, hits = _hits(known, article.text)
    if not hits:
        return article
    if earlier is not None and [r.text for r in earlier.removed[len(article.removed) :]] == [
        paragraphs[i] for i in hits
    ]:
        return earlier
    if len(article.body_lines) == len(paragraphs):
        numbers = list(article.body_lines)
    else:  # not known (an article read back from the archive): work them out
        removed = {r.line_no for r in article.removed if r.stage == "text"}
        numbers = _body_line_numbers(article.raw_path, article.extractor, removed, len(paragraphs))
    text, lines, kept = _stripped(paragraphs, hits, numbers)
    return dataclasses.replace(
        article, text=text, removed=(*article.removed, *lines), body_lines=kept
    )


def store_stripped(db: sqlite_utils.Database, stored: Article, stripped: Article) -> None:
    """Write what :func:`strip` made of an article over what was stored of it."""
    if stripped.text == stored.text and stripped.removed == stored.removed:
        return
    now = {(r.stage, r.line_no) for r in stripped.removed if r.reason == TEMPLATE}
    db.conn.executemany(
        "delete from removed_lines where article_id = ? and stage = ? and line_no = ?",
        [
            (stored.id, r.stage, r.line_no)
            for r in stored.removed
            if r.reason == TEMPLATE and (r.stage, r.line_no) not in now
        ],
    )
    before = set(stored.removed)
    _write(db, stripped.id, stripped.text, [r for r in stripped.removed if r not in before])


def _write(
    db: sqlite_utils.Database, article_id: str, text: str, lines: Sequence[RemovedLine]
) -> None:
    db.execute(
        "update articles set text = ?, word_count = ? where id = ?",
        [text, len(text.split()), article_id],
    )
    db.conn.executemany(
        """insert or replace into removed_lines (article_id, stage, line_no, text, reason)
           values (?, ?, ?, ?, ?)""",
        [(article_id, r.stage, r.line_no, r.text, r.reason) for r in lines],
    )


def apply(db: sqlite_utils.Database, article_id: str) -> bool:
    """Strip the known templates of its site from one stored article; True if it changed.

    The clean file follows through the articles table's clean outbox.
    """
    row = db.execute(
        "select site, source, text, raw_path, extractor from articles where id = ?",
        [article_id],
    ).fetchone()
    if row is None:
        return False
    site, source, text, raw_path, extractor = row
    paragraphs, hits = _template_hits(db, site, source, text or "")
    if not hits:
        return False
    removed = {
        r[0]
        for r in db.execute(
            "select line_no from removed_lines where article_id = ? and stage = 'text'",
            [article_id],
        )
    }
    numbers = _body_line_numbers(raw_path, extractor, removed, len(paragraphs))
    text, lines, _ = _stripped(paragraphs, hits, numbers)
    _write(db, article_id, text, lines)
    return True

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
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import sqlite_utils

from . import lang, sources
from .chrome import describe_line, normalise
from .models import Article

#: The reason label of a line stripped as a learned template.
TEMPLATE = "template"
MAX_TEMPLATE_WORDS = 12
MIN_ARTICLES = 5
MIN_SHARE = 0.3
MIN_SAME_POSITION = 0.8

_QUOTES = re.compile('["“”«»„]')


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


def _position(index: int, count: int) -> int:
    """Index from the start in the first half of the body, negative from the end after."""
    return index if index < (count + 1) // 2 else index - count


def _candidate_lines(text: str, language: str | None) -> list[tuple[int, str, bool, int]]:
    """(key, text, sentence-like, position) of the body lines that could be templates."""
    stop = lang.stopwords(language)
    paragraphs = _body_lines(text)
    found: dict[int, tuple[int, str, bool, int]] = {}
    for index, paragraph in enumerate(paragraphs):
        if len(paragraph.split()) > MAX_TEMPLATE_WORDS:
            continue  # cheap test first: most paragraphs are long
        line = describe_line(0, paragraph, stop)
        if line.content or line.words == 0 or line.words > MAX_TEMPLATE_WORDS:
            continue
        key = line_key(paragraph)
        sentence = line.sentence or bool(_QUOTES.search(paragraph))
        found.setdefault(key, (key, line.text, sentence, _position(index, len(paragraphs))))
    return list(found.values())


def _has_same_site_copy(db: sqlite_utils.Database, article_id: str, site: str) -> bool:
    """True when another copy of this article's story was already counted for the site."""
    row = db.execute(
        "select coalesce(duplicate_of, id) from articles where id = ?", [article_id]
    ).fetchone()
    if row is None:
        return False
    root = row[0]
    # Two indexed lookups (the root, then its copies): an OR would scan the table.
    copies = db.execute("select id from articles where duplicate_of = ?", [root]).fetchall()
    others = [m for m in [root, *(r[0] for r in copies)] if m != article_id]
    if not others:
        return False
    marks = ",".join("?" * len(others))
    seen = db.execute(
        f"select 1 from template_seen where site = ? and article_id in ({marks}) limit 1",
        [site, *others],
    ).fetchone()
    return seen is not None


def observe(db: sqlite_utils.Database, article: Article) -> bool:
    """Count a stored article's candidate lines for its site; False if not counted."""
    site = site_of(article.site, article.source)
    if site is None:
        return False
    if db.execute(
        "select 1 from template_seen where site = ? and article_id = ?", [site, article.id]
    ).fetchone():
        return False
    if _has_same_site_copy(db, article.id, site):
        return False
    db.execute("insert into template_seen (site, article_id) values (?, ?)", [site, article.id])
    db.execute(
        """insert into template_sites (site, articles) values (?, 1)
           on conflict(site) do update set articles = articles + 1""",
        [site],
    )
    db.conn.executemany(
        """insert into template_lines
             (site, line_key, text, articles, sentence, position, at_position)
           values (?, ?, ?, 1, ?, ?, 1)
           on conflict(site, line_key) do update set articles = articles + 1,
             at_position = at_position + (position = excluded.position)""",
        [
            (site, key, text, int(sentence), position)
            for key, text, sentence, position in _candidate_lines(article.text, article.language)
        ],
    )
    return True


def known_templates(db: sqlite_utils.Database, site: str) -> set[int]:
    """Keys of the lines that qualify as templates of a site (tables must exist)."""
    rows = db.execute(
        """select l.line_key from template_lines l join template_sites s on s.site = l.site
           where l.site = ? and l.articles >= ? and l.articles >= ? * s.articles
             and (l.sentence = 0 or l.at_position >= ? * l.articles)""",
        [site, MIN_ARTICLES, MIN_SHARE, MIN_SAME_POSITION],
    ).fetchall()
    return {r[0] for r in rows}


def template_sites(db: sqlite_utils.Database) -> list[str]:
    """Sites with at least one known template."""
    ensure_tables(db)
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
            text = sources.decode_raw(raw_path, sources.read_bytes(Path(raw_path))).text
        except (OSError, Exception):  # the raw file may be gone: fall back below
            text = None
        if text is not None:
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            numbers = [n for n, ln in enumerate(lines, 1) if ln.strip() and n not in removed]
            if len(numbers) == count:
                return numbers
    free = (n for n in itertools.count(1) if n not in removed)
    return list(itertools.islice(free, count))


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
    key = site_of(site, source)
    if key is None:
        return False
    known = known_templates(db, key)
    if not known:
        return False
    paragraphs = _body_lines(text or "")
    hits = [
        i
        for i, p in enumerate(paragraphs)
        if len(p.split()) <= MAX_TEMPLATE_WORDS and line_key(p) in known
    ]
    if not hits or len(hits) == len(paragraphs):
        return False
    removed = {
        r[0]
        for r in db.execute(
            "select line_no from removed_lines where article_id = ? and stage = 'text'",
            [article_id],
        )
    }
    numbers = _body_line_numbers(raw_path, extractor, removed, len(paragraphs))
    kept = [p for i, p in enumerate(paragraphs) if i not in set(hits)]
    new_text = "\n\n".join(kept)
    db.execute(
        "update articles set text = ?, word_count = ? where id = ?",
        [new_text, len(new_text.split()), article_id],
    )
    db.conn.executemany(
        """insert or replace into removed_lines (article_id, stage, line_no, text, reason)
           values (?, 'text', ?, ?, ?)""",
        [(article_id, numbers[i], paragraphs[i], TEMPLATE) for i in hits],
    )
    return True

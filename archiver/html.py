"""HTML extraction: pre-clean the DOM, let trafilatura find the main text, strip what it leaves.

1. Elements that are page furniture by their tag or their class/id (captions, asides,
   related/promo/newsletter/share/comment blocks, link lists) are removed from the DOM,
   each recorded with its reason; the rules are data in :data:`PRECLEAN_RULES`.
2. trafilatura extracts the main text (its fast mode), and :func:`page_metadata` reads the
   metadata from meta tags, JSON-LD and markup with trafilatura's and htmldate's helpers.
3. The line stripper of :mod:`archiver.chrome` cleans that text line by line.
4. When trafilatura finds nothing or too little, readability-style extraction and then
   the text-dump path over the rendered page text take over; ``extractor`` says which won.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.utils import load_html

from . import rules, structured
from .chrome import StrippedPage, strip_chrome
from .lang import count_words
from .meta import extract_metadata
from .models import Article, InputError, Metadata, RawDoc, RemovedLine, article_id
from .urls import web_url

# The furniture removed before extraction, and why: elements by their tag, then elements
# whose class or id holds one of the words (as a whole word, "-" and "_" separating).
_CLASS_WORDS = {
    rules.CAPTION: r"(wp-)?caption|figcaption|image-credit|photo-credit|credit",
    rules.RELATED: r"related|recommend(ed|ations?)?|more-stories|more-news|read-?more|"
    r"also-read|outbrain|taboola|trending|most-popular|most-read|popular-posts|"
    r"next-article|article-list|teasers?|promo",
    rules.WIDGET: r"newsletter(-signup)?|subscribe-box|signup|sign-up|share-(buttons|bar|tools)|"
    r"social-(share|links|buttons)|comments|disqus|advertisement|ad-slot|ad-container|"
    r"cookie-(banner|notice|consent)",
    rules.NAV: r"breadcrumbs?|navbar|menu|tag-list|skip-link",
}
#: (reason, kind, what): kind "tag" matches an element name, "class" a regex of words
#: in its class or id. Applied in this order.
PRECLEAN_RULES: tuple[tuple[str, str, str], ...] = (
    (rules.CAPTION, "tag", "figcaption"),
    (rules.RELATED, "tag", "aside"),
    (rules.NAV, "tag", "nav"),
    *((reason, "class", words) for reason, words in _CLASS_WORDS.items()),
)
_CLASS_PATTERNS = tuple(
    (index, re.compile(rf"(^|[\s_-])({words})([\s_-]|$)", re.IGNORECASE))
    for index, (_, kind, words) in enumerate(PRECLEAN_RULES)
    if kind == "class"
)
_TAG_RULES = {what: index for index, (_, kind, what) in enumerate(PRECLEAN_RULES) if kind == "tag"}
_ANY_CLASS = re.compile(
    rf"(^|[\s_-])({'|'.join(words for _, kind, words in PRECLEAN_RULES if kind == 'class')})"
    r"([\s_-]|$)",
    re.IGNORECASE,
)
_TAGGED = etree.XPath("|".join(f"//{tag}" for tag in _TAG_RULES))
_NAMED = etree.XPath("//*[@class or @id]")
# Never remove an element holding this share of the page's paragraph text: a class
# such as "article-comments-enabled" on the article itself must not take it away.
MAX_REMOVED_SHARE = 0.3
# A list of at least this many items, this share of them mostly link text, is a
# list of teasers to other pages rather than part of the article.
MIN_LINK_LIST_ITEMS = 3
LINK_ITEM_DENSITY = 0.6
LINK_LIST_SHARE = 0.8
# Below this many words trafilatura's result is "too little" and a fallback is tried.
MIN_EXTRACTED_WORDS = 30
_WHITESPACE = re.compile(r"\s+")
# A DOCTYPE with an internal subset at the top of the document; no web page needs one,
# and the entities it declares are what a "billion laughs" bomb expands.
_DOCTYPE_SUBSET = re.compile(
    r"\A\ufeff?\s*(?:<\?xml[^>]{0,500}>\s*)?(?:<!--.{0,2000}?-->\s*)*<!DOCTYPE[^>\[]{0,2000}\[",
    re.IGNORECASE | re.DOTALL,
)
ENTITY_SCAN_CHARS = 1024 * 1024


@dataclass(frozen=True)
class Extraction:
    """The main text of a page as one extractor found it, with what it removed."""

    text: str
    extractor: str
    metadata: Metadata
    removed: tuple[RemovedLine, ...]
    url: str | None = None
    site: str | None = None


def preclean(tree: HtmlElement) -> list[RemovedLine]:
    """Remove furniture elements from the tree in place; return what was removed and why."""
    body = tree.find("body")
    total = len((body if body is not None else tree).text_content()) or 1
    paragraphs = sum(len(p.text_content()) for p in tree.iter("p")) or 1
    removed: list[RemovedLine] = []
    for (reason, _, _), elements in zip(PRECLEAN_RULES, _furniture(tree), strict=True):
        for element in elements:
            if element.tag in ("html", "body", "main", "article") or not _attached(element, tree):
                continue
            paragraph_text = sum(len(p.text_content()) for p in element.iter("p"))
            if paragraph_text > MAX_REMOVED_SHARE * paragraphs:
                continue
            if len(element.text_content()) > MAX_REMOVED_SHARE * total:
                continue
            text = _WHITESPACE.sub(" ", element.text_content()).strip()
            if text:
                removed.append(RemovedLine(element.sourceline or 0, text[:500], reason, "html"))
            _drop(element)
    return removed


def _furniture(tree: HtmlElement) -> list[list[HtmlElement]]:
    """The elements each preclean rule matches, in document order."""
    # Python regexes over the elements that have a class or id: an XPath per rule with
    # EXSLT regexes calls back into Python for every element, once per rule, and cost
    # more than trafilatura's own extraction. Pages of a site repeat their class names,
    # so each name is judged once.
    found: list[list[HtmlElement]] = [[] for _ in PRECLEAN_RULES]
    for element in _TAGGED(tree):
        found[_TAG_RULES[element.tag]].append(element)
    for element in _NAMED(tree):
        for index in _class_rules(element.get("class"), element.get("id")):
            found[index].append(element)
    return found


@lru_cache(maxsize=16_384)
def _class_rules(class_: str | None, id_: str | None) -> tuple[int, ...]:
    """Indexes of the class rules an element's class and id match (a site repeats them)."""
    key = f" {class_ or ''} {id_ or ''} "
    if not _ANY_CLASS.search(key):
        return ()
    return tuple(index for index, pattern in _CLASS_PATTERNS if pattern.search(key))


def remove_link_lists(tree: HtmlElement) -> list[RemovedLine]:
    """Remove lists whose items are almost all links: teaser and related-story lists."""
    removed: list[RemovedLine] = []
    for element in tree.xpath("//ul|//ol"):
        items = [li for li in element if isinstance(li.tag, str) and li.tag == "li"]
        if len(items) < MIN_LINK_LIST_ITEMS:
            continue
        linked = sum(1 for li in items if _link_density(li) >= LINK_ITEM_DENSITY)
        if linked / len(items) >= LINK_LIST_SHARE and element.getparent() is not None:
            text = _WHITESPACE.sub(" ", element.text_content()).strip()
            if text:
                removed.append(
                    RemovedLine(element.sourceline or 0, text[:500], rules.RELATED, "html")
                )
            _drop(element)
    return removed


def _link_density(element: HtmlElement) -> float:
    text = len(_WHITESPACE.sub("", element.text_content()))
    if not text:
        return 0.0
    linked = sum(len(_WHITESPACE.sub("", a.text_content())) for a in element.iter("a"))
    return linked / text


def _attached(element: HtmlElement, tree: HtmlElement) -> bool:
    """False once an ancestor of the element has been removed from the tree."""
    # lxml keeps a removed subtree's document, so walk up to the top ancestor instead.
    ancestors = list(element.iterancestors())
    return (ancestors[-1] if ancestors else element) is tree


def _drop(element: HtmlElement) -> None:
    # Keep the tail text, which belongs to the parent, not to the removed element.
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


@dataclass(frozen=True)
class GuessedMetadata:
    """What trafilatura and htmldate make of a page's markup when it declares nothing."""

    title: str | None
    published: str | None
    source: str | None
    author: str | None
    url: str | None


def page_metadata(
    tree: HtmlElement, url: str | None = None, date: bool = True, author: bool = True
) -> GuessedMetadata:
    """Title, date, site name, author and URL from the page's meta tags and markup.

    trafilatura's own metadata step without its costliest guess: htmldate's extensive
    search, which hands free text to dateparser (seconds per call on some pages, while
    it tries every locale it knows). The markup search still finds most dates.
    ``date`` or ``author`` False skips that guess, for a page whose structured data gave
    it already: each searches a copy of the whole tree (the author, 4 ms a page).
    """
    declared = examine_meta(tree)
    with contextlib.suppress(Exception):  # trafilatura's JSON-LD reader trips on odd data
        declared = extract_meta_json(tree, declared)
    page_url = declared.url or extract_url(tree, url)
    published = None
    if date:
        published = find_date(
            tree,
            extensive_search=False,
            original_date=True,
            url=page_url,
            max_date=dt.date.today().isoformat(),
        )
    # A one-word author in a meta tag is a handle or a site name, as trafilatura judges.
    byline = declared.author if declared.author and " " in declared.author.strip() else None
    if not byline and author:
        byline = extract_author(tree)
    site = (declared.sitename or extract_sitename(tree) or "").lstrip("@")
    if site and "." not in site and not site[0].isupper():
        site = site.title()  # as trafilatura: a lower-case handle reads as a name
    if not site and page_url:
        site = urlsplit(page_url).hostname or ""
    return GuessedMetadata(
        title=_clean(declared.title or extract_title(tree)),
        published=_iso_date(published),
        source=_clean(site.removeprefix("www.")),
        author=_clean(byline),
        url=_clean(page_url),
    )


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def extract_html(html: str, url: str | None = None) -> Extraction:
    """Extract the article text and metadata of one HTML page; raise InputError if none."""
    subset = _DOCTYPE_SUBSET.match(html)
    if subset and "<!entity" in html[subset.end() : subset.end() + ENTITY_SCAN_CHARS].lower():
        raise InputError("declares XML entities in its DOCTYPE (an entity bomb?); not expanded")
    tree = load_html(html)
    if tree is None:
        raise InputError("not parseable as HTML")
    found = structured.structured_metadata(tree)
    removed = preclean(tree) + remove_link_lists(tree)
    guessed = page_metadata(
        tree, url or found.url, date=not found.published, author=not found.author
    )
    # fast: no second opinion from trafilatura's bundled readability and jusText; the
    # fallbacks below take over when it finds too little, and the pre-clean has already
    # taken out what those comparisons guard against (sh4 F1 on the development pages
    # 0.968 with it, 0.965 without, in a third less time).
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=True,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
    )
    text = (getattr(result, "text", None) or "") if result is not None else ""
    page_url = url or found.url or web_url(guessed.url)
    meta = Metadata(
        title=found.title or guessed.title,
        published=found.published or guessed.published,
        source=found.source or guessed.source,
        author=found.author or guessed.author,
        language=found.language,
    )
    extractor = "trafilatura"
    if count_words(text) < MIN_EXTRACTED_WORDS:
        text, extractor = _fallback(html, text)
    return Extraction(text, extractor, meta, tuple(removed), page_url, _host(page_url))


def _fallback(html: str, text: str) -> tuple[str, str]:
    """Readability, then the whole rendered text (for the dump stripper), if longer."""
    try:
        from readability import Document  # readability-lxml

        summary = load_html(Document(html).summary(html_partial=True))
        candidate = _block_text(summary) if summary is not None else ""
    except Exception:  # readability raises bare Exceptions on odd markup
        candidate = ""
    if count_words(candidate) >= MIN_EXTRACTED_WORDS:
        return candidate, "readability"
    tree = load_html(html)
    rendered = _block_text(tree) if tree is not None else ""
    if count_words(rendered) > count_words(text):
        return rendered, "text-dump"
    return text, "trafilatura"


_BLOCKS = {
    "p",
    "div",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "td",
    "th",
    "br",
    "blockquote",
    "pre",
    "section",
    "article",
    "tr",
}


def _block_text(tree: HtmlElement) -> str:
    """The visible text of a tree, one block element per line, scripts and styles dropped."""
    for bad in tree.xpath("//script|//style|//noscript|//template"):
        _drop(bad)
    parts: list[str] = []
    for event, element in etree.iterwalk(tree, events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        if event == "start":
            if element.tag in _BLOCKS:
                parts.append("\n")
            if element.text:
                parts.append(element.text)
        else:
            if element.tag in _BLOCKS:
                parts.append("\n")
            if element.tail:
                parts.append(element.tail)
    lines = (_WHITESPACE.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def article_from_html(doc: RawDoc) -> Article:
    """Extract, strip and describe one HTML page as an Article."""
    found = extract_html(doc.text, doc.url)
    # The declared lang attribute is often a template default: detect from the text.
    page = strip_chrome(
        found.text,
        title=found.metadata.title,
        whole_page=found.extractor == "text-dump",
    )
    if not page.body:
        if too_deep(doc.text):
            raise InputError("no article text found: HTML nested deeper than the parser allows")
        raise InputError("no article text found in the HTML")
    return _article(doc, found, page)


def too_deep(html: str) -> bool:
    """True when lxml stopped parsing the page at its nesting limit (256 levels).

    libxml2 refuses deeper trees rather than recurse without bound, so whatever lies
    below that depth is lost; saying so beats a bare "no article text".
    """
    parser = lxml.html.HTMLParser(recover=True)
    with contextlib.suppress(etree.ParserError, ValueError):
        lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    return any("depth" in str(error.message).lower() for error in parser.error_log)


def _article(doc: RawDoc, found: Extraction, page: StrippedPage) -> Article:
    from_text = extract_metadata(page)
    meta = found.metadata
    return Article(
        id=article_id(doc.doc_key),
        raw_path=doc.path,
        raw_sha256=doc.sha256,
        title=meta.title or from_text.title,
        text=page.text,
        published=meta.published or from_text.published,
        source=meta.source or from_text.source,
        dateline=from_text.dateline,
        author=meta.author or from_text.author,
        language=page.language or meta.language,
        # DOM removals carry the HTML source line; text removals the extracted line.
        removed=found.removed + page.removed,
        url=found.url,
        site=found.site,
        captured_at=doc.captured_at,
        extractor=found.extractor,
    )


def _iso_date(value: str | None) -> str | None:
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]):
        return value[:10]
    return None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None

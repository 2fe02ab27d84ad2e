"""HTML extraction: pre-clean the DOM, let trafilatura find the main text, strip what it leaves.

1. Elements that are page furniture by their tag or their class/id (captions, asides,
   related/promo/newsletter/share/comment blocks, link lists) are removed from the DOM,
   each recorded with its reason; the selectors are data in :data:`PRECLEAN_RULES`.
2. trafilatura extracts the main text and its metadata.
3. The line stripper of :mod:`archiver.chrome` cleans that text line by line.
4. When trafilatura finds nothing or too little, readability-style extraction and then
   the text-dump path over the rendered page text take over; ``extractor`` says which won.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from . import rules, structured
from .chrome import StrippedPage, strip_chrome
from .lang import count_words
from .meta import extract_metadata
from .models import Article, InputError, Metadata, RawDoc, RemovedLine, article_id

# (reason, XPath) pairs: the elements each removes before extraction, and why.
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
PRECLEAN_RULES: tuple[tuple[str, str], ...] = (
    (rules.CAPTION, "//figcaption"),
    (rules.RELATED, "//aside"),
    (rules.NAV, "//nav"),
    *(
        (
            reason,
            "//*[re:test(concat(' ', @class, ' ', @id, ' '), "
            f"'(^|[\\s_-])({words})([\\s_-]|$)', 'i')]",
        )
        for reason, words in _CLASS_WORDS.items()
    ),
)
_XPATHS = tuple(
    (reason, etree.XPath(xpath, namespaces={"re": "http://exslt.org/regular-expressions"}))
    for reason, xpath in PRECLEAN_RULES
)
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
    for reason, xpath in _XPATHS:
        for element in xpath(tree):
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
    result = trafilatura.bare_extraction(
        tree, url=url, with_metadata=True, include_comments=False, include_tables=True
    )
    text = (getattr(result, "text", None) or "") if result is not None else ""
    page_url = url or found.url or _attr(result, "url")
    meta = Metadata(
        title=found.title or _attr(result, "title"),
        published=found.published or _iso_date(_attr(result, "date")),
        source=found.source or _attr(result, "sitename"),
        author=found.author or _attr(result, "author"),
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


def _attr(result: object, name: str) -> str | None:
    value = getattr(result, name, None) if result is not None else None
    return str(value).strip() or None if value else None


def _iso_date(value: str | None) -> str | None:
    if value and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[:10]):
        return value[:10]
    return None


def _host(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None

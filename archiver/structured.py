"""Structured metadata of an HTML page: JSON-LD, OpenGraph and article meta tags.

These are what the publisher declared, so they take precedence over trafilatura's
guesses and over the text heuristics. Dates are returned as ISO 8601 (YYYY-MM-DD)
and only when the page gives a full date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml.html import HtmlElement

from .urls import web_url

# JSON-LD types that describe an article (schema.org).
ARTICLE_TYPES = frozenset(
    {
        "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "BackgroundNewsArticle", "BlogPosting", "LiveBlogPosting",
        "TechArticle", "ScholarlyArticle", "Report", "WebPage",
    }
)  # fmt: skip
# Meta tags for each field, best first.
META_DATE = ("article:published_time", "og:published_time", "datePublished", "pubdate",
             "publishdate", "date", "dc.date", "dc.date.issued", "sailthru.date", "parsely-pub-date")  # fmt: skip
META_TITLE = ("og:title", "twitter:title", "headline", "dc.title")
META_SITE = ("og:site_name", "application-name", "publisher", "dc.publisher")
META_AUTHOR = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class StructuredMetadata:
    """Metadata the page declares about itself; None where it declares nothing."""

    title: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    language: str | None = None
    url: str | None = None


def structured_metadata(tree: HtmlElement) -> StructuredMetadata:
    """Collect JSON-LD, then OpenGraph/meta-tag metadata, JSON-LD winning field by field."""
    ld = _json_ld_article(tree) or {}
    meta = _meta_tags(tree)
    lang = (tree.get("lang") or meta.get("og:locale") or "").strip()
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    return StructuredMetadata(
        title=_text(ld.get("headline")) or _first(meta, META_TITLE),
        published=iso_date(_text(ld.get("datePublished"))) or iso_date(_first(meta, META_DATE)),
        source=_name(ld.get("publisher")) or _first(meta, META_SITE),
        author=_name(ld.get("author")) or _first(meta, META_AUTHOR),
        language=re.split(r"[-_]", lang)[0].lower() or None if lang else None,
        url=web_url(_text(ld.get("url")))
        or web_url(_first(meta, ("og:url",)))
        or web_url(str(canonical[0]) if canonical else None),
    )


def iso_date(value: str | None) -> str | None:
    """YYYY-MM-DD from an ISO 8601 date or timestamp, or None if it is not one."""
    if not value:
        return None
    match = _ISO_DATE.match(value)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 2100):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _json_ld_article(tree: HtmlElement) -> dict[str, Any] | None:
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text_content() or "")
        except ValueError:
            continue
        for item in _walk(data):
            kinds = item.get("@type")
            kinds = set(kinds) if isinstance(kinds, list) else {kinds}
            if kinds & ARTICLE_TYPES and (item.get("headline") or item.get("datePublished")):
                return item
    return None


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in data:
                yield from _walk(data[key])
    elif isinstance(data, list):
        for item in data:
            yield from _walk(item)


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tree.iter("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        value = (tag.get("content") or "").strip()
        if key and value and key not in found:
            found[key] = value
    return found


def _first(meta: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if meta.get(key.lower()):
            return meta[key.lower()]
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() or None if isinstance(value, str | int | float) else None


def _name(value: Any) -> str | None:
    """The name of a schema.org Person/Organization, or of the first of a list."""
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) if names else None
    if isinstance(value, dict):
        return _text(value.get("name"))
    return _text(value)

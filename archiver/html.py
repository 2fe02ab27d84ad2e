"""HTML extraction: trafilatura finds the main text, then the line stripper cleans it."""

from __future__ import annotations

import trafilatura

from .chrome import strip_chrome
from .meta import extract_metadata
from .models import Article, InputError, RawDoc, article_id


def article_from_html(doc: RawDoc) -> Article:
    """Extract the article of one HTML page with trafilatura and strip what it leaves in."""
    result = trafilatura.bare_extraction(
        doc.text, url=doc.url, with_metadata=True, include_comments=False, include_tables=True
    )
    text = getattr(result, "text", None) if result is not None else None
    if not text:
        raise InputError("no article text found in the HTML")
    title = getattr(result, "title", None)
    page = strip_chrome(text, title=title, whole_page=False)
    if not page.body:
        raise InputError("no article text found in the HTML")
    meta = extract_metadata(page)
    return Article(
        id=article_id(doc.doc_key),
        raw_path=doc.path,
        raw_sha256=doc.sha256,
        title=title or meta.title,
        text=page.text,
        published=getattr(result, "date", None) or meta.published,
        source=meta.source or getattr(result, "sitename", None),
        dateline=meta.dateline,
        author=getattr(result, "author", None) or meta.author,
        language=meta.language,
        removed=page.removed,
        url=doc.url or getattr(result, "url", None),
    )

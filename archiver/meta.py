"""Metadata from a stripped page: title, publication date, source, dateline, author, language.

Dates are ISO 8601 and never guessed: a date without a year ("February 25") is no date.
"""

from __future__ import annotations

import datetime as dt
import re

from . import rules
from .chrome import StrippedPage
from .models import Metadata

# How many lines of the first paragraph are searched for a dateline (one is the norm).
DATELINE_MAX_CHARS = 160
_LEAD_WORDS = re.compile(r"^(the|a|an|this|that|in|on|at|for|it|he|she|they|we|i)\b", re.IGNORECASE)
_BYLINE_NAME = re.compile(
    r"^(?:by|written by|reporting by|report by|words by|text by|story by|posted by)\s+"
    r"(?P<name>[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|and|&|de|van|von|da|del|la|le))*)",
    re.IGNORECASE,
)


def parse_date(text: str) -> str | None:
    """The first full calendar date in a text as YYYY-MM-DD, or None (no year, no date)."""
    if not rules.DATE_YEAR.search(text):  # most lines: one quick search instead of four
        return None
    found: list[tuple[int, str]] = []
    for pattern in rules.DATE_PATTERNS:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            month = (
                int(parts["mnum"]) if parts.get("mnum") else rules.MONTHS[parts["month"].lower()]
            )
            try:
                day = dt.date(int(parts["year"]), month, int(parts["day"]))
            except ValueError:
                continue
            found.append((match.start(), day.isoformat()))
    return min(found)[1] if found else None


def find_dateline(first_paragraph: str) -> tuple[str | None, str | None]:
    """(place, source) from the dateline opening a story, e.g. 'TOKYO (Agency) -'."""
    head = first_paragraph[:DATELINE_MAX_CHARS]
    for pattern in rules.DATELINE_PATTERNS:
        match = pattern.match(head)
        if not match:
            continue
        place = match.group("place").strip(" -,")
        if _LEAD_WORDS.match(place) or len(place.split()) > 4:
            continue
        groups = match.groupdict()
        source = (groups.get("source") or "").strip(" /-") or None
        return place, source
    return None, None


def trailing_credit(last_paragraph: str) -> str | None:
    """A wire-service credit closing the story ('... last year. Agency Name'), or None."""
    match = rules.TRAILING_CREDIT.search(last_paragraph)
    return match.group("source") if match else None


def find_author(page: StrippedPage) -> str | None:
    """The author named in a byline line that the stripper removed, or None."""
    for line in page.removed:
        if line.reason == rules.BYLINE:
            match = _BYLINE_NAME.match(line.text)
            if match:
                return match.group("name").strip()
    return None


def find_published(page: StrippedPage) -> str | None:
    """The publication date: from date lines and the header, then the story's dateline."""
    first_body = page.body[0].no if page.body else 0
    # A story's date may be printed under its first paragraph (the title and lead in one
    # block, then the date): a line that is only a date, up to the second paragraph.
    second_body = page.body[1].no if len(page.body) > 1 else first_body
    for line in page.removed:
        before = line.line_no < first_body and line.reason not in (rules.CAPTION, rules.CREDIT)
        under_lead = first_body < line.line_no < second_body and line.reason == rules.DATE
        if before or under_lead:
            date = parse_date(line.text)
            if date:
                return date
    if page.body:
        head = page.body[0].text[:DATELINE_MAX_CHARS]
        match = re.match(r"^[^.]{0,120}?\((?P<inside>[^()]+)\)", head)
        if match:
            return parse_date(match.group("inside"))
    return None


def find_site_name(page: StrippedPage) -> str | None:
    """The site's name as printed in the page chrome, if a line gives it."""
    for line in page.removed:
        if line.reason == rules.SITE_NAME:
            return line.text.lstrip("-|–— ").strip() or None
    return None


def extract_metadata(page: StrippedPage) -> Metadata:
    """Collect all metadata of a stripped page; None where the page does not say."""
    dateline = source = None
    if page.body:
        dateline, source = find_dateline(page.body[0].text)
        if source is None:
            source = trailing_credit(page.body[-1].text)
    if source is None:
        source = find_site_name(page)
    return Metadata(
        title=page.title,
        published=find_published(page),
        source=source,
        dateline=dateline,
        author=find_author(page),
        language=page.language,
    )

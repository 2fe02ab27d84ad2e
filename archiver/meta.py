"""Metadata from a stripped page: title, publication date, source, dateline, author, language.

Dates are ISO 8601 and never guessed: a date without a year ("February 25") is no date.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from operator import attrgetter

from . import rules
from .chrome import StrippedPage
from .lines import normalise
from .models import Metadata, RemovedLine

# How many lines of the first paragraph are searched for a dateline (one is the norm).
DATELINE_MAX_CHARS = 160
_LEAD_WORDS = re.compile(r"^(the|a|an|this|that|in|on|at|for|it|he|she|they|we|i)\b", re.IGNORECASE)
# A name is capitalised words (case matters there, not in "By"), up to a date: in
# "By Jane Doe March 3, 2020" and "By Jane Doe Updated 3/3" the date is no part of it.
# Capital letters of the Latin, Greek and Cyrillic alphabets, for names in any of them.
_CAPITALS = "".join(ch for ch in map(chr, range(0xC0, 0x530)) if ch.isupper())
_NAME_WORD = (
    r"(?!(?i:" + "|".join(rules.MONTHS) + r")\.?\s+\d|(?i:updated|published|posted)\b)"
    r"[A-Z" + _CAPITALS + r"][\w'’.-]+"
)
_NAME = (
    r"(?P<name>" + _NAME_WORD + r"(?:\s+(?:" + _NAME_WORD + r"|and|&|de|van|von|da|del|la|le))*)"
)
_BYLINE_NAME = re.compile(
    r"^(?i:(?:"
    + "|".join(rules.BYLINE_WORDS)
    + r"):?\s+|(?:"
    + "|".join(rules.BYLINE_LABELS)
    + r")\s?:\s*)"
    + _NAME
)
# A byline within a line: after a date, a time (its zone) or a separator, "by" and a name.
_INNER_BYLINE = re.compile(
    r"(?:\d|[|·•/–—-]|\b(?i:[ap]\.?m\.?)|\b[A-Z]{2,4})\s*(?i:by):?\s+" + _NAME
)

# A writer's name and handle on a line of the story's head: "Jane Doe @janedoe" (not an
# e-mail address: "Email Jane.Doe@harbour.example").
_HANDLE_BYLINE = re.compile(r"^" + _NAME + r"\s*\(?@(?P<handle>\w{2,})(?![\w-]*\.\w)")
# A writer named in the closing lines (see rules.WRITER_CREDIT_OPENINGS).
_CLOSING_CREDIT = re.compile(r"^(?i:" + "|".join(rules.WRITER_CREDIT_OPENINGS) + r")\s+" + _NAME)
_BIOGRAPHY = re.compile(
    r"^" + _NAME + r"\s*(?:\(@\w{2,}\))?\s+is\s+(?:a|an|the)\s+(?:[\w'’-]+,?\s+){0,3}?(?i:"
    + "|".join(rules.WRITER_ROLES) + r")\b"
)  # fmt: skip
# How far into a line a biography's " is " may stand: after a name and a handle.
BIOGRAPHY_IS_WITHIN = 100
_LINE_NO = attrgetter("line_no")
# A name of this many words, for the forms above that have no "By" to say it is one.
MIN_NAME_WORDS, MAX_NAME_WORDS = 2, 4
# Head lines that never print the writer's name for those forms: the headline and what
# repeats it, a photo's caption or credit, the site's name, a notice, a widget, a contact.
NOT_A_WRITERS_LINE = frozenset(
    {
        rules.TITLE, rules.DUPLICATE_TITLE, rules.HEADLINE, rules.CAPTION, rules.CREDIT,
        rules.SITE_NAME, rules.NOTICE, rules.WIDGET, rules.HANDLE, rules.CONTACT,
    }
)  # fmt: skip


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
            day = _valid_date(int(parts["year"]), month, int(parts["day"]))
            if day is None and pattern is rules.NUMERIC_DAY_FIRST:
                # 11/19/2019: no nineteenth month, so the month comes first. Where both
                # readings are dates (03/04/2019), the day comes first, as it did before.
                day = _valid_date(int(parts["year"]), int(parts["day"]), month)
            if day is not None:
                found.append((match.start(), day))
    return min(found)[1] if found else None


def _valid_date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


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
    """The author named in a byline line that the stripper removed, or None.

    A byline is also looked for in the story's head (above it, or under its first
    paragraph) within a line: "Monday, March 3, 2020 by Jane Doe", "Jane Doe's blog | By Jane Doe".
    """
    for line in page.removed:
        if line.reason == rules.BYLINE:
            match = _BYLINE_NAME.match(line.text)
            if match:
                return match.group("name").strip()
    head = _head_lines(page)
    for line in head:
        # Most lines have no "by": a substring test spares searching them (the pattern
        # has no literal start, so re would try every position).
        if "by" not in line.text.lower():
            continue
        # A head line that starts "By Jane Doe" is a byline whatever else the stripper
        # took it for ("By Jane Doe | March 3, 2020" reads like a caption's credit line).
        match = _BYLINE_NAME.match(line.text)
        if match is None and line.reason not in (rules.CAPTION, rules.CREDIT):
            match = _INNER_BYLINE.search(line.text)
        if match:
            return match.group("name").strip()
    return _handle_byline(page, head) or _closing_credit(page, head)


def _is_name(name: str, page: StrippedPage) -> bool:
    """True for a name of a writer's length that is not the site's own name."""
    if not MIN_NAME_WORDS <= len(name.split()) <= MAX_NAME_WORDS:
        return False
    site = find_site_name(page)
    return site is None or site.lower() != name.lower()


def _handle_byline(page: StrippedPage, head: list[RemovedLine]) -> str | None:
    """The name before a handle on a line of the story's head ("Jane Doe @janedoe").

    The handle must hold a word of the name: "Follow Us @harbourtimes" names nobody.
    """
    for line in head:
        if "@" not in line.text or line.reason in NOT_A_WRITERS_LINE:
            continue
        match = _HANDLE_BYLINE.match(line.text)
        if match is None:
            continue
        name, handle = match.group("name").strip(), match.group("handle").lower()
        words = [word for word in normalise(name).split() if len(word) >= 3]
        if any(word in handle for word in words) and _is_name(name, page):
            return name
    return None


def _closing_credit(page: StrippedPage, head: list[RemovedLine]) -> str | None:
    """The writer a closing credit or biography names, when the head prints the name too.

    The head's line is what makes it the writer's: a story may end on somebody else's
    biography ("Jane Doe is the author of ..."), but its head names its writer, on a line
    of its own or before a separator, a date or a handle. The headline or a caption
    naming somebody does not count.
    """
    if not page.body:
        return None
    after = bisect.bisect_right(page.removed, page.body[-1].no, key=_LINE_NO)
    tail = [line.text for line in page.removed[after : after + rules.WRITER_CREDIT_LINES]]
    closing = [line.text for line in page.body[-rules.WRITER_CREDIT_LINES // 2 :]]
    for text in closing + tail:
        # A biography's " is " comes after a name of four words at most: the substring
        # test spares its pattern (a name's words tried one by one) most lines.
        match = _CLOSING_CREDIT.match(text) or (
            _BIOGRAPHY.match(text) if " is " in text[:BIOGRAPHY_IS_WITHIN] else None
        )
        if match is None:  # most pages: the head is looked at only for a candidate
            continue
        name = match.group("name").strip()
        writers = [line.text for line in head if line.reason not in NOT_A_WRITERS_LINE]
        if any(_names_alone(line, name) for line in writers) and _is_name(name, page):
            return name
    return None


def _names_alone(line: str, name: str) -> bool:
    """True for a line that is the name, or the name before a separator, date or handle."""
    if not line.startswith(name):
        return False
    rest = line[len(name) :].lstrip()
    return not rest or not rest[0].isalpha()


# Removed lines whose dates are never the story's publication date.
NOT_THE_STORYS_DATE = frozenset({rules.CAPTION, rules.CREDIT, rules.NOTICE})


def _head_lines(page: StrippedPage) -> list[RemovedLine]:
    """The removed lines of the story's head: above it, and under its first paragraph."""
    first = page.body[0].no if page.body else 0
    second = page.body[1].no if len(page.body) > 1 else first
    return [line for line in page.removed if line.line_no < first or first < line.line_no < second]


def find_published(page: StrippedPage) -> str | None:
    """The publication date: from date lines and the header, then the story's dateline."""
    first_body = page.body[0].no if page.body else 0
    head = _head_lines(page)
    # A line that is a date says the story's date more surely than a date inside another
    # line of the header (a site's "today", a notice's "effective May 1st").
    for line in head:
        if line.reason == rules.DATE:
            date = parse_date(line.text)
            if date:
                return date
    # Then a byline's date after its name ("Text: Jane Doe · 3 March 2020"): a line that
    # only opens with a byline's word ("By March 3, 2021, the plant ...") has no name.
    for line in head:
        if line.reason == rules.BYLINE:
            match = _BYLINE_NAME.match(line.text)
            date = parse_date(line.text[match.end() :]) if match else None
            if date:
                return date
    for line in head:
        # Under the first paragraph (the title and lead printed as one block), only a date
        # line or a byline (above): a paragraph's date is not the story's. A caption's
        # date is the photo's, a notice's the day its terms changed.
        if line.line_no < first_body and line.reason not in NOT_THE_STORYS_DATE:
            date = parse_date(line.text)
            if date:
                return date
    if page.body:
        lead = page.body[0].text[:DATELINE_MAX_CHARS]
        match = re.match(r"^[^.]{0,120}?\((?P<inside>[^()]+)\)", lead)
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

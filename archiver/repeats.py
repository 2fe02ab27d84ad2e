"""A page's repetitions and its title: which headline above the story is its title,
and which lines print the title, a standfirst or a paragraph again.

:mod:`archiver.chrome` calls these once the body is found; the lines are judged
alone in :mod:`archiver.lines`.
"""

from __future__ import annotations

import bisect
import itertools
from functools import lru_cache

from . import rules
from .lines import Line, longest_words, normalise, normalised_ends

# A standfirst must be this long before its repetition in the body counts, and is
# looked for among the lines before the body and its first few paragraphs.
MIN_REPEAT_WORDS = 6
LEAD_PARAGRAPHS = 2
# A line printed twice is removed once only when it is paragraph-sized.
MIN_PARAGRAPH_REPEAT_WORDS = 10
# The longest words of a line that a later line must hold before it is normalised and
# compared: a paragraph's longest word alone is often in the next paragraphs too.
REPEAT_TEST_WORDS = 3
# A title shares this share of its words with the story's first lines (at least one).
TITLE_LEAD_SHARE = 1 / 3
# A headline farther from the story is the title instead when it shares this many times
# as many words with the story's first lines.
TITLE_FARTHER_LEAD = 2
LEAD_LINES = 5
# The title is looked for among this many headlines above the story, the nearest first.
TITLE_CANDIDATES = 12
# A headline the page's first line repeats has this many words at least: a section name
# or the site's own name in it is no headline.
MIN_PAGE_TITLE_HEADLINE_WORDS = 4
# ... and is most of that line, or opens it: the site's name is no headline.
PAGE_TITLE_HEADLINE_SHARE = 0.5
# Words are compared on their first letters, a stemmer for any language written in words.
STEM_CHARS = 5


def label_repeats(lines: list[Line], body: list[Line], reasons: dict[int, str]) -> None:
    """Label paragraphs printed twice and standfirsts that the body repeats.

    Short lines may legitimately recur (table cells, list items, recipe steps), so
    only paragraph-sized lines count as repeats.
    """
    # Lines that normalise alike open and close with the same words: only lines that
    # share both with another line are normalised (a paragraph costs 8 µs to normalise).
    ends = [normalised_ends(line.text) for line in body]
    shared: dict[tuple[str, str], int] = {}
    for pair in ends:
        shared[pair] = shared.get(pair, 0) + 1
    keys = [
        normalise(line.text) if shared[pair] > 1 else None
        for line, pair in zip(body, ends, strict=True)
    ]
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    seen: set[str] = set()
    for line, key in zip(body, keys, strict=True):
        if key is None:
            continue  # its text is the only one of the body that normalises so
        # A pull quote or a re-printed paragraph occurs twice; a line that recurs more
        # often is the page's structure (questions of an interview, steps of a plan).
        if (
            key in seen
            and counts[key] == 2
            and line.content
            and line.words >= MIN_PARAGRAPH_REPEAT_WORDS
        ):
            reasons[line.no] = rules.DUPLICATE
        seen.add(key)
    if not body:
        return
    # A standfirst comes before the paragraph that repeats it, at the top of the story.
    # Paragraphs are counted, not headings, so that a heading removed later (the title
    # printed again) does not move the lead and make a second cleaning differ.
    paragraphs = [line for line in body if line.content] or body
    lead_end = paragraphs[min(len(paragraphs), LEAD_PARAGRAPHS) - 1].no
    # The body's lines are searched at once (in C) for a line's longest word, and only
    # the few that hold its next longest too are normalised and compared.
    lowered = [other.text.lower() for other in body]
    starts = list(itertools.accumulate((len(text) + 1 for text in lowered[:-1]), initial=0))
    joined = "\n".join(lowered)
    for line in lines:
        if line.words < MIN_REPEAT_WORDS or line.no > lead_end or line.no in reasons:
            continue
        key = normalise(line.text)
        word, *others = longest_words(key, REPEAT_TEST_WORDS)
        at = joined.find(word)
        while at != -1:
            i = bisect.bisect_right(starts, at) - 1
            other = body[i]
            if (
                other.no > line.no
                and len(other.text) > len(line.text)
                and all(w in lowered[i] for w in others)
                and key in normalise(other.text)
            ):
                reasons[line.no] = rules.DUPLICATE_PARAGRAPH
                break
            at = joined.find(word, starts[i] + len(lowered[i]) + 1)  # the next line on


def find_title(
    lines: list[Line],
    body: list[Line],
    reasons: dict[int, str],
    known: str | None,
    stop: frozenset[str] = frozenset(),
) -> Line | None:
    """The title line: the known title if printed, else the headline above the body that
    speaks of what its first lines speak of (see below)."""
    if known:
        key = normalise(known)
        for line in lines:
            if normalise(line.text) == key:
                return line
        return None
    if not body:
        return None
    start = body[0].no
    headlines: list[Line] = []
    for line in reversed(lines):
        if len(headlines) == TITLE_CANDIDATES:
            break
        if line.no >= start or line.no in reasons:
            continue
        if 3 <= line.words <= 30 and not line.content and not rules.BULLET.match(line.text):
            headlines.append(line)
    if not headlines:
        return None
    lead = _stems(" ".join(line.text for line in body[:LEAD_LINES]), stop)
    if lines[0].no < start:
        repeated = _headline_in_page_title(lines[0], headlines, lead, stop)
        if repeated is not None:
            return repeated
    # Between a headline and its story sit bylines, dates, share buttons and captions,
    # which no rule may know in the page's language: the title is the nearest headline
    # that speaks of what the lead paragraphs speak of, unless one farther up speaks of
    # it at least twice as much. A section name, a caption or a teaser's headline next to
    # the story often shares a word or two with it; a caption above the title can share
    # as many words as the title, and is not preferred for a few more.
    shared = []
    best: Line | None = None
    best_common = 0
    for line in headlines:  # the nearest first
        words = _headline_stems(line.text, stop)
        common = len(words & lead)
        if (
            common
            and common >= TITLE_LEAD_SHARE * len(words)
            and common >= TITLE_FARTHER_LEAD * best_common
        ):
            best, best_common = line, common
        shared.append(common)
    if best is not None:
        return best
    # None speaks enough of the story: the one that speaks most of it, else the nearest.
    return headlines[shared.index(max(shared))]


def _headline_in_page_title(
    first: Line, headlines: list[Line], lead: set[str], stop: frozenset[str]
) -> Line | None:
    """The nearest headline that the page's first line repeats, if that line is its title.

    A dump often opens with the page's own title: the headline, then the site's name
    ("Headline - Section - Site"). The headline is most of it, or opens it and speaks
    of the story; a line that is the site's name or tagline is neither.
    """
    page_title = normalise(first.text)
    for line in headlines:
        if line is first or line.words < MIN_PAGE_TITLE_HEADLINE_WORDS:
            continue
        key = normalise(line.text)
        if key not in page_title:
            continue
        if len(key) >= PAGE_TITLE_HEADLINE_SHARE * len(page_title) or (
            page_title.startswith(key) and _headline_stems(line.text, stop) & lead
        ):
            return line
    return None


# Every headline above a story is weighed, and most are a site's chrome met on each of
# its pages: their words are kept. A few thousand: each worker holds its own, and a
# long run's memory is counted in megabytes per worker.
HEADLINE_STEMS_KEPT = 2048


@lru_cache(maxsize=HEADLINE_STEMS_KEPT)
def _headline_stems(text: str, stop: frozenset[str]) -> frozenset[str]:
    return frozenset(_stems(text, stop))


def _stems(text: str, stop: frozenset[str]) -> set[str]:
    """The words of a text that carry its subject: lower-cased, stopwords and numbers out,
    cut to their first letters so that 'ministers' meets 'minister'."""
    return {
        token[:STEM_CHARS]
        for token in rules.WORD.findall(text.lower())
        if token not in stop and not token.isdigit() and len(token) > 1
    }


def label_title_repeats(
    lines: list[Line], title: str, title_line: Line | None, reasons: dict[int, str]
) -> None:
    """Label the lines that print the title again (other than the title line itself)."""
    key = normalise(title)
    # Testing the title's longest word first spares normalising every paragraph.
    (longest_word,) = longest_words(key)
    for line in lines:
        if (
            line is not title_line
            and longest_word in line.text.lower()
            and normalise(line.text) == key
        ):
            reasons[line.no] = rules.DUPLICATE_TITLE

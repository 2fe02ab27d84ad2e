"""Chrome stripping: label each line of a page's text as body or chrome.

The classifier works on general signals, never on strings of particular sites:

1. rules from :mod:`archiver.rules` (credits, READ MORE prompts, widgets, bylines, menus);
2. the shape of each line: word count, sentence punctuation, stopword density,
   title case, capitals, list bullets, and its language or script (1 and 2 judge a
   line alone, in :mod:`archiver.lines`);
3. position: the article body is the densest run of sentence-like lines, found as
   the maximum-sum segment of per-line scores (chrome scores negative);
4. context: inside that run, a lone short line between paragraphs is a heading and
   is kept, while a cluster of short lines around a caption or credit is a teaser;
5. repetition: the title printed again, a standfirst the body repeats, a paragraph
   printed twice.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import re
from dataclasses import dataclass

from . import lang, patterns, rules
from .lines import (
    COMMENTER_MARK,
    GLUED_TEASER_MARK,
    MIN_CONTENT_WORDS,
    TEASER_HEADING_MARK,
    THREAD_HEADING_MARK,
    Line,
    is_date_line,
    judge_line,
    language_reason,
    split_lines,
)
from .models import RemovedLine
from .repeats import find_title, label_repeats, label_title_repeats


@dataclass(frozen=True)
class StrippedPage:
    """The outcome of stripping one page: body lines, removed lines, the title line."""

    body: tuple[Line, ...]
    removed: tuple[RemovedLine, ...]  # in line order
    title: str | None
    language: str | None

    @property
    def text(self) -> str:
        """The body as paragraphs separated by blank lines."""
        return "\n\n".join(line.text for line in self.body)


# A line scores its word count when it reads like running text; chrome costs this
# much plus half its words, so a short menu between paragraphs does not split the
# body but a block of teasers does.
CHROME_BASE_COST = 3.0
CHROME_WORD_COST = 0.5
# A line inside the body that is no paragraph is kept as a heading up to this length.
MAX_HEADING_WORDS = 14


def _extend_notices(lines: list[Line], reasons: dict[int, str]) -> None:
    """Grow each notice over the lines next to it that go on speaking to the reader about it.

    A notice runs over several short paragraphs, each naming one or two of its terms.
    """
    if rules.NOTICE not in reasons.values():
        return
    # A sweep down then up reaches every line of a block of any length.
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        for i in order:
            line = lines[i]
            if line.no in reasons or not _touches_notice(lines, i, reasons):
                continue
            lowered = patterns.fold_text(line.text)
            if rules.NOTICE_TERMS.search(lowered) and rules.READER_ADDRESS.search(lowered):
                reasons[line.no] = rules.NOTICE


def _touches_notice(lines: list[Line], i: int, reasons: dict[int, str]) -> bool:
    neighbours = lines[max(0, i - 1) : i] + lines[i + 1 : i + 2]
    return any(reasons.get(n.no) == rules.NOTICE for n in neighbours)


def _label_other_language(lines: list[Line], reasons: dict[int, str], language: str | None) -> None:
    """Label lines in another language, except inside the article's own paragraphs.

    A foreign line between two paragraphs of the article is a quotation (a verse,
    a slogan); a foreign header or footer is chrome.
    """
    if language is None:
        return
    open_lines = [line for line in lines if line.no not in reasons]

    def foreign(line: Line) -> bool:
        return language_reason(line, language) is not None

    # Only lines outside the first and last paragraphs in the article's language can be
    # labelled, so the (costly) judgement is asked of those lines alone.
    native = (ln.no for ln in open_lines if ln.content and not foreign(ln))
    first = next(native, None)
    if first is None:
        first = last = -1  # no paragraph of its own: every line is outside
    else:
        last = next(ln.no for ln in reversed(open_lines) if ln.content and not foreign(ln))
    for line in open_lines:
        if not first <= line.no <= last and foreign(line):
            reasons[line.no] = rules.OTHER_LANGUAGE


def _label_trailing_sections(lines: list[Line], reasons: dict[int, str]) -> None:
    """Label the comment thread and the teaser block below the article, to the page's end.

    Comments and teaser standfirsts are running text, so the body run would go on
    through them. A thread is recognised by its heading or by dated commenter lines, a
    teaser block by its heading with headlines below; and only below some running text,
    so that a comment count or a "most read" box near the title never cuts the article.
    """
    start = _comment_thread_start(lines)
    if start is not None and _words_above(lines, start, reasons) >= rules.MIN_WORDS_ABOVE_COMMENTS:
        for line in lines[start:]:
            reasons.setdefault(line.no, rules.COMMENTS)
    for start, end in _teaser_blocks(lines) + _dated_cards(lines, reasons):
        if _words_above(lines, start, reasons) >= rules.MIN_WORDS_ABOVE_COMMENTS:
            for line in lines[start:end]:
                reasons.setdefault(line.no, rules.RELATED)


def _words_above(lines: list[Line], index: int, reasons: dict[int, str]) -> int:
    return sum(ln.words for ln in lines[:index] if ln.content and ln.no not in reasons)


def _resumes_article(lines: list[Line], i: int) -> bool:
    """True when running text starts again: two paragraphs in a row."""
    # One sentence between headlines is a teaser's standfirst, however long.
    return lines[i].content and i + 1 < len(lines) and lines[i + 1].content


def _teaser_blocks(lines: list[Line]) -> list[tuple[int, int]]:
    """(start, end) index ranges of teaser blocks: a heading, then headlines and standfirsts.

    A block ends where running text resumes: a "Related stories" box set inside the
    article is cut out and the article goes on after it.
    """
    blocks = []
    i = 0
    while i < len(lines):
        if not lines[i].marks & TEASER_HEADING_MARK:
            i += 1
            continue
        below = lines[i + 1 : i + 1 + rules.TEASER_SECTION_LOOKAHEAD]
        if sum(not ln.content for ln in below) < rules.MIN_TEASERS_BELOW_HEADING:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not _resumes_article(lines, end):
            end += 1
        blocks.append((i, end))
        i = end
    return blocks


def _label_glued_teasers(lines: list[Line], reasons: dict[int, str]) -> None:
    """Label the teasers glued to their standfirsts that have another one near."""
    glued = [i for i, line in enumerate(lines) if line.marks & GLUED_TEASER_MARK]
    for previous, i in itertools.pairwise(glued):
        if i - previous <= rules.GLUED_TEASER_NEIGHBOURHOOD:
            reasons.setdefault(lines[previous].no, rules.RELATED)
            reasons.setdefault(lines[i].no, rules.RELATED)


def _dated_cards(lines: list[Line], reasons: dict[int, str]) -> list[tuple[int, int]]:
    """(start, end) index ranges of runs of dated story cards (see rules.MIN_DATED_CARDS)."""
    # The lines' rules have labelled the date lines: looked up among the labels, not
    # searched for in every line.
    numbers = sorted(no for no, reason in reasons.items() if reason == rules.DATE)
    if len(numbers) < rules.MIN_DATED_CARDS:  # most pages
        return []
    index = {line.no: i for i, line in enumerate(lines)}
    dated = [index[no] for no in numbers if rules.DATE_YEAR.search(lines[index[no]].text)]
    if len(dated) < rules.MIN_DATED_CARDS:
        return []

    def headline(line: Line) -> bool:
        # A card's headline or writer: no date, and no paragraph ending on a full stop.
        if reasons.get(line.no) == rules.DATE:
            return False
        return not (line.content and _FULL_STOP_END.search(line.text))

    # Each card has its headline: a timeline's dates head only paragraphs, and stay.
    runs: list[list[int]] = [[dated[0]]]
    for previous, i in itertools.pairwise(dated):
        between = lines[previous + 1 : i]
        if (
            2 <= i - previous <= rules.MAX_CARD_LINES
            and sum(ln.content for ln in between) <= 1
            and any(map(headline, between))
        ):
            runs[-1].append(i)
        else:
            runs.append([i])
    blocks = []
    for run in runs:
        if len(run) < rules.MIN_DATED_CARDS or run[0] == 0 or not headline(lines[run[0] - 1]):
            continue
        # The first card opens with its headline (and name) above its date.
        start = run[0]
        while start > 0 and run[0] - start < rules.MAX_CARD_LINES - 1:
            if lines[start - 1].content:
                break
            start -= 1
        # The last card ends with its standfirst, if it has one: not where the article
        # resumes (a list of stories above the headline and its date line).
        end = run[-1] + 1
        if end < len(lines) and lines[end].content and not _resumes_article(lines, end):
            end += 1
        blocks.append((start, end))
    return blocks


_FULL_STOP_END = re.compile(r"[.][\"'”’)\]]*$")


def _comment_thread_start(lines: list[Line]) -> int | None:
    commenters = [
        i for i, line in enumerate(lines) if line.marks & COMMENTER_MARK and _is_commenter(lines, i)
    ]
    for i, line in enumerate(lines):
        if line.marks & THREAD_HEADING_MARK:
            return i
        if not commenters:  # most pages: only a thread heading can start the thread
            continue
        near = [c for c in commenters if i <= c <= i + rules.COMMENTER_LOOKAHEAD]
        if rules.COMMENT_COUNT_HEADING.match(line.text) and near:
            return i
        if i in commenters and len(near) >= 2:
            return i
    return None


def _is_commenter(lines: list[Line], i: int) -> bool:
    """A 'NAME says:' line dated in itself or on the next line."""
    line = lines[i]
    if not line.marks & COMMENTER_MARK:
        return False
    if _has_date_or_time(line.text):
        return True
    following = lines[i + 1].text if i + 1 < len(lines) else ""
    return _has_date_or_time(following) and len(following.split()) <= 10


def _has_date_or_time(text: str) -> bool:
    return is_date_line(text) or bool(
        re.search(r"\b\d{1,2}:\d{2}\b|\b\d+\s+(minutes?|hours?|days?|weeks?)\s+ago\b", text)
    )


def body_segment(lines: list[Line], reasons: dict[int, str]) -> tuple[int, int]:
    """Indices (first, last) of the maximum-sum run of line scores: the article body."""
    best_sum, best = 0.0, (0, -1)
    run_sum, run_start = 0.0, 0
    for i, line in enumerate(lines):
        if line.content and line.no not in reasons:
            score = float(line.words)
        else:
            score = -(CHROME_BASE_COST + CHROME_WORD_COST * line.words)
        if run_sum <= 0:
            run_sum, run_start = 0.0, i
        run_sum += score
        if run_sum > best_sum:
            best_sum, best = run_sum, (run_start, i)
    return best


def site_suffixes(lines: list[Line]) -> set[str]:
    """' - Site Name' suffixes carried by two or more lines: the site's own name."""
    seen: dict[str, int] = {}
    for line in lines:
        site = line.site
        if site is not None:
            seen[site] = seen.get(site, 0) + 1
    return {site for site, count in seen.items() if count >= 2}


def strip_chrome(
    text: str,
    language: str | None = None,
    title: str | None = None,
    whole_page: bool = True,
) -> StrippedPage:
    """Split a page's text into body lines and removed lines, each removal with its reason.

    ``language`` is detected from the text when not given. ``title``, when known
    (from HTML metadata), is removed wherever it is printed in the text.
    ``whole_page`` says the text is a whole-page dump whose body must be located;
    text already extracted from HTML is only cleaned line by line.
    """
    raw_lines = split_lines(text)
    if language is None:
        longest = heapq.nlargest(30, map(str.strip, raw_lines), key=len)
        language = lang.detect_language("\n".join(longest))
    stop = lang.stopwords(language)
    lines: list[Line] = []
    reasons: dict[int, str] = {}
    for no, raw in enumerate(raw_lines, 1):
        if not raw or raw.isspace():
            continue
        line, reason = judge_line(raw, stop, whole_page)
        lines.append(line.numbered(no))
        if reason:
            reasons[no] = reason
    _extend_notices(lines, reasons)
    _label_other_language(lines, reasons, language)
    suffixes = site_suffixes(lines) if whole_page else set()
    endings = tuple(" " + s for s in suffixes)
    for line in lines if suffixes else ():
        if line.no in reasons:
            continue
        # Body paragraphs never end in the site's own name; captions and teasers do.
        if not line.content and line.text.lstrip("-|– ").strip() in suffixes:
            reasons[line.no] = rules.SITE_NAME
        elif line.text.endswith(endings):
            reasons[line.no] = rules.CAPTION

    if whole_page:
        _label_glued_teasers(lines, reasons)
        _label_trailing_sections(lines, reasons)
        first, last = body_segment(lines, reasons)
        if last < first:
            lines = _sentences_as_paragraphs(lines, reasons)
            first, last = body_segment(lines, reasons)
        inside = lines[first : last + 1]
        _label_inner_runs(inside, reasons)
    else:
        # Extracted text is the main content already: only rules and context remove lines.
        inside = lines
        _label_rule_clusters(inside, reasons)
        _label_menu_runs(inside, reasons)
    body = [line for line in inside if line.no not in reasons]
    label_repeats(lines, body, reasons)
    body = [line for line in body if line.no not in reasons]

    title_line = find_title(lines, body, reasons, title, stop)
    if title_line is not None:
        reasons[title_line.no] = rules.TITLE
        title = title_line.text
    if title:
        label_title_repeats(lines, title, title_line, reasons)
    body = [line for line in body if line.no not in reasons]
    if whole_page:
        body = _trim_to_paragraphs(body)
    in_body = {line.no for line in body}
    for line in lines:
        if line.no not in reasons and line.no not in in_body:
            reasons[line.no] = _outside_reason(line)
    removed = tuple(
        [
            RemovedLine(line.no, line.text, reason)
            for line in lines
            if (reason := reasons.get(line.no))
        ]
    )
    return StrippedPage(tuple(body), removed, title, language)


def _sentences_as_paragraphs(lines: list[Line], reasons: dict[int, str]) -> list[Line]:
    """The lines of a page without running text, its sentences taken for paragraphs.

    A results table or a list of scores is written in names and numbers, not in
    stopwords: no line reads as a paragraph, and the page would have no article. Its
    sentences of MIN_CONTENT_WORDS words or more that give numbers stand for its
    paragraphs instead (not the headlines of an index page: "Is This The End?").
    """
    return [
        dataclasses.replace(line, content=True)
        if line.no not in reasons
        and line.sentence
        and line.words >= MIN_CONTENT_WORDS
        and not line.upper
        and not line.text.endswith("?")
        and rules.DIGIT.search(line.text)
        else line
        for line in lines
    ]


def _trim_to_paragraphs(body: list[Line]) -> list[Line]:
    """The body without short lines at either end: a heading stands between paragraphs.

    The body run starts and ends on paragraphs, but a repeat or the title removed after
    it was found can leave a short line at an end; cleaning the result again would then
    judge that line outside the body, so stripping would not be idempotent.
    """
    first = next((i for i, line in enumerate(body) if line.content), len(body))
    last = next((i for i in range(len(body) - 1, -1, -1) if body[i].content), -1)
    return body[first : last + 1]


def _label_inner_runs(inside: list[Line], reasons: dict[int, str]) -> None:
    """Label runs of non-paragraph lines inside the body: headings stay, teasers go."""
    run: list[Line] = []
    for line in [*inside, None]:
        if line is not None and not (line.content and line.no not in reasons):
            run.append(line)
            continue
        if run:
            ruled = any(r.no in reasons for r in run)
            bulleted = sum(bool(rules.BULLET.match(r.text)) for r in run)
            headline_like = sum(r.title_case or r.upper for r in run)
            teaser = ruled or (len(run) >= 3 and headline_like >= 2 and bulleted < len(run))
            for r in run:
                if r.no in reasons:
                    continue
                if teaser:
                    reasons[r.no] = _shape_reason(r)
                elif r.words > MAX_HEADING_WORDS and not r.sentence:
                    reasons[r.no] = rules.CAPTION
            run = []


def _label_rule_clusters(inside: list[Line], reasons: dict[int, str]) -> None:
    """In extracted text, a headline-shaped line next to a caption or credit is a teaser."""
    for i, line in enumerate(inside):
        if line.no in reasons or line.content or not (line.title_case or line.upper):
            continue
        neighbours = inside[max(0, i - 1) : i] + inside[i + 1 : i + 2]
        if any(
            reasons.get(n.no) in (rules.CREDIT, rules.CAPTION, rules.READ_MORE) for n in neighbours
        ):
            reasons[line.no] = rules.RELATED


def _label_menu_runs(inside: list[Line], reasons: dict[int, str]) -> None:
    """In extracted text, a long run of short lines around the article is a menu."""
    open_lines = [line for line in inside if line.no not in reasons]
    paragraphs = [i for i, line in enumerate(open_lines) if line.content]
    if not paragraphs:
        return
    for outside in (open_lines[: paragraphs[0]], open_lines[paragraphs[-1] + 1 :]):
        run: list[Line] = []
        for line in [*outside, None]:
            if line is not None and _menu_item(line):
                run.append(line)
                continue
            if len(run) >= rules.MIN_MENU_RUN_LINES:
                for item in run:
                    reasons[item.no] = rules.NAV
            run = []


def _menu_item(line: Line) -> bool:
    # Not a line of verse (it goes on: "dark and deep,") nor an ingredient or a player of
    # a line-up, which give numbers.
    return (
        line.words <= rules.MAX_MENU_ITEM_WORDS
        and not line.sentence
        and not rules.BULLET.match(line.text)
        and not line.text.endswith((",", ";", ":"))
        and not rules.DIGIT.search(line.text)
    )


def _shape_reason(line: Line) -> str:
    if line.words <= 3:
        return rules.NAV
    if rules.BULLET.match(line.text):
        return rules.LIST
    if line.title_case or line.upper:
        return rules.RELATED
    return rules.CAPTION


def _outside_reason(line: Line) -> str:
    if line.content:
        return rules.OUTSIDE_BODY
    if line.words <= 3:
        return rules.NAV
    if rules.BULLET.match(line.text):
        return rules.LIST
    if line.title_case or line.upper:
        return rules.HEADLINE
    return rules.BOILERPLATE

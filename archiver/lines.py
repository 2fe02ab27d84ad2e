"""One line of a page judged alone: its shape, and the rule that labels it chrome.

A line's verdict depends on its text only (and the page's language and kind), so it is
computed once per distinct text and kept: pages of one site repeat their menus, footers
and widgets line for line. :mod:`archiver.chrome` judges the page around the lines.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from . import lang, patterns, rules


@dataclass(frozen=True)
class Line:
    """Shape features of one non-blank line."""

    no: int  # 1-based line number in the raw text
    text: str
    words: int
    stop_share: float
    title_case: bool
    upper: bool
    sentence: bool
    content: bool  # looks like a paragraph of running text
    marks: int = 0  # the headings and commenter lines it may be (the *_MARK bits)
    site: str | None = None  # the site name it ends with (' - Site'), if it may carry one

    def __init__(
        self,
        no: int,
        text: str,
        words: int,
        stop_share: float,
        title_case: bool,
        upper: bool,
        sentence: bool,
        content: bool,
        marks: int = 0,
        site: str | None = None,
    ) -> None:
        # Written out: the generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__, four times slower, and every line of every page is a Line.
        fields = self.__dict__
        fields["no"] = no
        fields["text"] = text
        fields["words"] = words
        fields["stop_share"] = stop_share
        fields["title_case"] = title_case
        fields["upper"] = upper
        fields["sentence"] = sentence
        fields["content"] = content
        fields["marks"] = marks
        fields["site"] = site

    def numbered(self, no: int) -> Line:
        """The same line at another line number (a kept verdict placed on a new page)."""
        # A copy of the fields dict: half the cost of __init__, for every line of a page.
        line = object.__new__(Line)
        fields = line.__dict__
        fields.update(self.__dict__)
        fields["no"] = no
        return line


# How much of a line is looked at to tell whether it is written in capitals.
UPPER_SAMPLE_CHARS = 200
# A paragraph needs this many words and some stopwords to count as running text.
MIN_CONTENT_WORDS = 7
MIN_STOP_SHARE = 0.12
LONG_CONTENT_WORDS = 25


# What a line's text may open, told once per text with its shape (Line.marks): a comment
# thread's heading, a teaser block's heading, a commenter's "NAME says:" line.
THREAD_HEADING_MARK = 1
TEASER_HEADING_MARK = 2
COMMENTER_MARK = 4
# A teaser's headline glued to its standfirst (see is_glued_teaser): archiver.chrome
# removes it where another one is near, as teasers come in lists.
GLUED_TEASER_MARK = 8
# A commenter line is a name and a verb, not a sentence.
MAX_COMMENTER_WORDS = 16

_NORM = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Lower-case words only, for comparing lines regardless of punctuation and case."""
    return _NORM.sub(" ", text.lower()).strip()


def longest_words(key: str, count: int = 1) -> list[str]:
    """The longest distinct words of a normalised text, longest first.

    A line whose normalised text holds ``key`` holds each of them as it is, lower-cased:
    a substring test on ``text.lower()`` rules most lines out before normalising them.
    """
    return sorted(set(key.split(" ")), key=len, reverse=True)[:count]


# A word of a normalised line: what normalise keeps between two spaces.
_NORM_WORD = re.compile(r"[^\W_]+")
# How far from a line's end its last word is looked for first.
_LAST_WORD_WINDOW = 48


def normalised_ends(text: str) -> tuple[str, str]:
    """The first and last words of ``normalise(text)``, found without normalising it.

    Lines that normalise alike share them, so comparing these first spares normalising
    every paragraph of a page (a regex pass over the whole line) to find the few repeats.
    """
    lowered = text.lower()
    first = _NORM_WORD.search(lowered)
    if first is None:
        return "", ""
    start = len(lowered)
    while True:
        start = max(0, start - _LAST_WORD_WINDOW)
        found = list(_NORM_WORD.finditer(lowered, start))
        # A word that starts where the window does may begin before it: look further back.
        if found and (found[-1].start() > start or start == 0):
            return first.group(), found[-1].group()


def split_lines(text: str) -> list[str]:
    """The raw lines of a text, with line ends normalised (\\r\\n, \\r) but not stripped."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def describe_line(no: int, raw: str, stop: frozenset[str]) -> Line:
    """Compute the shape features of one line."""
    parts = raw.split()
    text = " ".join(parts)  # runs of any whitespace, no-break spaces included
    if text == raw:
        text = raw  # one string, not two equal ones, in the verdicts kept for the next page
    tokens = rules.WORD.findall(text)
    words = max(len(tokens), lang.count_words(text, len(parts)))
    stop_share = (
        sum(map(stop.__contains__, map(str.lower, tokens))) / words if stop and words else 0.0
    )
    heads = "".join(map(itemgetter(0), tokens))
    if heads.isascii():  # letters and capitals counted in C, as a paragraph has dozens
        initials, initial_capitals = lang.count_capitals(heads)
    else:
        letters_first = [h for h in heads if h.isalpha()]
        initials, initial_capitals = len(letters_first), sum(map(str.isupper, letters_first))
    title_case = initials >= 3 and initial_capitals / initials >= 0.75
    # Capitals are judged on the start of the line: a long line is all-caps or not early on.
    letters, capitals = lang.count_capitals(text[:UPPER_SAMPLE_CHARS])
    upper = letters >= 4 and capitals / letters > 0.8
    sentence = bool(rules.SENTENCE_END.search(text) or rules.INNER_SENTENCE_END.search(text))
    stop_ok = not stop or stop_share >= MIN_STOP_SHARE
    content = (
        words >= MIN_CONTENT_WORDS and sentence and stop_ok and not upper and not title_case
    ) or (words >= LONG_CONTENT_WORDS and stop_ok and not upper)
    marks = 0
    if not content:
        if rules.COMMENT_THREAD_HEADING.match(text):
            marks |= THREAD_HEADING_MARK
        if rules.TEASER_SECTION_HEADING.match(text):
            marks |= TEASER_HEADING_MARK
    if words >= rules.MIN_GLUED_HEADLINE_WORDS + rules.GLUED_LEAD_WORDS and is_glued_teaser(text):
        marks |= GLUED_TEASER_MARK
    if words <= MAX_COMMENTER_WORDS and rules.COMMENTER.match(text):
        marks |= COMMENTER_MARK
    site = _site_suffix(text, words)
    return Line(no, text, words, stop_share, title_case, upper, sentence, content, marks, site)


def _site_suffix(text: str, words: int) -> str | None:
    """The site name a line ends with (' - Site Name'), or is ('- Site Name'), if any."""
    match = rules.SITE_SUFFIX.search(text, max(0, len(text) - rules.SITE_SUFFIX_CHARS))
    if match:
        return match.group("site")
    if text.startswith(("- ", "| ", "– ")) and words <= 5:
        return text[2:].strip()
    return None


# Pages of one site repeat their chrome (menus, footers, widgets) line for line, so the
# verdicts on a line's text are kept for the next page instead of computed again. A
# paragraph of running text is rarely met twice and would only crowd the chrome out, so
# it is not kept. When the store is full, the verdict used least recently goes: a site's
# chrome, met on each of its pages, stays however many one-off lines (headlines, captions)
# come between. Dropping the oldest verdict instead, from a dict, made pages 2,001-6,000
# of a long run of text dumps take 13.1 s to extract instead of 11.7 s: every site's
# chrome was pushed out and judged again each time the one-off lines had filled the
# store, and taking a dict's first key walks past every key removed before it (6 µs).
LINE_CACHE_SIZE = 32_768
CACHED_MAX_WORDS = 15
_LINE_VERDICTS: OrderedDict[tuple[str, frozenset[str], bool], tuple[Line, str | None]] = (
    OrderedDict()
)


def judge_line(raw: str, stop: frozenset[str], whole_page: bool) -> tuple[Line, str | None]:
    """The shape (numbered 0: see :meth:`Line.numbered`) and the rule reason of a line's text."""
    key = (raw, stop, whole_page)
    found = _LINE_VERDICTS.get(key)
    if found is not None:
        # Workers on Dask may share the store between threads: a verdict another thread
        # evicted in between is simply not moved. (try, not contextlib.suppress: 0.3 µs
        # less, on every line a page shares with other pages of its site.)
        try:  # noqa: SIM105
            _LINE_VERDICTS.move_to_end(key)
        except KeyError:
            pass
        return found
    line = describe_line(0, raw, stop)
    verdict = line, rule_reason(line, whole_page)
    if not line.content or line.words < CACHED_MAX_WORDS:
        if len(_LINE_VERDICTS) >= LINE_CACHE_SIZE:
            with contextlib.suppress(KeyError):  # emptied by another thread meanwhile
                _LINE_VERDICTS.popitem(last=False)
        _LINE_VERDICTS[key] = verdict
    return verdict


def rule_reason(line: Line, whole_page: bool = True) -> str | None:
    """The reason label a rule gives this line, or None when no rule applies.

    In text extracted from HTML a bulleted line is a list item of the article, so
    the story-list rule only applies to whole-page dumps.
    """
    text = line.text
    if not any(ch.isalpha() for ch in text):
        return rules.NO_WORDS
    # A paragraph of running text is only judged by the copyright and credit rules.
    running_text = line.content and line.words >= 15
    ruleset = rules.STRONG_RULES if running_text else rules.ALL_RULES
    reason = ruleset.reason(rules.BULLET.sub("", text))
    if reason:
        return reason
    if is_notice(text):
        return rules.NOTICE
    if line.words <= rules.MAX_NAV_WORDS and not line.sentence:
        tokens = [t.lower() for t in rules.WORD.findall(text)]
        if all(t in rules.NAV_WORDS for t in tokens):
            return rules.NAV
    if not line.content and is_date_line(text):
        return rules.DATE
    if whole_page and _is_tag_list(text):
        return rules.TAGS
    if (
        whole_page
        and rules.BULLET.match(text)
        and (line.upper or line.title_case)
        and not line.content
    ):
        return rules.LIST
    return None


def is_notice(text: str) -> bool:
    """True for a privacy, cookie, account, terms or affiliate notice addressed to the reader."""
    lowered = patterns.fold_text(text)
    if not rules.READER_ADDRESS.search(lowered):  # the cheaper test first: most lines fail it
        return False
    terms = {m.group(0) for m in rules.NOTICE_TERMS.finditer(lowered)}
    return len(terms) >= rules.MIN_NOTICE_TERMS


def is_glued_teaser(text: str) -> bool:
    """True for a teaser's headline glued to its standfirst (see rules.GLUE)."""
    # Word by word from the start, so that running text is ruled out at its first word
    # in lower case: a search for the glue through every paragraph cost 15% more time,
    # and splitting a paragraph into all its words 3 µs. The first three words first.
    first = text.split(None, 3)
    if len(first) < 3 or not (_in_title_case(first[1]) and _in_title_case(first[2])):
        return False  # most lines (the first word of a line is mostly capitalised anyway)
    words = text.split(None, rules.MAX_GLUED_HEADLINE_WORDS + rules.GLUED_LEAD_WORDS)
    capitals = 0
    for i, word in enumerate(words):
        if word[0].isupper():
            capitals += 1
            # Most capitalised words have no other capital: no glue to search for.
            glue = None if word[1:].islower() else rules.GLUE.search(word)
            if glue is None:
                continue
            if (
                capitals < rules.MIN_GLUED_HEADLINE_CAPITALS
                or i + 1 < rules.MIN_GLUED_HEADLINE_WORDS
            ):
                return False
            lead = [word[glue.start() :], *words[i + 1 : i + rules.GLUED_LEAD_WORDS]]
            return sum(w.islower() for w in lead) >= rules.MIN_GLUED_LEAD_LOWER
        if not _in_title_case(word):
            return False  # a headline has no other words in lower case
    return False


def _in_title_case(word: str) -> bool:
    return word[0].isupper() or word[0].isdigit() or word.lower() in rules.TITLE_CASE_SMALL_WORDS


def _is_tag_list(text: str) -> bool:
    if not rules.TAG_LIST.match(text):
        return False
    fragments = [f.strip() for f in re.split(r"[,;|]", text) if f.strip()]
    return len(fragments) >= rules.MIN_TAG_FRAGMENTS and all(
        len(f.split()) <= rules.MAX_TAG_FRAGMENT_WORDS for f in fragments
    )


def is_date_line(text: str) -> bool:
    """True for a line that is a date or a time and little else (two other words at most)."""
    if not rules.DIGIT.search(text):
        return False  # every date or time this recognises has a digit
    # Every full date of rules.DATE_PATTERNS has a year standing as a word of its own (but
    # 2020年3月3日, whose line's words are not told apart anyway), so this finds a line
    # that holds one too, without trying each pattern.
    if not re.search(r"\b\d{1,2}:\d{2}\b|\b(19|20)\d\d\b", text):
        return False
    rest = rules.WORD.findall(rules.DATE_TOKEN.sub(" ", patterns.fold_text(text)))
    return len(rest) <= 2


def language_reason(line: Line, language: str | None) -> str | None:
    """'other-language' when a line is clearly not in the article's language."""
    if language is None:
        return None
    running = line.content and line.words >= LONG_CONTENT_WORDS
    if lang.is_foreign_line(line.text, language, running, line.stop_share):
        return rules.OTHER_LANGUAGE
    return None

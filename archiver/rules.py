"""Chrome rules as data: patterns and word lists, each with the reason label it gives.

The code that applies them lives in :mod:`archiver.chrome`. Every label here ends up
in ``removed_lines.reason``, so a user can see why a line was stripped. Rules are
general to news sites; none names a particular site or page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Reason labels, in one place so that stats and docs can list them.
TITLE = "title"
DUPLICATE_TITLE = "duplicate-title"
DUPLICATE_PARAGRAPH = "duplicate-paragraph"
DUPLICATE = "duplicate"
DATE = "date"
BYLINE = "byline"
HANDLE = "handle"
CAPTION = "caption"
CREDIT = "credit"
COPYRIGHT = "copyright"
RELATED = "related-link"
READ_MORE = "read-more"
LIST = "list"
WIDGET = "widget"
NAV = "nav"
SITE_NAME = "site-name"
OTHER_LANGUAGE = "other-language"
CONTACT = "contact"
TAGS = "tags"
NO_WORDS = "no-words"
HEADLINE = "headline"
OUTSIDE_BODY = "outside-body"
BOILERPLATE = "boilerplate"
COMMENTS = "comments"
NOTICE = "notice"

REASONS: dict[str, str] = {
    TITLE: "the article's title (stored in its own column)",
    DUPLICATE_TITLE: "the title printed again",
    DUPLICATE_PARAGRAPH: "a standfirst or paragraph that the body repeats",
    DUPLICATE: "a paragraph printed twice",
    DATE: "a date or timestamp line",
    BYLINE: "a byline or author credit",
    HANDLE: "a social-media handle",
    CAPTION: "a photo caption",
    CREDIT: "a photo or media credit",
    COPYRIGHT: "a copyright notice",
    RELATED: "a teaser link to another article",
    READ_MORE: "a READ MORE / related-stories prompt",
    LIST: "a list of other stories or videos",
    WIDGET: "a subscribe, share, comment or login widget",
    NAV: "navigation or menu words",
    SITE_NAME: "the site's name or tagline",
    OTHER_LANGUAGE: "a line in another language than the article",
    CONTACT: "an e-mail contact line",
    TAGS: "a list of keywords or tags",
    NO_WORDS: "numbers or symbols only",
    HEADLINE: "a headline outside the article body",
    OUTSIDE_BODY: "text outside the article body",
    BOILERPLATE: "page chrome outside the article body",
    COMMENTS: "the readers' comment thread after the article",
    NOTICE: "a privacy, cookie, account, terms or affiliate notice to the reader",
}

# Whole-line patterns, tried in order; the first match labels the line.
LINE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.IGNORECASE))
    for reason, pattern in (
        (COPYRIGHT, r"^(©|\(c\)|copyright\b).*\b(all rights reserved|rights reserved)\b"),
        (COPYRIGHT, r"^(copyright|all rights reserved)\b"),
        (
            COPYRIGHT,
            r"\b(for your personal,? non-?commercial use only|may not be (re)?published,? "
            r"broadcast|may not be reproduced|all rights reserved)\b",
        ),
        (CREDIT, r"^\s*(©|\(c\)\s)"),
        # A gallery counter opening a caption: "3of12A man walks...", "Photo 3 of 12: ..."
        (
            CAPTION,
            r"^\d{1,3}of\d{1,3}(?-i:[A-Z“\"(])|^(photo|image|slide|picture|gallery)\s+\d{1,3}\s*"
            r"(of|/)\s*\d{1,3}\b|^\d{1,3}\s*(of|/)\s*\d{1,3}$",
        ),
        (
            CREDIT,
            r"^(photo|image|picture|pictured|video|graphic|illustration|file photo|"
            r"photograph|main image|top image|credit|source)s?\s*(:|by\b|credit|courtesy)",
        ),
        (
            CREDIT,
            r"^(getty images|shutterstock|alamy|ap photo|reuters|afp|epa|xinhua)\b[^.]{0,60}$",
        ),
        (CREDIT, r"\b(getty images|shutterstock|ap photo|/ ?afp|/ ?reuters|via getty)\s*\)?$"),
        (
            READ_MORE,
            r"^(read more|read also|also read|read next|read the full|see also|"
            r"related( stories| articles| content| news| coverage)?|recommended( for you)?|"
            r"more from|more on this|you (may|might) also like|must read|don'?t miss|"
            r"further reading|trending now|most read|most popular|editor'?s picks|"
            r"see more|more stories|more news|watch more|recommended reading)\b"
            r"\s*([:»>|–—-]|[.…]*$)",
        ),
        (READ_MORE, r"^(read|continue reading|click here|learn more|find out more)\b.{0,60}$"),
        # A headline cut short for a teaser: "Minister warns of cuts to ..." on its own line.
        (RELATED, r"^[^.!?…]{8,140}\S(\.\.\.|…)$"),
        (CREDIT, r"[a-z.)]\s*[./]?\s*(reuters|afp|ap photo|getty images|epa|shutterstock)$"),
        (CONTACT, r"^(write to|contact|email|e-mail|reach)\b.{0,80}\b[\w.+-]+@[\w-]+\.[\w.]+\.?$"),
        (HANDLE, r"^[(\[]?@\w{2,}[)\]]?$"),
        (HANDLE, r"^(follow|tweet)\s.{0,40}@\w{2,}\S*$"),
        (
            BYLINE,
            r"^(by|written by|reporting by|report by|words by|text by|story by|posted by|"
            r"von|par|por|di|door|av)\s+\S.{0,70}$",
        ),
        (
            WIDGET,
            r"^(to (participate|take part|join) in the discussion|log in or (register|sign up)|"
            r"(sign|log) (in|up)\b|subscribe\b|share (this|on|via|article|story)|"
            r"follow us\b|leave a (comment|reply)|(\d+\s+)?comments?(\s*\(\d+\))?$|"
            r"post a comment|add a comment|view comments|show comments|"
            r"we use cookies|accept (all )?cookies|this website uses cookies|"
            r"your (message|comment) has been sent|newsletter|get our newsletter|"
            r"sign up for|advertisement$|sponsored( content)?$|loading|loader$|"
            r"enable javascript|javascript is disabled|skip to (main )?content|"
            r"back to top|print( this)?( article| page)?$|e-?mail( this)?( article)?$|"
            r"thanks? (you )?for (signing up|subscribing|registering)|"
            r"(an|there was an) error (has )?(occurred|processing)|please try again|"
            r"keep an eye on your inbox|check your inbox|this article has been sent to|"
            r"(order|buy) reprints|reprints? (&|and) permissions|sorry!?$|thank you!?$|"
            r"tell us what you think)",
        ),
        (
            WIDGET,
            r"\b(subscribe to|sign up (for|to)|get)\b.{0,60}\bnewsletters?\b|"
            r"\b(delivered|straight|right) (to|in|into) your inbox\b|\bclick(ing)? here\b",
        ),
        (
            CONTACT,
            r"\b(may|can) be reached at\b|\bfollow (him|her|them|us|me) on "
            r"(twitter|facebook|instagram|x)\b|\bhave a (news )?tip\?",
        ),
    )
)

# The rules that apply even to a paragraph of running text.
STRONG_PATTERNS = tuple((r, p) for r, p in LINE_PATTERNS if r in (COPYRIGHT, CREDIT, CAPTION))


@dataclass(frozen=True)
class RuleSet:
    """Line patterns compiled for speed; the leftmost match wins, then the earlier pattern.

    Patterns that can only match at the start of a line are joined into one regex tried
    once at position 0; patterns that end at the line's end are tried on its tail only;
    the few others are searched one by one. One regex of all of them would try every
    alternative at every position of every line, several times slower. The searched
    patterns run on the lower-cased line without IGNORECASE where that means the same
    (see :func:`fold_case` and :func:`fold_text`).
    """

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    anchored: re.Pattern[str]
    tails: tuple[int, ...]
    free: tuple[int, ...]
    folded: tuple[re.Pattern[str] | None, ...] = ()

    def reason(self, text: str) -> str | None:
        """The reason of the leftmost match, the first pattern in order among equals."""
        match = self.anchored.match(text)
        if match and match.lastgroup:
            # Only a pattern earlier in order that also matches at the start can beat it.
            first = int(match.lastgroup[1:])
            earlier = (i for i in (*self.tails, *self.free) if i < first)
            first = min([first, *(i for i in earlier if self.patterns[i][1].match(text))])
            return self.patterns[first][0]
        lowered = fold_text(text)
        best: tuple[int, int] | None = None
        offset = 0
        if len(text) > TAIL_CHARS:  # start the tail at a word, so \b means what it says
            offset = len(text) - len(text[-TAIL_CHARS:].split(" ", 1)[-1])
        for i in self.tails:
            found = self._search(i, text, lowered, offset)
            if found and (best is None or (found.start(), i) < best):
                best = (found.start(), i)
        for i in self.free:
            found = self._search(i, text, lowered, 0)
            if found and (best is None or (found.start(), i) < best):
                best = (found.start(), i)
        return self.patterns[best[1]][0] if best else None

    def _search(self, i: int, text: str, lowered: str, start: int) -> re.Match[str] | None:
        folded = self.folded[i] if self.folded else None
        if folded is not None:
            return folded.search(lowered, start)
        return self.patterns[i][1].search(text, start)


# Letters IGNORECASE takes for an ASCII letter that lower() leaves alone (dotless i, long
# s) or makes two characters of (dotted capital I): folded by hand first.
_FOLD_FIRST = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})


def fold_text(text: str) -> str:
    """The text lower-cased for the folded patterns: a character for a character, and an
    ASCII letter wherever IGNORECASE would see one."""
    return (text if text.isascii() else text.translate(_FOLD_FIRST)).lower()


def fold_case(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The pattern compiled without IGNORECASE, to search :func:`fold_text`, or None.

    Python's re is two to three times slower when it ignores case. A pattern with
    an upper-case letter outside an escape ([A-Z]) or inline flags of its own
    would mean something else, and is not folded.
    """
    source = pattern.pattern
    if not pattern.flags & re.IGNORECASE or re.search(r"\(\?[-aiLmsux]", source):
        return None
    if any(ch.isupper() for ch in re.sub(r"\\.", "", source)):
        return None
    return re.compile(source, pattern.flags & ~re.IGNORECASE)


# A pattern anchored at the end matches within this many characters of it.
TAIL_CHARS = 100


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (split on | outside groups and classes)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def combine(patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> RuleSet:
    """Compile (reason, pattern) pairs into a :class:`RuleSet`."""
    anchored, tails, free = [], [], []
    for i, (_, p) in enumerate(patterns):
        alternatives = _alternatives(p.pattern)
        if all(a.startswith("^") for a in alternatives):
            anchored.append(i)
        elif all(a.endswith("$") and not a.endswith("\\$") for a in alternatives):
            tails.append(i)
        else:
            free.append(i)
    # Each pattern becomes the named group r<index>; the outer group closes last, so
    # lastgroup is that name even when the pattern has groups of its own.
    joined = "|".join(f"(?P<r{i}>{patterns[i][1].pattern})" for i in anchored) or "(?!)"
    folded = tuple(fold_case(p) for _, p in patterns)
    return RuleSet(patterns, re.compile(joined, re.IGNORECASE), tuple(tails), tuple(free), folded)


ALL_RULES = combine(LINE_PATTERNS)
STRONG_RULES = combine(STRONG_PATTERNS)

# Comment threads. A heading that always opens one ("34 responses to ...", "Leave a
# reply", "Top rated comments"), a heading that may ("Comments", "[ 167 comments ]"), and
# a commenter line ("jo says:", "Jo Bloggs on May 2, 2019 at 4:47 pm said:").
COMMENT_THREAD_HEADING = re.compile(
    r"^\d+\s+(responses?|comments?|replies|thoughts?|reactions?)\s+(to|on)\s|"
    r"^(top[- ]rated|most recent|newest|oldest|recent|latest|readers?'?|all|view all|"
    r"show all|read all)\s+comments?\b|^(leave|post|add|write)\s+a\s+(comment|reply|response)\b|"
    r"^join the (discussion|conversation)\b",
    re.IGNORECASE,
)
COMMENT_COUNT_HEADING = re.compile(
    r"^\[?\s*(\d+\s+)?(comments?|responses?|replies)(\s*\(\d+\))?\s*\]?:?$", re.IGNORECASE
)
COMMENTER = re.compile(r"^[^.!?]{1,80}?\s(says|said|wrote|writes|commented)(\s+on)?\s*:?$")
# A commenter line is only trusted with a date in it or on the next line, and a thread
# only when the article already has this many words of running text above it.
MIN_WORDS_ABOVE_COMMENTS = 50
COMMENTER_LOOKAHEAD = 40

# Notices to the reader (privacy, cookies, accounts, terms, subscriptions, affiliate
# links) are running text, but speak to "you" about the site with several of these
# terms; an article about privacy quotes one or two, not a whole notice's worth. Both
# patterns are searched in the line as fold_text lower-cases it (faster than IGNORECASE).
NOTICE_TERMS = re.compile(
    r"\b(privacy( policy| notice| statement)?|cookies?|consent|personal (data|information)|"
    r"(your|an?) account|click(ing)?|agree(ment)?|terms (of|and) (use|service|conditions)|"
    r"subscri(be|ption)|unsubscribe|regist(er|ration|ering)|log ?in|sign(ing)? (in|up)|"
    r"newsletters?|opt[- ]out|browser|third[- ]part(y|ies)|data protection|gdpr|"
    r"advertis(ers?|ing|ements?)|affiliate links?|commission)\b"
)
READER_ADDRESS = re.compile(r"\b(we|our|us|you|your)\b")
MIN_NOTICE_TERMS = 3

# A heading that opens a block of teasers for other stories ("More from ...", "Related
# stories", "Most read"): below the article, the block runs to the end of the page.
TEASER_SECTION_HEADING = re.compile(
    r"^(more (from|on|in|stories|news|articles|coverage|headlines|videos)|"
    r"related (stories|articles|content|news|coverage|links|posts|reading)|"
    r"recommended( for you| stories| articles| reading)?|you (may|might) (also )?like|"
    r"most (read|popular|viewed|shared|commented)|trending( now| stories)?|top stories|"
    r"latest (news|stories|headlines|videos)|editor'?s'? picks|don'?t miss|"
    r"what to read next|read next)\b[^.!?]{0,50}$",
    re.IGNORECASE,
)
# Of the lines just below such a heading, this many must be teaser-shaped (not running
# text) for the heading to open a block rather than head a part of the article.
TEASER_SECTION_LOOKAHEAD = 4
MIN_TEASERS_BELOW_HEADING = 2

# A line made only of these words (at most MAX_NAV_WORDS of them) is a menu or
# widget item: site sections, sharing buttons and page furniture.
NAV_WORDS: frozenset[str] = frozenset(
    """
    home news world business sport sports politics opinion opinions technology tech science
    health entertainment culture lifestyle life travel food style arts art music film films
    movies tv books video videos photo photos gallery galleries podcast podcasts live latest
    newsfeed feed trending top stories story more menu search login logout register subscribe
    subscription share tweet email print comments comment chats chat asia europe africa
    americas america middle east us uk usa australia india china russia local national
    international economy markets market money finance weather environment climate education
    analysis features feature blogs blog columns column columnists editorial letters
    obituaries contact about advertise careers jobs privacy terms cookies policy sitemap rss
    archive archives all en fr de es ru ar zh ja back next previous prev close open watch
    listen follow facebook twitter instagram youtube linkedin whatsapp telegram pinterest
    reddit vk copy link links related tags tag topics topic section sections categories
    category region regions society military defence defense crime law justice security
    auto autos cars real estate property travel games puzzles crossword horoscope multimedia
    interactive special reports report press releases release english edition editions
    """.split()
)
MAX_NAV_WORDS = 4

# Date shapes that give a full day (a year is required: "February 25" alone is no date).
MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR_DIGITS = r"(?:19|20)\d\d"
_YEAR = r"(?P<year>" + _YEAR_DIGITS + ")"
DATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b" + _YEAR + r"-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)(?!\d)",
        r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b",
        r"\b" + _DAY + r"(?:\s+of)?\s+" + _MONTH + r",?\s+" + _YEAR + r"\b",
        r"\b(?P<day>[0-3]?\d)[./](?P<mnum>[01]?\d)[./]" + _YEAR + r"\b",
    )
)
# A year as the patterns above need it: a text without one holds no full date.
DATE_YEAR = re.compile(_YEAR_DIGITS)
# Any date-ish token, with or without a year, used to spot date-only lines (searched in
# the line as fold_text lower-cases it).
DATE_TOKEN = re.compile(
    r"\b(\d{1,4}[-/.:]\d{1,2}([-/.:]\d{1,4})?|" + "|".join(MONTHS) + r"|"
    r"mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"am|pm|gmt|utc|bst|est|edt|cet|msk|jst|updated?|published|posted|last|modified|date|"
    r"ago|hours?|minutes?|mins?|days?|today|yesterday|at|on|\d+(st|nd|rd|th)?)\b\.?,?"
)

# Datelines that open a news story. Each names its groups: place, and source where the
# wire service or publisher is given.
DATELINE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        # PLACE (Source / Other - date) text  |  PLACE (Source) - text
        r"^(?P<place>[A-Z][A-Za-z.'’ -]{1,40}?)(?:,\s*[A-Z][A-Za-z. ]{1,30})?\s*"
        r"\((?P<source>[^()/\-–—]{2,40}?)\s*(?:[/,][^()]*|[-–—][^()]*)?\)\s*[-–—:]*\s*\S",
        # PLACE, Month day. /SOURCE/. text
        r"^(?P<place>[A-Z][A-Za-z.'’ -]{1,40}?),\s*[A-Z][a-z]+\.?\s+\d{1,2}\.?\s*"
        r"/(?P<source>[A-Za-z][\w .&-]{1,30})/\.?\s*\S",
        # PLACE, Month day (SOURCE) text
        r"^(?P<place>[A-Z][A-Z.'’ -]{1,40}?),\s*[A-Z][a-z]+\.?\s+\d{1,2}\s*"
        r"\((?P<source>[^()]{2,30})\)",
        # PLACE -- text  |  PLACE — text  (place in capitals, or a capitalised word before --)
        r"^(?P<place>[A-Z][A-Z.'’ -]{1,40}[A-Z])\s*(?:,\s*[A-Z][A-Za-z]+\.?\s*\d{1,2}\s*)?(?:--|—|–|-|:)\s*\S",
        r"^(?P<place>[A-Z][a-z]+(?: [A-Z][a-z]+)?)--\S",
    )
)

# A wire-service credit at the very end of the body: "... last November. Jiji Press"
TRAILING_CREDIT = re.compile(
    r"[.!?\"”’]\s+\(?(?P<source>(?:[A-Z][\w&.-]*)(?: [A-Z][\w&.-]*){0,3})\)?\s*$"
)

# A "Title - Site Name" or "Title | Site Name" suffix; a suffix several lines share is
# the site's name, and lines carrying it are captions or teasers, not body.
SITE_SUFFIX = re.compile(r"\s[-|–—]\s(?P<site>[A-Z][\w&.'’ ]{1,40})$")
# The longest text SITE_SUFFIX can match (space, dash, space, 41 characters of name):
# it is searched for in a line's last this many characters only.
SITE_SUFFIX_CHARS = 44

# A comma-separated keyword list: many short fragments and no sentence.
TAG_LIST = re.compile(r"^[^.!?]{0,400}$")
MIN_TAG_FRAGMENTS = 5
MAX_TAG_FRAGMENT_WORDS = 4

# Bullet markers that open list items.
BULLET = re.compile(r"^[-•*·▪►»–—]\s+")

# Full-width stops end sentences in Chinese and Japanese.
SENTENCE_END = re.compile(r"[.!?…:;。！？][\"'”’»)\]」』）]*$")
INNER_SENTENCE_END = re.compile(r"[a-z0-9\"'”’)\]][.!?][\"'”’»]?\s+[\"'“‘«]?[A-Z]")
WORD = re.compile(r"\w+(?:[’'-]\w+)*")

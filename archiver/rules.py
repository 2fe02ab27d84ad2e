"""Chrome rules as data: patterns and word lists, each with the reason label it gives.

The code that applies them lives in :mod:`archiver.chrome`, and :mod:`archiver.patterns`
compiles the line patterns. Every label here ends up in ``removed_lines.reason``, so a
user can see why a line was stripped. Rules are general to news sites; none names a
particular site or page.
"""

from __future__ import annotations

import re

from .patterns import combine

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

# Words a byline starts with, in the languages of the stoplists ("By Jane Doe", "Von Jane
# Doe", "Par Jeanne Doe"): the byline rule below and the author in archiver.meta.
BYLINE_WORDS: tuple[str, ...] = (
    "by", "written by", "reporting by", "report by", "words by", "text by", "story by",
    "posted by", "von", "par", "por", "di", "door", "av",
)  # fmt: skip
# A story's closing lines may name its writer: a credit ("Reporting by Jane Doe; editing
# by ...", "Write to Jane Doe at jane@..."), or a biography ("Jane Doe is a staff writer
# at ..."), whose role is one of these. archiver.meta takes the name for the author when
# the page also prints it above the story.
WRITER_CREDIT_OPENINGS: tuple[str, ...] = ("reporting by", "reported by", "written by", "write to")
WRITER_ROLES: tuple[str, ...] = (
    "writer", "editor", "reporter", "correspondent", "contributor", "columnist", "journalist",
    "author", "blogger", "critic",
)  # fmt: skip
# How many of a story's last lines (its last paragraphs and the lines after it) may hold them.
WRITER_CREDIT_LINES = 8
# Labels a credit line opens with, then a colon, in the languages of the stoplists: the
# writer ("Text: Jane Doe", "Autor: Jan Nowak", "Текст: Иван Петров") and the picture
# or its source ("Foto: Jane Doe", "Quelle: dpa"). Without their colon they are words,
# and a writer's name follows the colon ("Text: Matthew 5:9" is a verse, "Words: 1,200" a
# count).
BYLINE_LABELS: tuple[str, ...] = (
    "author", "authors", "text", "words", "autor", "autorin", "autoren", "auteur", "auteurs",
    "autore", "autori", "autora", "texte", "texto", "testo", "tekst", "текст", "автор",
    "автори", "авторы",
)  # fmt: skip
PICTURE_LABELS: tuple[str, ...] = (
    "foto", "fotos", "fotó", "fotografia", "fotografía", "fotografie", "fotograf", "bild",
    "bilder", "imagen", "immagine", "immagini", "afbeelding", "zdjęcie", "zdjęcia",
    "фото", "фотография", "иллюстрация", "crédit", "crédits", "crédito", "credito",
)  # fmt: skip
CREDIT_LABELS: tuple[str, ...] = (
    *PICTURE_LABELS, "quelle", "fuente", "fonte", "bron", "źródło", "источник", "джерело",
)  # fmt: skip
# What a caption's credit glued to its end opens with: "... on Monday. Photo: Jane Doe",
# "... on Monday (Foto: Jana Dorn)". Not a source: a paragraph may end citing one.
_GLUED_CREDIT_LABELS = (
    "photo", "photos", "photograph", "picture", "image", "illustration", "credit",
    *PICTURE_LABELS,
)  # fmt: skip

GLUED_CREDIT = re.compile(
    r"[.!?”\"(\[]\s*[(\[]?(" + "|".join(_GLUED_CREDIT_LABELS) + r")\s?(:|by\b)"
    r"\s*[^\s.!?][^.!?]{1,60}[)\]]?$"
)

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
        # (The look-ahead for the colon first: most lines have none, and are spared the
        # labels one by one.)
        (CREDIT, r"^(?=[^:]{2,13}:)(" + "|".join(CREDIT_LABELS) + r")\s?:\s*\S.{0,80}$"),
        (CAPTION, GLUED_CREDIT.pattern),
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
        # An address alone on its line: a byline's e-mail, never a headline or a paragraph.
        (CONTACT, r"^(e-?mail:?\s*)?[\w.+-]+@[\w-]+(\.[\w-]+)+$"),
        (HANDLE, r"^[(\[]?@\w{2,}[)\]]?$"),
        (HANDLE, r"^(follow|tweet)\s.{0,40}@\w{2,}\S*$"),
        (BYLINE, r"^(" + "|".join(BYLINE_WORDS) + r"):?\s+\S.{0,70}$"),
        (BYLINE, r"^(?=[^:]{2,8}:)(" + "|".join(BYLINE_LABELS) + r")\s?:\s*[^\W\d_][^:]{0,70}$"),
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

# The rules that apply even to a paragraph of running text; not the credit glued to a
# caption's end, which a paragraph may end with too ("... (Photo: City Hall)").
STRONG_PATTERNS = tuple(
    (r, p)
    for r, p in LINE_PATTERNS
    if r in (COPYRIGHT, CREDIT, CAPTION) and p.pattern != GLUED_CREDIT.pattern
)


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
# The words we, our, us, you, your; each word's start is checked after its first letter,
# so that re scans for those letters in C instead of trying \b at every position of a
# paragraph (twice as fast, and every new line of every page is asked).
READER_ADDRESS = re.compile(r"(?:w(?<=\bw)e|o(?<=\bo)ur|u(?<=\bu)s|y(?<=\by)our?)\b")
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
# A teaser printed as one line, its headline glued to its standfirst: "Council Approves
# New BudgetThe city council voted ...". The glue is a word's lower-case end (three
# letters at least: "MacBook" and "AirPods" are names) or a question mark, run into a
# capitalised word ("SciSpacE team" is a name too); before it a headline in title case
# (MIN_GLUED_HEADLINE_WORDS words at least, all capitalised but these small ones, and
# MIN_GLUED_HEADLINE_CAPITALS capitalised), after it a sentence (among its first words,
# MIN_GLUED_LEAD_LOWER lower-case ones).
GLUE = re.compile(r"(?<=[a-z]{3})(?=(?:[A-Z][a-z]+|A|I)$)|(?<=[a-z][?!])(?=[A-Z“\"])")
TITLE_CASE_SMALL_WORDS: frozenset[str] = frozenset(
    "a an the of in on at to for and or by with from as is vs vs. but nor".split()
)
MIN_GLUED_HEADLINE_CAPITALS = 3
MIN_GLUED_HEADLINE_WORDS, MAX_GLUED_HEADLINE_WORDS = 5, 24
# A glued teaser is removed only with another within this many lines: alone, it may be a
# paragraph opening on names written in one word ("Microsoft Corp's LinkedIn said ...").
GLUED_TEASER_NEIGHBOURHOOD = 3
GLUED_LEAD_WORDS = 6
MIN_GLUED_LEAD_LOWER = 2
# Of the lines just below such a heading, this many must be teaser-shaped (not running
# text) for the heading to open a block rather than head a part of the article.
TEASER_SECTION_LOOKAHEAD = 4
MIN_TEASERS_BELOW_HEADING = 2
# A list of other stories without a heading: cards of a headline (and a writer's name), a
# full date on a line of its own and at most one standfirst, one card after another, each
# of at most MAX_CARD_LINES lines. A live blog's updates give times, not dates, and run
# to several paragraphs.
MIN_DATED_CARDS = 3
MAX_CARD_LINES = 6

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
# In text extracted from HTML, this many short lines in a row (MAX_MENU_ITEM_WORDS words
# or fewer, no sentence, no list bullet) before the article's first paragraph or after
# its last are a menu, a category list or a tag cloud the extractor took in, whatever
# their words: in the article itself such a run is a list, and its items are bulleted.
MIN_MENU_RUN_LINES = 10
MAX_MENU_ITEM_WORDS = 3

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
# Month names of other languages news is written in, in full (their short forms are
# English words: "out", "set"), January to December; Russian in the genitive of dates too.
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "de": ("januar", "februar", "märz", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "dezember"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "id": ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus",
           "september", "oktober", "november", "desember"),
    "it": ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre"),
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "pt": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
           "setembro", "outubro", "novembro", "dezembro"),
    "ru": ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август",
           "сентябрь", "октябрь", "ноябрь", "декабрь"),
    "ru-genitive": ("января", "февраля", "марта", "апреля", "мая", "июня", "июля",
                    "августа", "сентября", "октября", "ноября", "декабря"),
}  # fmt: skip
for _names in MONTH_NAMES.values():
    for _number, _name in enumerate(_names, start=1):
        assert MONTHS.get(_name, _number) == _number, _name  # one name, one month
        MONTHS[_name] = _number
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR_DIGITS = r"(?:19|20)\d\d"
_YEAR = r"(?P<year>" + _YEAR_DIGITS + ")"
# Where a year ends: at anything but a digit, or at a time run into it, as a dump glues the
# text of neighbouring elements ("Nov 15, 20195:45 AM", "18.11.2019Get short URL").
_YEAR_END = r"(?:(?!\d)|(?=[0-2]?\d:[0-5]\d))"
# 18/11/2019 and 18.11.2019; read month first (11/19/2019) only where day first is no date.
_NUMERIC_DAY_FIRST = r"\b(?P<day>[0-3]?\d)[./](?P<mnum>[0-3]?\d)[./]" + _YEAR + _YEAR_END
_DATE_SOURCES = (
    r"\b" + _YEAR + r"-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)(?!\d)",
    r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + _YEAR_END,
    # 3 March 2020, 3rd of March, 3. März 2020, 3 de março de 2020, 3 марта 2020 г.
    r"\b" + _DAY + r"\.?(?:\s+(?:of|de|del))?\s+" + _MONTH + r",?(?:\s+(?:de|del))?\s+" + _YEAR
    + _YEAR_END,
    _NUMERIC_DAY_FIRST,
    r"\b" + _YEAR + r"[./](?P<mnum>[01]?\d)[./](?P<day>[0-3]?\d)(?![\d./])",
    # Chinese and Japanese 2020年3月3日, Korean 2020년 3월 3일
    r"(?<!\d)" + _YEAR + r"\s?[年년]\s?(?P<mnum>[01]?\d)\s?[月월]\s?(?P<day>[0-3]?\d)\s?[日일]",
)  # fmt: skip
DATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE) for p in _DATE_SOURCES
)
NUMERIC_DAY_FIRST = DATE_PATTERNS[_DATE_SOURCES.index(_NUMERIC_DAY_FIRST)]
# A year as the patterns above need it: a text without one holds no full date.
DATE_YEAR = re.compile(_YEAR_DIGITS)
# A digit: lines that give numbers (dates, scores, ingredients) are told by it.
DIGIT = re.compile(r"\d")
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
# Possessive (++, *+): a word's letters never need to be given back (an apostrophe or a
# hyphen is no letter), and not keeping them for backtracking makes findall 13% faster.
WORD = re.compile(r"\w++(?:[’'-]\w++)*+")

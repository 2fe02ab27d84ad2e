"""Offline language and script identification, and per-language stopword lists.

py3langid ships its model inside the package, so nothing is downloaded at run time;
justext (a trafilatura dependency) ships the stopword lists.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from typing import Any

from . import rules

# ISO 639-1 codes mapped to justext's stoplist names, for the languages news is most
# often written in; other languages fall back to shape signals only.
STOPLIST_NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "lt": "Lithuanian", "lv": "Latvian", "ms": "Malay",
    "nl": "Dutch", "no": "Norwegian_Bokmal", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian",
    "ur": "Urdu", "vi": "Vietnamese",
}  # fmt: skip

# The script most text in each language is written in, to judge short lines where
# statistical identification is unreliable.
LANGUAGE_SCRIPTS: dict[str, str] = {
    "ar": "ARABIC", "fa": "ARABIC", "ur": "ARABIC", "ru": "CYRILLIC", "uk": "CYRILLIC",
    "bg": "CYRILLIC", "be": "CYRILLIC", "mk": "CYRILLIC", "kk": "CYRILLIC", "el": "GREEK",
    "he": "HEBREW", "hi": "DEVANAGARI", "mr": "DEVANAGARI", "ne": "DEVANAGARI", "zh": "CJK",
    "ja": "CJK", "ko": "HANGUL", "th": "THAI", "ka": "GEORGIAN", "hy": "ARMENIAN",
    "bn": "BENGALI", "ta": "TAMIL",
}  # fmt: skip


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(text: str) -> tuple[str, float]:
    """Return (ISO 639-1 code, probability) for a piece of text."""
    code, prob = _identifier().classify(text)
    return str(code), float(prob)


def detect_language(text: str) -> str | None:
    """The language of a body of text, or None when there is too little text to tell."""
    # A thousand characters of a page's longest lines decide its language as well as the
    # whole text does (same answer on all 181 development pages), and identification
    # time grows with the length: 3,000 characters cost three times as much.
    text = text[:LANGUAGE_SAMPLE_CHARS]
    if count_letters(text) < 20:
        return None
    script = dominant_script(text)
    if script == "LATIN":
        voted = vote_by_stopwords(text)
        if voted:
            return voted
    # Han characters alone do not tell Chinese from Japanese; kana do.
    if script == "CJK" and any("\u3040" <= ch <= "\u30ff" for ch in text):
        return "ja"
    code, _ = identify(head_bytes(text, LANGUAGE_SAMPLE_BYTES))
    return code


def head_bytes(text: str, size: int) -> str:
    """The longest start of a text whose UTF-8 encoding fits in ``size`` bytes."""
    if len(text) * 4 <= size:  # no character takes more than four bytes
        return text
    # surrogatepass, as py3langid encodes: a lone surrogate is no reason to fail.
    data = text[:size].encode("utf-8", "surrogatepass")
    return data[:size].decode("utf-8", "ignore")


LANGUAGE_SAMPLE_CHARS = 1000
# The model walks the sample byte by byte in Python: a thousand characters of Cyrillic,
# Korean or Chinese are two to three thousand bytes, and took 450-550 µs a page against
# 250-300 for Latin. Their first thousand bytes give the same answer on every
# development page in those scripts (500 bytes did too).
LANGUAGE_SAMPLE_BYTES = 1000
# The stopword vote decides when the leading language scores this much, and this many
# times the runner-up; otherwise the statistical model does (a tenth of its cost).
MIN_VOTE_SCORE = 12
MIN_VOTE_LEAD = 2.5


@lru_cache(maxsize=1)
def _stopword_languages() -> dict[str, tuple[str, ...]]:
    """Each stopword of every known stoplist, with the languages whose list has it."""
    index: dict[str, list[str]] = {}
    for code in STOPLIST_NAMES:
        for word in stopwords(code):
            index.setdefault(word, []).append(code)
    return {word: tuple(codes) for word, codes in index.items()}


def vote_by_stopwords(text: str) -> str | None:
    """The language whose stopwords a text clearly uses most, else None.

    A word on several lists counts for each a share of one, so the words that tell
    languages apart decide.
    """
    index = _stopword_languages()
    scores: dict[str, float] = {}
    # Each distinct word once: a page's stopwords recur, and each is on several lists.
    for token, count in Counter(_WORD.findall(text.lower())).items():
        codes = index.get(token)
        if codes:
            share = count / len(codes)
            for code in codes:
                scores[code] = scores.get(code, 0.0) + share
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return best if score >= MIN_VOTE_SCORE and score >= MIN_VOTE_LEAD * runner_up else None


_WORD = re.compile(r"\w+")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_A-Za-z]")


_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))
_ASCII_LETTERS = _ASCII_UPPER + _ASCII_UPPER.lower()


def count_capitals(text: str) -> tuple[int, int]:
    """(letters, upper-case letters) of a text, letters of any script."""
    data = text.encode("ascii", "ignore")  # once for both counts (see _count_ascii)
    letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    capitals = len(data) - len(data.translate(None, _ASCII_UPPER))
    if text.isascii():
        return letters, capitals
    # Only the other letters one by one: a curly quote or an accent makes a line
    # non-ASCII, and a list of every letter costs ten times more.
    found = _NON_ASCII_LETTER.findall(text)
    return letters + len(found), capitals + sum(map(str.isupper, found))


def count_letters(text: str) -> int:
    """Number of letters (of any script) in a text."""
    return _count_ascii(text, _ASCII_LETTERS) + len(_NON_ASCII_LETTER.findall(text))


def _count_ascii(text: str, chars: bytes) -> int:
    """How many of a text's characters are among these ASCII ones."""
    # Counted by deleting bytes in C: a list of one-letter strings costs ten times more.
    data = text.encode("ascii", "ignore")
    return len(data) - len(data.translate(None, chars))


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str | None:
    """The script of one letter as a coarse name (LATIN, CYRILLIC, CJK, ...), else None."""
    if not ch.isalpha():
        return None
    if ch.isascii():
        return "LATIN"
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return None
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA")):
        return "CJK"
    return name.split(" ", 1)[0]


def dominant_script(text: str) -> str | None:
    """The script of most letters in the text, or None if it has no letters."""
    counts: dict[str, int] = {}
    latin = _count_ascii(text, _ASCII_LETTERS)
    if latin:
        counts["LATIN"] = latin
    for ch in _NON_ASCII_LETTER.findall(text):
        script = script_of(ch)
        if script:
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def expected_script(language: str | None) -> str:
    """The script an article in this language is mostly written in."""
    return LANGUAGE_SCRIPTS.get(language or "", "LATIN")


@lru_cache(maxsize=64)
def stopwords(language: str | None) -> frozenset[str]:
    """Lower-cased stopwords of a language (empty when the language has no list)."""
    name = STOPLIST_NAMES.get(language or "")
    if not name:
        return frozenset()
    import justext

    return frozenset(word.lower() for word in justext.get_stoplist(name))


# Scripts written without spaces between words, where a word is about two characters.
UNSPACED_CHARS_PER_WORD = 2
_UNSPACED = re.compile("[\u3040-\u9fff\u0e00-\u0e7f]")


def count_words(text: str, spaced: int | None = None) -> int:
    """Words in a text; in Chinese, Japanese or Thai, about one per two characters.

    ``spaced`` is the number of its runs between whitespace, when the caller has them.
    """
    if spaced is None:
        spaced = len(text.split())
    unspaced = len(_UNSPACED.findall(text)) if not text.isascii() else 0
    if unspaced:
        return max(spaced, unspaced // UNSPACED_CHARS_PER_WORD + spaced // 2)
    return spaced


# Lines shorter than this many letters are judged by script, not by language model.
MIN_LANGID_LETTERS = 25
OTHER_LANGUAGE_PROB = 0.9


@lru_cache(maxsize=16_384)
def is_foreign_line(text: str, language: str, running_text: bool, stop_share: float) -> bool:
    """True when a line of a page in ``language`` is clearly written in another language.

    ``running_text`` says the line is a long paragraph, which only its script can
    make foreign. Verdicts are kept: a site repeats its header and footer lines.
    """
    if text.isascii():  # most lines of most pages: Latin letters only, counted cheaply
        letters = _count_ascii(text, _ASCII_LETTERS)
        script = "LATIN" if letters else None
    else:
        letters = count_letters(text)
        script = dominant_script(text)
    if letters == 0:
        return False
    if script and script != expected_script(language):
        # Latin letters in a non-Latin article are often names and brands: only flag
        # the reverse, or a non-Latin line in another non-Latin script.
        return script != "LATIN" or letters >= MIN_LANGID_LETTERS
    if letters < MIN_LANGID_LETTERS or running_text:
        return False
    own = stopwords(language)
    if own:
        tokens = [t.lower() for t in rules.WORD.findall(text)]
        # A line with words of the article's own stoplist is not foreign, whatever
        # a model says about its proper names.
        if sum(t in own for t in tokens) > len(tokens) // 5:
            return False
    code, prob = identify(text)
    return code != language and prob >= OTHER_LANGUAGE_PROB and stop_share < 0.5

"""Property-based tests: decoding never breaks on any bytes, and stripping is idempotent.

Inputs are generated both at random and from the seed dumps (their lines mixed,
shuffled, cut and re-encoded), so the properties are checked on text shaped like real
pages, not only on noise.
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import archiver
from archiver import lang, patterns, pipeline, rules, sources
from archiver.chrome import strip_chrome
from archiver.lines import describe_line, is_notice, normalise, normalised_ends
from archiver.models import InputError

from .conftest import SEED_NAMES, seed_lines

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Extraction of a whole page is slower than decoding: fewer examples keep the suite fast.
SLOW_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

SEED_TEXTS = ["\n".join(seed_lines(name)) for name in SEED_NAMES]
SEED_LINES = sorted({line for name in SEED_NAMES for line in seed_lines(name) if line.strip()})

# Encodings a page is found in, with and without a byte-order mark.
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252", "cp1251", "shift_jis", "latin-1")

# Random text over the characters that trip decoders and line splitters: controls,
# NUL, line and paragraph separators, BOMs, surrogate-free astral characters.
awkward_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",))
    | st.sampled_from("\x00\r\n\u2028\ufeff\t"),
    max_size=400,
)


@st.composite
def seed_mix(draw: st.DrawFn) -> str:
    """Lines of the seed pages drawn at random, in any order, with blank lines between some."""
    lines = draw(st.lists(st.sampled_from(SEED_LINES), min_size=1, max_size=80))
    gaps = draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    return "\n".join(line + ("\n" if gap else "") for line, gap in zip(lines, gaps, strict=True))


@st.composite
def seed_cut(draw: st.DrawFn) -> str:
    """A seed page with a block of its lines removed and another block moved elsewhere."""
    lines = draw(st.sampled_from(SEED_TEXTS)).split("\n")
    start = draw(st.integers(0, len(lines) - 1))
    end = draw(st.integers(start, min(len(lines), start + 30)))
    rest = lines[:start] + lines[end:]
    moved_from = draw(st.integers(0, len(rest)))
    moved_to = draw(st.integers(0, len(rest)))
    block, rest = rest[moved_from : moved_from + 8], rest[:moved_from] + rest[moved_from + 8 :]
    return "\n".join(rest[:moved_to] + block + rest[moved_to:])


@st.composite
def seed_with_noise(draw: st.DrawFn) -> str:
    """A seed page with random lines (noise, markup, other scripts) slipped in."""
    lines = draw(st.sampled_from(SEED_TEXTS)).split("\n")
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(awkward_text))
    return "\n".join(lines)


realistic_text = seed_mix() | seed_cut() | seed_with_noise()
any_text = realistic_text | awkward_text


@st.composite
def page_bytes(draw: st.DrawFn) -> bytes:
    """Bytes a raw file may hold: random, re-encoded seed text, damaged, gzipped, HTML-wrapped."""
    kind = draw(st.sampled_from(("random", "encoded", "damaged", "gzip", "html")))
    if kind == "random":
        return draw(st.binary(max_size=3000))
    text = draw(any_text)
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if kind == "damaged":
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            if data:
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        data = bytes(data[: draw(st.integers(0, len(data)))])
    elif kind == "gzip":
        data = gzip.compress(data)
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "html":
        data = (
            b"<!DOCTYPE html><html><head><meta charset='" + encoding.encode() + b"'></head><body><p>"
            + data.replace(b"\n", b"</p>\n<p>")
            + b"</p></body></html>"
        )  # fmt: skip
    return data


def _assert_clean_error(exc: InputError) -> None:
    message = str(exc)
    assert message and "\n" not in message
    assert not message.startswith("internal error")


@SETTINGS
@given(st.binary(max_size=4000) | page_bytes())
@example(codecs.BOM_UTF16_LE + b"\x00")  # a BOM followed by half a character
@example(b"\xef\xbb\xbf")  # a BOM and nothing else
@example(b"\xff" * 50)
def test_decode_bytes_gives_text_or_a_clean_error(data: bytes) -> None:
    try:
        text, encoding, warnings = sources.decode_bytes(data)
    except InputError as exc:
        _assert_clean_error(exc)
        return
    assert isinstance(text, str) and "\x00" not in text and text.strip()
    assert codecs.lookup(encoding)
    assert all(isinstance(w, str) and "\n" not in w for w in warnings)


@SETTINGS
@given(any_text, st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "utf-32")))
def test_unicode_text_round_trips_through_decoding(text: str, encoding: str) -> None:
    """Text saved in UTF-8 or with a byte-order mark is read back exactly (NULs dropped)."""
    try:
        decoded, _, warnings = sources.decode_bytes(text.encode(encoding))
    except InputError as exc:
        _assert_clean_error(exc)
        return
    # A leading U+FEFF in the text itself is indistinguishable from a byte-order mark.
    expected = text.replace("\x00", "")
    assert decoded in (expected, expected.removeprefix("\ufeff"))
    assert not warnings


@SETTINGS
@given(page_bytes())
def test_decode_raw_gives_a_document_or_a_clean_error(data: bytes) -> None:
    try:
        doc = sources.decode_raw("page", data, max_bytes=64 * 1024)
    except InputError as exc:
        _assert_clean_error(exc)
        return
    assert doc.format in ("html", "text") and doc.size == len(data)


@SLOW_SETTINGS
@given(page_bytes())
def test_process_file_never_raises_and_gives_a_one_line_reason(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "page"
        path.write_bytes(data)
        outcome = pipeline.process_file(path)
    assert outcome.status in (pipeline.OK, pipeline.FAILED)
    if outcome.status == pipeline.FAILED:
        error = outcome.record.error or ""
        assert error and "\n" not in error and not error.startswith("internal error"), error
    else:
        assert outcome.articles and all(a.text.strip() for a in outcome.articles)


@SLOW_SETTINGS
@given(realistic_text | page_bytes())
def test_clean_gives_an_article_or_a_clean_error(raw: str | bytes) -> None:
    try:
        article = archiver.clean(raw)
    except InputError as exc:
        _assert_clean_error(exc)
        return
    assert article.text.strip() and article.word_count > 0


def _assert_idempotent(text: str) -> None:
    once = strip_chrome(text).text
    assert strip_chrome(once).text == once


def test_stripping_the_seed_dumps_twice_changes_nothing() -> None:
    for text in SEED_TEXTS:
        _assert_idempotent(text)


@SETTINGS
@given(realistic_text)
def test_stripping_pages_built_from_seed_lines_is_idempotent(text: str) -> None:
    _assert_idempotent(text)


@SETTINGS
@given(awkward_text)
def test_stripping_any_text_is_idempotent(text: str) -> None:
    _assert_idempotent(text)


# Lines to judge: seed lines, their words in capitals or cut short, and random text with
# the words the rules look for (a credit, a newsletter widget, a copyright line).
rule_words = st.sampled_from(
    ("Reuters", "AFP", "Getty Images", "newsletter", "Sign up for", "All rights reserved",
     "© 2024", "Photo:", "READ MORE", "Follow us on Twitter", " - The Daily Site", "İ", "ẞ",
     "ſubscribe", "CLİCK HERE", "Sıgn up for", "\u212a")
)  # fmt: skip
judged_line = st.builds(
    lambda parts, upper: (str.upper if upper else str)(" ".join(parts)),
    st.lists(st.sampled_from(SEED_LINES) | rule_words | awkward_text, min_size=1, max_size=4),
    st.booleans(),
)


@SETTINGS
@given(judged_line)
def test_rules_give_the_same_reason_on_folded_case(text: str) -> None:
    # The rules searched in the lower-cased line must say what they say ignoring case.
    for ruleset in (rules.ALL_RULES, rules.STRONG_RULES):
        unfolded = dataclasses.replace(ruleset, folded=())
        assert ruleset.reason(text) == unfolded.reason(text)


@SETTINGS
@given(judged_line)
def test_required_literals_never_change_a_reason(text: str) -> None:
    # A pattern skipped for want of its literals must be one that would not have matched.
    for ruleset in (rules.ALL_RULES, rules.STRONG_RULES):
        assert any(ruleset.required)
        assert ruleset.reason(text) == dataclasses.replace(ruleset, required=()).reason(text)


@SETTINGS
@given(judged_line)
def test_site_suffix_is_found_in_the_last_characters_of_a_line(text: str) -> None:
    tail = max(0, len(text) - rules.SITE_SUFFIX_CHARS)
    found, everywhere = rules.SITE_SUFFIX.search(text, tail), rules.SITE_SUFFIX.search(text)
    assert (found and found.group("site")) == (everywhere and everywhere.group("site"))


@SETTINGS
@given(judged_line | awkward_text)
def test_capitals_are_counted_as_letter_by_letter(text: str) -> None:
    letters = re.findall(r"[^\W\d_]", text)
    assert lang.count_capitals(text) == (len(letters), sum(map(str.isupper, letters)))


# Lines whose last word is longer than the window it is first looked for in, or that end
# in a long run of punctuation, or hold no word at all.
line_ends = st.builds(
    lambda head, word, tail: f"{head} {word}{tail}",
    judged_line | awkward_text,
    st.text(alphabet=st.sampled_from("abcé1Ж"), min_size=30, max_size=120),
    st.text(alphabet=st.sampled_from(" .,!-_—“”…\t"), max_size=120),
)


@SETTINGS
@given(judged_line | awkward_text | line_ends)
@example("Read " + "a" * 100 + "...")
@example("word" + " -" * 80)
def test_normalised_ends_are_the_first_and_last_words_of_the_normalised_line(text: str) -> None:
    words = normalise(text).split(" ")
    assert normalised_ends(text) == (words[0], words[-1])


@SETTINGS
@given(judged_line | awkward_text)
def test_title_case_counts_the_words_that_open_with_a_capital(text: str) -> None:
    line = describe_line(1, text, frozenset())
    initials = [word[0] for word in rules.WORD.findall(line.text) if word[0].isalpha()]
    capitals = sum(map(str.isupper, initials))
    assert line.title_case == (len(initials) >= 3 and capitals / len(initials) >= 0.75)


def test_folded_text_is_what_ignoring_case_sees() -> None:
    # Character for character, and an ASCII letter exactly where IGNORECASE sees one.
    letter = re.compile("[a-z]", re.IGNORECASE)
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code < 0xE000:
            continue
        folded = patterns.fold_text(char)
        assert len(folded) == 1, hex(code)
        assert bool(letter.fullmatch(char)) == ("a" <= folded <= "z"), hex(code)


def test_letters_that_lower_case_alone_misses_are_judged_as_ignoring_case_does() -> None:
    assert is_notice("WE USE COOKİES AND SİMİLAR: SEE OUR PRİVACY POLİCY, CLİCK ACCEPT TO AGREE")
    assert rules.ALL_RULES.reason("Please ſubscribe to our newsletter for more") == "widget"

"""How line patterns are compiled: the literals a pattern requires, the folded search."""

from __future__ import annotations

import re
import re._parser as sre_parse

import pytest

from archiver import rules
from archiver.patterns import MAX_REQUIRED_LITERALS, combine, fold_text, required_literals


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (r"getty images|reuters", ("getty images", "reuters")),
        (r"\bsign up (for|to)\b", ("sign up ",)),  # the longest run of the sequence
        (r"(photo|image):", ("image", "photo")),  # a group's alternatives, not ':'
        (r"(ab)+c?", ("ab",)),  # a repeat of at least one requires its content
        (r"(ab)*c", ("c",)),  # a repeat that may be absent requires nothing
        (r"follow( us)? on", ("follow",)),
        (r"\d+ comments?", (" comment",)),
        (r"read more|\d+", None),  # one alternative requires nothing: no filter
        (r"[a-z]+\.", (".",)),
        (r"\w+", None),
        (r"(?=news)\w+", None),  # a look-ahead is no part of the match
        (r"(?i:reuters)|afp", None),  # a group that ignores case matches any case
        (r"(?i:reuters) photo", (" photo",)),
    ],
)
def test_required_literals(pattern: str, required: tuple[str, ...] | None) -> None:
    assert required_literals(re.compile(pattern)) == required


def test_a_pattern_that_ignores_case_has_no_required_literals() -> None:
    # Its literals could match in any case, so a substring test could not rule it out.
    assert required_literals(re.compile("reuters", re.IGNORECASE)) is None


def test_a_line_without_the_literals_is_not_matched_and_one_with_them_is() -> None:
    ruleset = combine(
        (
            ("credit", re.compile(r"\b(reuters|afp)$", re.I)),
            ("widget", re.compile("newsletter", re.I)),
        )
    )
    assert ruleset.required == (("afp", "reuters"), ("newsletter",))
    assert ruleset.reason("A photo by a staff photographer") is None
    assert ruleset.reason("Soldiers on patrol near the border. REUTERS") == "credit"
    assert ruleset.reason("Get our free NEWSLETTER") == "widget"


def test_more_required_literals_than_are_worth_testing_are_none() -> None:
    few = "|".join(f"label{i}" for i in range(MAX_REQUIRED_LITERALS))
    assert required_literals(re.compile(few)) is not None
    assert required_literals(re.compile(few + "|another")) is None


def test_every_searched_rule_is_filtered() -> None:
    # The rules searched anywhere in a line are the costly ones: each is filtered by its
    # literals, or else opens with a class of characters, which the search skips between.
    for ruleset in (rules.ALL_RULES, rules.STRONG_RULES):
        for i in (*ruleset.tails, *ruleset.free):
            pattern = ruleset.folded[i] or ruleset.patterns[i][1]
            opening = sre_parse.parse(pattern.pattern, pattern.flags)[0][0]
            assert ruleset.required[i] or opening is sre_parse.IN, pattern.pattern


def test_fold_text_keeps_length_and_lowers_the_letters_ignorecase_sees() -> None:
    assert fold_text("CLİCK Sıgn ſubscribe “Quoted”") == "click sign subscribe “quoted”"

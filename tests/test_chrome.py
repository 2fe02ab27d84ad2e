"""Golden tests of the line stripper on the seed dumps, and its general rules."""

from __future__ import annotations

import pytest

from archiver import rules
from archiver.chrome import strip_chrome

from .conftest import SEED_NAMES, SEED_RAW, seed_gold, seed_lines


def _clean(name: str):
    return strip_chrome((SEED_RAW / f"{name}.txt").read_text(encoding="utf-8"))


def _ws(text: str) -> str:
    """Whitespace folded: the stripper turns no-break spaces and runs of spaces into one space."""
    return " ".join(text.split())


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_gold_body_line_survives(name: str) -> None:
    page = _clean(name)
    lines = seed_lines(name)
    for no in seed_gold(name)["body_lines"]:
        assert _ws(lines[no - 1]) in _ws(page.text), f"body line {no} lost"


@pytest.mark.parametrize("name", SEED_NAMES)
def test_no_gold_chrome_line_survives(name: str) -> None:
    page = _clean(name)
    lines = seed_lines(name)
    gold = seed_gold(name)
    body_lines = [_ws(lines[no - 1]) for no in gold["body_lines"]]
    clean = _ws(page.text)
    for no, why in gold["chrome_lines"].items():
        chrome = _ws(lines[int(no) - 1])
        if any(chrome in body for body in body_lines):
            continue  # a standfirst the body repeats stays as part of that body line
        assert chrome not in clean, f"chrome line {no} ({why}) kept: {chrome!r}"


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_removed_line_has_a_known_reason(name: str) -> None:
    page = _clean(name)
    assert page.removed
    assert {r.reason for r in page.removed} <= set(rules.REASONS)


def _page(*paragraphs: str) -> str:
    return "\n".join(paragraphs)


BODY = [
    "The city council voted on Tuesday to approve a new budget for the coming year, after months of debate.",
    "Supporters said the plan would repair roads and schools, while critics warned that taxes would rise.",
    "The mayor is expected to sign the measure later this week, according to officials familiar with it.",
    "A final vote on a separate transport plan is scheduled for next month, the council said in a statement.",
]


def test_lone_heading_between_paragraphs_is_kept() -> None:
    page = strip_chrome(_page(BODY[0], BODY[1], "What happens next", BODY[2], BODY[3]))
    assert "What happens next" in page.text


def test_teaser_cluster_inside_body_is_removed() -> None:
    page = strip_chrome(
        _page(
            BODY[0],
            BODY[1],
            "Workers repair a road in the city centre during the early hours of the morning",
            "© Agency 2020 / Jane Doe",
            "Council Approves New Parking Rules For Downtown Residents",
            BODY[2],
            BODY[3],
        )
    )
    assert "© Agency" not in page.text
    assert "Parking Rules" not in page.text
    assert "Workers repair a road" not in page.text
    reasons = {r.text[:10]: r.reason for r in page.removed}
    assert reasons["© Agency 2"] == rules.CREDIT


def test_menus_before_and_widgets_after_the_body_are_removed() -> None:
    page = strip_chrome(
        _page(
            "Home",
            "World",
            "Business",
            "Sport",
            *BODY,
            "Share",
            "Comments (3)",
            "Subscribe to our newsletter",
        )
    )
    assert page.text.splitlines()[0] == BODY[0]
    assert page.text.rstrip().splitlines()[-1] == BODY[3]


def test_read_more_line_inside_body_is_removed() -> None:
    page = strip_chrome(
        _page(BODY[0], BODY[1], "READ MORE: Council Rejects Bridge Plan", BODY[2], BODY[3])
    )
    assert "READ MORE" not in page.text
    assert any(r.reason == rules.READ_MORE for r in page.removed)


def test_footer_in_another_language_is_removed() -> None:
    page = strip_chrome(_page(*BODY, "Вы можете подписаться на нашу рассылку новостей"))
    assert "рассылку" not in page.text
    assert any(r.reason == rules.OTHER_LANGUAGE for r in page.removed)


def test_paragraph_printed_twice_is_kept_once() -> None:
    page = strip_chrome(_page(BODY[0], BODY[1], BODY[2], BODY[1], BODY[3]))
    assert page.text.count(BODY[1]) == 1
    assert any(r.reason == rules.DUPLICATE for r in page.removed)


def test_stripping_clean_text_again_changes_nothing() -> None:
    first = strip_chrome(_page("Home", "News", "A Headline About The Budget", *BODY, "Share"))
    again = strip_chrome(first.text)
    assert again.text == first.text

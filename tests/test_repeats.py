"""The story's title among a page's headlines, and what a page prints twice."""

from __future__ import annotations

import pytest

from archiver import rules
from archiver.chrome import strip_chrome

from .test_chrome import BODY, _page


def test_paragraph_printed_twice_is_kept_once() -> None:
    page = strip_chrome(_page(BODY[0], BODY[1], BODY[2], BODY[1], BODY[3]))
    assert page.text.count(BODY[1]) == 1
    assert any(r.reason == rules.DUPLICATE for r in page.removed)


@pytest.mark.parametrize(
    "between",
    [
        # Lines no rule knows, as in a page of another site or language: a byline without
        # "By", a widget's words, a photo's caption about something else.
        ["Maria Lopez and Tom Reed, Coastal Ledger Reporters"],
        ["Pin Mail Tumble Kopieren Drucken"],
        ["Children play in the fountain of the old harbour square on a summer evening", "Jane Doe"],
    ],
)
def test_the_title_is_the_headline_that_speaks_of_the_story(between: list[str]) -> None:
    headline = "Council Approves Next Year's Budget After Months of Debate"
    page = strip_chrome(_page("Home", "World", "Business", headline, *between, *BODY))
    assert page.title == headline
    assert page.text.splitlines()[0] == BODY[0]


def test_a_label_sharing_a_word_with_the_story_is_not_taken_for_its_title() -> None:
    # A section name or a teaser's headline between the title and the story shares a
    # word with it ("roads"); the title, farther up, shares most of its words.
    headline = "Council Approves Next Year's Budget After Months of Debate"
    page = strip_chrome(_page("Home", headline, "Local Roads Report", *BODY))
    assert page.title == headline


def test_a_caption_above_the_title_is_not_taken_for_it() -> None:
    # A photo's caption speaks of the story as much as the title, or a little more.
    caption = "Mayor And Council Members Debate The Budget Plan At City Hall On Tuesday"
    headline = "Council Approves Next Year's Budget After Months of Debate"
    page = strip_chrome(_page("Home", caption, headline, *BODY))
    assert page.title == headline


@pytest.mark.parametrize(
    "masthead",
    [
        [],
        # The site's name, under the headline: the page's title holds it too.
        ["The Harbour Ledger Daily News"],
    ],
)
def test_the_headline_the_page_title_repeats_is_the_title(masthead: list[str]) -> None:
    # A dump opens with the page's own title. Nearer the story, a teaser of a related
    # story speaks of the story more than the headline does.
    headline = "Harbour Council Signs Off On Spending Plan"
    teaser = "Council budget vote: what the plan means for roads and schools"
    page_title = f"{headline} | The Harbour Ledger Daily News"
    page = strip_chrome(_page(page_title, "Home", headline, *masthead, teaser, *BODY))
    assert page.title == headline


def test_without_a_headline_of_the_story_the_nearest_headline_is_the_title() -> None:
    # A headline that shares no word with the lead (wordplay, another script) still counts.
    headline = "Tough Choices Ahead For Everyone Concerned"
    page = strip_chrome(_page("Home", "World", headline, *BODY))
    assert page.title == headline

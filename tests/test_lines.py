"""One line judged alone: its shape, its marks, the site name it ends with, its verdict."""

from __future__ import annotations

import pytest

from archiver import lang, lines, rules
from archiver.lines import (
    COMMENTER_MARK,
    TEASER_HEADING_MARK,
    THREAD_HEADING_MARK,
    describe_line,
    judge_line,
)

ENGLISH = lang.stopwords("en")
PARAGRAPH = (
    "The council voted on Tuesday to close the old bridge to traffic, saying that the "
    "repairs it needs would cost more than a new one."
)


@pytest.mark.parametrize(
    ("text", "marks"),
    [
        ("Leave a reply", THREAD_HEADING_MARK),
        ("12 responses to the story", THREAD_HEADING_MARK),
        ("Related stories", TEASER_HEADING_MARK),
        ("More from the city desk", TEASER_HEADING_MARK),
        ("Marta Kowalski says:", COMMENTER_MARK),
        (PARAGRAPH, 0),  # running text opens nothing, whatever words it holds
        ("More from the council: " + PARAGRAPH, 0),
    ],
)
def test_a_line_is_marked_with_what_it_may_open(text: str, marks: int) -> None:
    assert describe_line(1, text, ENGLISH).marks == marks


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("Storm closes the coast road - The Harbour Gazette", "The Harbour Gazette"),
        ("- The Harbour Gazette", "The Harbour Gazette"),
        ("Storm closes the coast road", None),
        ("A - b", None),  # a site's name starts with a capital
    ],
)
def test_the_site_name_a_line_ends_with(text: str, site: str | None) -> None:
    assert describe_line(1, text, ENGLISH).site == site


def test_whitespace_is_folded_before_a_line_is_judged() -> None:
    line = describe_line(3, "  Related\u00a0 stories \t", ENGLISH)
    assert (line.no, line.text, line.words) == (3, "Related stories", 2)
    assert line.marks == TEASER_HEADING_MARK


def test_a_verdict_kept_for_a_short_line_is_the_verdict_computed_afresh() -> None:
    text = "Share this story on social media"
    first = judge_line(text, ENGLISH, True)
    assert judge_line(text, ENGLISH, True) is first  # kept: the second page reuses it
    line = describe_line(0, text, ENGLISH)
    assert first[0] == line
    assert first[1] == lines.rule_reason(line, True)


def test_a_kept_verdict_placed_on_another_line_keeps_its_shape() -> None:
    kept, _ = judge_line("Share this story on social media", ENGLISH, True)
    placed = kept.numbered(12)
    assert placed.no == 12 and kept.no == 0
    assert placed == describe_line(12, "Share this story on social media", ENGLISH)


def test_running_text_is_not_kept() -> None:
    # A paragraph is rarely met twice; keeping it would crowd out the chrome.
    assert judge_line(PARAGRAPH, ENGLISH, True) is not judge_line(PARAGRAPH, ENGLISH, True)


def test_the_chrome_met_on_every_page_stays_kept_while_one_off_lines_come_and_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A site's menu recurs on each of its pages; the headlines between them are met once.
    # Keeping the newest verdicts instead of those used most recently would judge the
    # menu again each time the headlines had filled the store.
    monkeypatch.setattr(lines, "LINE_CACHE_SIZE", 20)
    monkeypatch.setattr(lines, "_LINE_VERDICTS", type(lines._LINE_VERDICTS)())
    menu = judge_line("Home | World | Business | Sport", ENGLISH, True)
    first_headline = judge_line("Headline 0 of the day", ENGLISH, True)
    for page in range(1, 100):
        judge_line(f"Headline {page} of the day", ENGLISH, True)
        assert judge_line("Home | World | Business | Sport", ENGLISH, True) is menu
    assert len(lines._LINE_VERDICTS) == 20  # the store stays its size
    # The headline met once, long ago, was let go: judged again, the same verdict.
    again = judge_line("Headline 0 of the day", ENGLISH, True)
    assert again is not first_headline and again == first_headline


def test_a_paragraph_is_only_judged_by_the_strong_rules() -> None:
    line = describe_line(1, PARAGRAPH + " Subscribe to our newsletter for more.", ENGLISH)
    assert line.content
    assert lines.rule_reason(line) is None
    assert rules.ALL_RULES.reason(line.text) == rules.WIDGET


@pytest.mark.parametrize(
    ("text", "addressed"),
    [
        ("we use cookies", True),
        ("read our policy", True),
        ("contact us today", True),
        ("you're in control", True),
        ("your data, your choice", True),
        ("us-based readers", True),
        ("the bus owes yours nothing", False),
        ("house wear our_team", False),
        ("sweet youth", False),
    ],
)
def test_a_notice_speaks_to_the_reader_in_whole_words(text: str, addressed: bool) -> None:
    assert bool(rules.READER_ADDRESS.search(text)) is addressed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("jane.doe@example-news.com", rules.CONTACT),
        ("Email: j.doe+desk@news.example.co.uk", rules.CONTACT),
        ("Write to Jane Doe at jane.doe@example.com", rules.CONTACT),
        ("Readers wrote to editors@example.com in their thousands last week.", None),
    ],
)
def test_an_address_alone_on_its_line_is_a_contact(text: str, reason: str | None) -> None:
    line = describe_line(1, text, ENGLISH)
    assert lines.rule_reason(line) == reason


@pytest.mark.parametrize(
    ("text", "language", "reason"),
    [
        # A label and its colon open a credit line in the article's own language.
        ("Text: Jana Dorn", "de", rules.BYLINE),
        ("Autor: Jan Nowak", "pl", rules.BYLINE),
        ("Текст: Иван Петров·3 марта 2020", "ru", rules.BYLINE),
        ("Foto: Jana Dorn/dpa", "de", rules.CREDIT),
        ("Fuente: Agencia Estatal de Meteorología", "es", rules.CREDIT),
        ("Фото: Иван Петров", "ru", rules.CREDIT),
        # Without the colon the same words open sentences.
        ("Text messages show that the minister knew of the plan for months.", "en", None),
        ("Foto e video della protesta sono stati diffusi in rete nella notte.", "it", None),
        # Nor is a verse or a word count a writer's credit.
        ("Text: Matthew 5:9", "en", None),
        ("Words: 1,200", "en", None),
    ],
)
def test_a_labelled_credit_line_is_chrome_in_any_language(
    text: str, language: str, reason: str | None
) -> None:
    line = describe_line(1, text, lang.stopwords(language))
    assert lines.rule_reason(line) == reason


@pytest.mark.parametrize(
    ("text", "teaser"),
    [
        # A teaser's headline glued to its standfirst, as dumps join neighbouring elements
        (
            "Council Approves New Budget For SchoolsThe council voted on Tuesday to approve it.",
            True,
        ),
        ("Bridge Repairs Begin In The SpringA crew of forty will close two lanes for it.", True),
        ("Is The Old Bridge Safe To Cross?Engineers say the repairs cannot wait any longer.", True),
        # Names written in one word, inside a sentence or a heading, are no glue
        ("Following the 16-inch MacBook Pro, Apple plans a smaller model for next year.", False),
        ("Now the Agency's SciSpacE team has called in experts to assess the plan.", False),
        ("How To Use WordPress Plugins To Build A Better Site For Your Business", False),
        ("Microsoft Corp's LinkedIn said on Tuesday it would cut 960 jobs worldwide.", False),
        ("Der Tübinger Impfstoffhersteller CureVac hat am Mittwoch neue Daten vorgelegt.", False),
        (PARAGRAPH, False),
    ],
)
def test_a_headline_glued_to_its_standfirst_is_marked(text: str, teaser: bool) -> None:
    assert lines.is_glued_teaser(text) is teaser
    line = describe_line(1, text, ENGLISH)
    assert bool(line.marks & lines.GLUED_TEASER_MARK) is teaser

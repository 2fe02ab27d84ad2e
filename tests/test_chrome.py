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


def test_stripping_clean_text_again_changes_nothing() -> None:
    first = strip_chrome(_page("Home", "News", "A Headline About The Budget", *BODY, "Share"))
    again = strip_chrome(first.text)
    assert again.text == first.text


COMMENTS = [
    "12 responses to “Council approves the budget”",
    "riverfan says:",
    "March 3, 2021 at 6:34 am",
    "It is about time somebody fixed the roads in this town, they have been a disgrace for years now.",
    "Jo Bloggs on March 3, 2021 at 7:02 am said:",
    "Taxes will go up again and nobody will notice any difference in the schools, mark my words on that.",
]


def test_readers_comment_thread_after_the_article_is_removed() -> None:
    page = strip_chrome(_page(*BODY, *COMMENTS, "Privacy | Terms"))
    assert page.text.rstrip().splitlines()[-1] == BODY[3]
    reasons = {r.text: r.reason for r in page.removed}
    assert reasons[COMMENTS[3]] == rules.COMMENTS
    assert reasons[COMMENTS[5]] == rules.COMMENTS


def test_quotes_introduced_by_said_are_not_a_comment_thread() -> None:
    quotes = [
        "The mayor said:",
        "We will repair every road that needs it before the winter comes, and we will do it on budget.",
        "A council spokesman said:",
        "The measure passed with a clear majority and will now go to the mayor for her signature.",
    ]
    page = strip_chrome(_page(BODY[0], BODY[1], *quotes, BODY[2], BODY[3]))
    assert all(quote in page.text for quote in quotes[1::2])
    assert BODY[3] in page.text


TEASERS = [
    "More from City News",
    "Transport",
    "Bus Fares To Rise In Spring",
    "Passengers will pay more from April under plans agreed by the transport board.",
    "Schools",
    "New Headteacher Named For Riverside Academy",
]


def test_teaser_block_after_the_article_is_removed_with_its_standfirsts() -> None:
    page = strip_chrome(_page(*BODY, *TEASERS))
    assert page.text.rstrip().splitlines()[-1] == BODY[3]
    assert TEASERS[3] not in page.text
    assert {r.reason for r in page.removed if r.text in TEASERS} == {rules.RELATED}


def test_related_box_inside_the_article_is_cut_out_and_the_article_goes_on() -> None:
    box = ["Related articles", "Bus Fares To Rise In Spring", "New Headteacher Named For Academy"]
    page = strip_chrome(_page(BODY[0], BODY[1], *box, BODY[2], BODY[3]))
    assert all(paragraph in page.text for paragraph in BODY)
    assert not any(line in page.text for line in box)


# Other stories listed under an article without a heading: headline, writer, date, standfirst.
DATED_CARDS = [
    "Harbour Ferry Timetable Changes From Monday",
    "Jane Doe",
    "Wednesday November 20, 2019",
    "The ferry company said the new timetable would add two crossings on weekdays and one on Sundays.",
    "Library Opens Late On Thursdays",
    "John Roe",
    "Tuesday November 19, 2019",
    "Readers will be able to borrow books until nine in the evening under the plan agreed this week.",
    "School Football Team Wins County Cup",
    "Mary Major",
    "Monday November 18, 2019",
    "The under-16 side beat their rivals by two goals to one in a final watched by a large crowd.",
]


def test_a_live_blog_keeps_its_timed_updates() -> None:
    # Updates give times, not dates, and may run to several paragraphs.
    updates = []
    for hour, paragraph in zip((11, 10, 9), BODY[:3], strict=True):
        updates += [f"{hour}:05 am", "Council Debate Continues", paragraph, BODY[3]]
    page = strip_chrome(_page(BODY[3], BODY[2], *updates))
    assert all(paragraph in page.text for paragraph in BODY[:3])


def test_an_article_of_dated_entries_with_paragraphs_is_kept() -> None:
    # A timeline: each date heads a paragraph or two of the story.
    entries = []
    for day, paragraph in zip((18, 19, 20), BODY[:3], strict=True):
        entries += [f"November {day}, 2019", paragraph, BODY[3] + f" It was day {day}."]
    page = strip_chrome(_page(BODY[3], *entries))
    assert all(paragraph in page.text for paragraph in BODY[:3])


def test_a_timeline_of_one_paragraph_a_date_keeps_the_article_after_it() -> None:
    # Shaped like cards but for their headlines: each date heads one paragraph.
    timeline = [
        "March 3, 2019",
        "Police arrested the suspect at his home after a months-long inquiry, officers said.",
        "April 12, 2019",
        "Prosecutors charged him with three counts of fraud and one of forging documents.",
        "June 1, 2019",
        "The judge denied bail, saying that he might leave the country before his trial.",
    ]
    closing = "The defence said it would appeal the verdict, which it called unjust."
    page = strip_chrome(_page(*BODY, "Here is how the case unfolded:", *timeline, closing))
    assert all(line in page.text for line in timeline[1::2])
    assert closing in page.text


GLUED_TEASERS = [
    "Harbour Ferry Timetable Changes From MondayThe ferry company said it would add crossings.",
    "Library To Open Late On Thursdays This WinterReaders will be able to borrow books later.",
    "School Football Team Wins The County FinalThe under-16 side beat their rivals on Saturday.",
]


@pytest.mark.parametrize(
    ("teasers", "reasons"),
    [
        (DATED_CARDS, {rules.RELATED, rules.DATE}),  # each card's date is labelled a date
        (GLUED_TEASERS, {rules.RELATED}),
    ],
    ids=["dated cards", "glued teasers"],
)
def test_a_list_of_other_stories_without_a_heading_is_removed(
    teasers: list[str], reasons: set[str]
) -> None:
    page = strip_chrome(_page(*BODY, *teasers))
    assert page.text.rstrip().splitlines()[-1] == BODY[3]
    assert not any(line in page.text for line in teasers)
    assert {r.reason for r in page.removed if r.text in teasers} == reasons


def test_a_lone_line_that_looks_glued_stays_in_the_article() -> None:
    # Alone, it may be a paragraph of the story about names written in one word.
    line = GLUED_TEASERS[0]
    page = strip_chrome(_page(BODY[0], BODY[1], line, BODY[2], BODY[3]))
    assert line in page.text


NOTICE = [
    "We are committed to protecting your personal data and have updated our privacy policy.",
    "Please review our privacy policy to learn how we use cookies and your information.",
    "By clicking I agree, you consent to the processing of your data and to our terms of use.",
]


def test_privacy_and_cookie_notice_is_removed_as_a_block() -> None:
    page = strip_chrome(_page(*BODY, *NOTICE))
    assert not any(line in page.text for line in NOTICE)
    assert {r.reason for r in page.removed if r.text in NOTICE} == {rules.NOTICE}


def test_an_article_about_privacy_keeps_its_paragraphs() -> None:
    story = [
        "The regulator fined the company on Tuesday for failing to protect the personal data of its users.",
        "Officials said the firm had changed its privacy policy without telling customers about the change.",
        "The company said it would appeal, and that it had always complied with the law in every country.",
        "Consumer groups welcomed the decision and called for tougher rules on how data is shared online.",
    ]
    page = strip_chrome(_page(*story))
    assert all(paragraph in page.text for paragraph in story)


@pytest.mark.parametrize(
    "caption",
    [
        "1of4Workers repair a road in the city centre during the early hours of the morning, as traffic waits.",
        "Photo 2 of 9: the new bridge seen from the river bank at dawn on Tuesday morning",
        "3/12",
    ],
)
def test_gallery_captions_are_removed(caption: str) -> None:
    page = strip_chrome(_page(BODY[0], BODY[1], caption, BODY[2], BODY[3]))
    assert caption not in page.text
    assert all(paragraph in page.text for paragraph in BODY)


def test_a_sentence_opening_with_a_fraction_is_body() -> None:
    line = "1 of 4 residents said they would use the new bridge every day, according to the survey."
    page = strip_chrome(_page(BODY[0], BODY[1], line, BODY[2], BODY[3]))
    assert line in page.text


def test_headline_cut_short_with_an_ellipsis_is_a_teaser() -> None:
    teaser = "Council rejects plan for new bridge after..."
    page = strip_chrome(_page(BODY[0], BODY[1], teaser, BODY[2], BODY[3]))
    assert teaser not in page.text


def test_a_line_is_judged_again_in_a_page_of_another_language() -> None:
    # Verdicts on a line's text are kept for the next page: the same English footer is
    # chrome below a Russian article and the article's own text in an English one.
    footer = "You can read more of our reporting and subscribe to the weekly digest here."
    russian = [
        "Министр иностранных дел заявил журналистам в понедельник, что переговоры о мирном договоре продолжатся в следующем месяце.",
        "По его словам, стороны договорились подготовить новую встречу экспертов и обсудить совместную деятельность на островах.",
        "Представитель министерства добавил, что точная дата визита будет согласована по дипломатическим каналам в ближайшее время.",
    ]
    english_page = _page(BODY[0], BODY[1], footer, BODY[2], BODY[3])
    assert footer in strip_chrome(english_page).text
    page = strip_chrome(_page(*russian, footer))
    assert footer not in page.text
    assert [r.reason for r in page.removed if r.text == footer] == [rules.OTHER_LANGUAGE]
    assert footer in strip_chrome(english_page).text


def test_a_foreign_quotation_inside_the_article_is_kept() -> None:
    verse = "Вы можете подписаться на нашу рассылку новостей каждый день и каждую неделю"
    page = strip_chrome(_page(BODY[0], BODY[1], verse, BODY[2], BODY[3]))
    assert verse in page.text


@pytest.mark.parametrize(
    "credit", ["Photo: Jane Doe", "(Image: Harbour Ledger)", "Foto: Jana Dorn"]
)
def test_a_caption_with_its_credit_glued_on_is_neither_title_nor_body(credit: str) -> None:
    # Between the title and the story, a caption about the story with a photographer's
    # credit at its end: it speaks of the story more than the title does.
    caption = f"Mayor And Council Members Debate The Budget Plan At City Hall. {credit}"
    headline = "Council Approves Next Year's Budget"
    page = strip_chrome(_page("Home", headline, caption, BODY[0], BODY[1], caption, *BODY[2:]))
    assert page.title == headline
    assert caption not in page.text
    assert all(paragraph in page.text for paragraph in BODY)


# Ten short lines of a site's tags (no menu words: a rule knows those already).
TAG_CLOUD = ["Riverside", "Old Town", "Mill Street", "North Quay", "Elm Park", "Station Road"]
TAG_CLOUD += ["Hill Farm", "city hall", "budget vote", "public works"]


@pytest.mark.parametrize(
    ("lines", "kept"),
    [
        # Ten short lines before the first paragraph or after the last: a category list.
        ([*TAG_CLOUD, *BODY], BODY),
        ([*BODY, "Tags", *TAG_CLOUD], BODY),
        # Between paragraphs they are the article's (a list without bullets); bulleted, or
        # fewer than ten, they are a list of the article's too.
        ([BODY[0], BODY[1], *TAG_CLOUD, BODY[2], BODY[3]], [BODY[0], BODY[1], *TAG_CLOUD]),
        ([*BODY, *[f"- {item}" for item in TAG_CLOUD]], [f"- {item}" for item in TAG_CLOUD]),
        ([*BODY, *TAG_CLOUD[:9]], TAG_CLOUD[:9]),
    ],
)
def test_a_long_run_of_short_lines_around_extracted_text_is_a_menu(
    lines: list[str], kept: list[str]
) -> None:
    page = strip_chrome(_page(*lines), language="en", whole_page=False)
    assert all(line in page.text.splitlines() for line in kept)
    assert all(line in kept or line in BODY for line in page.text.splitlines() if line)


RESULTS = [
    "Harbour Rovers (4-0): Hupfer 25 points. Patikas 17 points. Sanger 10 points.",
    "Quay Athletic (3-1): Martinez 15 points. Robbins 6 points. Anasa 4 points.",
    "Mill Rangers (1-2): Munoz 18 points. Osaro 12 points. Haig 6 points.",
]


def test_a_page_of_results_without_running_text_keeps_them_as_its_article() -> None:
    # Names and numbers, not stopwords: no line reads as a paragraph of running text.
    page = strip_chrome(
        _page("Home", "Sports", "Schools", "Weekend Roundup", *RESULTS, "Contact Us", "Jobs")
    )
    assert page.text.split("\n\n") == RESULTS


def test_a_page_of_menus_alone_has_no_article() -> None:
    assert strip_chrome(_page("Home", "Sports", "Schools", "Contact Us", "Jobs")).body == ()


def test_a_comment_count_near_the_title_does_not_cut_the_article() -> None:
    page = strip_chrome(
        _page("Council approves the budget", "Join the discussion", "Comments (12)", *BODY)
    )
    assert all(paragraph in page.text for paragraph in BODY)


def test_a_paragraph_ending_in_a_credit_is_kept() -> None:
    # A caption's glued credit rule is no rule for running text.
    paragraph = (
        "The mayor said the plan would cost three million over five years and create two "
        "hundred jobs in the city centre, most of them in building work. (Photo: City Hall)"
    )
    page = strip_chrome(_page(BODY[0], paragraph, BODY[1], BODY[2]))
    assert paragraph in page.text


VERSE = ["Along the quay,", "the boats at rest,", "the gulls asleep,", "the lamps unlit,"] * 3
INGREDIENTS = [f"{10 * (i + 1)}g {item}" for i, item in enumerate(TAG_CLOUD + TAG_CLOUD[:2])]


@pytest.mark.parametrize("lines", [VERSE, INGREDIENTS], ids=["verse", "ingredients"])
def test_verse_and_ingredients_after_extracted_text_are_kept(lines: list[str]) -> None:
    page = strip_chrome(_page(*BODY, *lines), language="en", whole_page=False)
    assert all(line in page.text.splitlines() for line in lines)


def test_an_index_of_headlines_is_no_article() -> None:
    headlines = [
        "Is This The End Of The Road For The Harbour Ferry Service?",
        "Council Leader Says Budget Talks Will Go On Until Spring!",
        "Weekend Guide: Markets, Music And Walks Along The Old Quay",
    ]
    assert strip_chrome(_page("Home", "Sports", *headlines, "Contact Us")).body == ()

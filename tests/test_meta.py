"""Metadata: the seeds' gold title, date, source and dateline; dates are never guessed."""

from __future__ import annotations

import pytest

from archiver.chrome import strip_chrome
from archiver.meta import extract_metadata, find_dateline, parse_date, trailing_credit

from .conftest import SEED_NAMES, SEED_RAW, seed_gold


@pytest.mark.parametrize("name", SEED_NAMES)
@pytest.mark.parametrize("field", ["title", "published", "source", "dateline", "language"])
def test_seed_metadata_matches_gold(name: str, field: str) -> None:
    page = strip_chrome((SEED_RAW / f"{name}.txt").read_text(encoding="utf-8"))
    meta = extract_metadata(page)
    assert getattr(meta, field) == seed_gold(name).get(field)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Published 3 March 2021", "2021-03-03"),
        ("March 3, 2021 10:45 GMT", "2021-03-03"),
        ("(Agency - 1st April, 2020)", "2020-04-01"),
        ("updated 2020-12-31T10:00", "2020-12-31"),
        ("February 25", None),
        ("On Monday the minister said", None),
        ("February 30, 2020", None),
        # Other languages' month names and the day's connectives
        ("publié le 7 février 2021 à 10h", "2021-02-07"),
        ("Veröffentlicht am 7. Februar 2021", "2021-02-07"),
        ("sábado, 7 de febrero de 2021", "2021-02-07"),
        ("7 de fevereiro de 2021 às 20:13", "2021-02-07"),
        ("7 febbraio 2021", "2021-02-07"),
        ("Опубликовано 7 февраля 2021 г.", "2021-02-07"),
        ("Diposting pada 7 Februari 2021", "2021-02-07"),
        ("Mayo 2021", None),  # a month and a year are no day
        # Year first, with dots or slashes, and the East Asian forms
        ("2021.02.07 10:00", "2021-02-07"),
        ("2021/2/7", "2021-02-07"),
        ("2021.13.07", None),
        ("2021年2月7日", "2021-02-07"),
        ("2021년 2월 7일", "2021-02-07"),
        # Month first only where day first is no date; both dates: the day first, as before
        ("11/19/2019 by Jane Doe", "2019-11-19"),
        ("11.14.2019 09:00 AM", "2019-11-14"),
        ("03/04/2019", "2019-04-03"),
        ("19/19/2019", None),
        # A dump glues the text of neighbouring elements to the year
        ("Nov 15, 20195:45 AM", "2019-11-15"),
        ("21:17 18.11.2019Get short URL", "2019-11-18"),
        ("March 3, 20201", None),  # five digits are no year
        ("ref 12.03.201912", None),
    ],
)
def test_parse_date_needs_a_full_valid_date(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("paragraph", "place", "source"),
    [
        ("BERLIN (Reuters) - The German government said on Monday it would", "BERLIN", "Reuters"),
        ("PARIS, March 3. /AFP/. France will host the summit next year.", "PARIS", "AFP"),
        ("NAIROBI -- Heavy rains flooded parts of the capital on Sunday.", "NAIROBI", None),
        ("The government said on Monday that it would act.", None, None),
        ("In Berlin (the capital) officials met.", None, None),
    ],
)
def test_find_dateline(paragraph: str, place: str | None, source: str | None) -> None:
    assert find_dateline(paragraph) == (place, source)


def test_trailing_agency_credit() -> None:
    assert trailing_credit("They last met in May. Kyodo News") == "Kyodo News"
    assert trailing_credit("They last met in May.") is None


LEAD = [
    "The harbour city voted on Tuesday to close its coal plant by 2030, after months of debate.",
    "Supporters said the plan would cut pollution, while critics warned that bills would rise.",
    "The mayor is expected to sign the measure later this week, according to officials.",
]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # The date in the header, above the story.
        (["Home", "Harbour City Votes To Close Coal Plant", "March 3, 2020", *LEAD], "2020-03-03"),
        # The date printed under the first paragraph, before the second.
        ([LEAD[0], "Published March 3, 2020, 9:02 AM", *LEAD[1:]], "2020-03-03"),
        # So is a byline's there, with the story's date.
        ([LEAD[0], "By Jane Doe · March 3, 2020", *LEAD[1:]], "2020-03-03"),
        ([LEAD[0], "Текст: Иван Петров·3 марта 2020", *LEAD[1:]], "2020-03-03"),
        # A line opening with a byline's word and a date is no byline: "By March 3, ..."
        ([LEAD[0], "By March 3, 2021, the plant must stop burning coal.", *LEAD[1:]], None),
        # A date line says the story's date before a byline's does.
        (["By Jane Doe | Updated March 9, 2020", "Published March 3, 2020", *LEAD], "2020-03-03"),
        # A date further down the story is not the story's date.
        ([*LEAD[:2], "Updated March 9, 2020", LEAD[2]], None),
        # A notice's date is the day its terms changed; the date line is the story's.
        (
            [
                "We use cookies to improve your experience on our site. Please read our "
                "Privacy Policy and Terms of Use, which were updated on May 1, 2018.",
                "Harbour City Votes To Close Coal Plant",
                "Harbour desk report, filed March 3, 2020 for the weekend edition",
                *LEAD,
            ],
            "2020-03-03",
        ),
        # A line that is a date wins over a date inside another header line.
        (
            [
                "Weather: sunny in the city on Monday, March 2, 2020",
                "Harbour City Votes To Close Coal Plant",
                "March 3, 2020",
                *LEAD,
            ],
            "2020-03-03",
        ),
    ],
)
def test_the_story_date_is_found_around_its_head(lines: list[str], expected: str | None) -> None:
    assert extract_metadata(strip_chrome("\n".join(lines))).published == expected


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("By Jane Doe", "Jane Doe"),
        ("BY JANE DOE and JOHN ROE", "JANE DOE and JOHN ROE"),
        ("By Jane Doe March 3, 2020", "Jane Doe"),  # the date is no part of her name
        ("By Jane Doe Updated 3/3/2020", "Jane Doe"),
        ("By June Carter", "June Carter"),  # a month's name alone is a name
        ("by subscription only", None),  # "By" starts a name only before a capital
        # Within a line of the story's head, after a date or a separator
        ("Monday, March 3, 2020 8:00 am by Jane Doe", "Jane Doe"),
        ("Local News | By Jane Doe", "Jane Doe"),
        ("March 3, 2020 | BY: Jane Doe", "Jane Doe"),
        # With a colon, in another language, or with the date after a separator
        ("By: Jane Doe", "Jane Doe"),
        ("Von Jana Dorn publiziert am 3. März 2020", "Jana Dorn"),
        ("Par Jeanne Doe, publié le 3 mars 2020", "Jeanne Doe"),
        # A label and its colon, in Latin, Cyrillic or Greek letters
        ("Autor: Jan Nowak", "Jan Nowak"),
        ("Текст: Иван Петров·3 марта 2020", "Иван Петров"),
        ("Text: Ólafur Arnalds", "Ólafur Arnalds"),
        (
            "By Harbour Desk Staff | March 3, 2020 at 2:26 PM - Updated March 3 at 4:46 PM",
            "Harbour Desk Staff",
        ),
    ],
)
def test_the_author_is_the_name_of_the_byline(byline: str, author: str | None) -> None:
    page = strip_chrome("\n".join(["Harbour City Votes To Close Coal Plant", byline, *LEAD]))
    assert extract_metadata(page).author == author


@pytest.mark.parametrize(
    ("head", "closing", "author"),
    [
        # A name and the writer's handle, above the story.
        (["Jane Doe @janedoe / 2 hours ago"], [], "Jane Doe"),
        (["Jane Doe@janedoe"], [], "Jane Doe"),
        (["@harbourdesk"], [], None),  # a handle alone names nobody
        (["Follow Us @harbourtimes"], [], None),  # nor one that has no word of the name
        (["Share On Twitter @harbourtimes"], [], None),
        (["Email Jane.Doe@harbour.example"], [], None),  # an e-mail address is no handle
        # A closing credit or biography, for a name the head prints too.
        (
            ["Jane Doe"],
            [
                "Reporting by Jane Doe in Harbour City; additional reporting by John Roe and "
                "Mary Major; editing by Sam Poe"
            ],
            "Jane Doe",
        ),
        (["Jane Doe | March 3, 2020"], ["Jane Doe is a staff writer."], "Jane Doe"),
        (["Jane Doe"], ["Write to Jane Doe at jane.doe@harbour.example"], "Jane Doe"),
        (["Jane Doe"], ["Jane Doe is a staff writer covering city hall."], "Jane Doe"),
        (["Jane Doe"], ["Jane Doe (@janedoe) is a contributing editor at Harbour."], "Jane Doe"),
        # A story may end on somebody else's biography: the head names its writer.
        (["Local News"], ["Jane Doe is the author of a history of the harbour."], None),
        (["Jane Doe"], ["Jane Doe is the mayor of the harbour city."], None),  # no writer's role
        (["Jane Doe"], ["Jane Doe is the president of the Harbour Writers Guild."], None),
        (["Jane Doerr"], ["Jane Doe is a staff writer."], None),  # another name
        # A caption naming somebody is not the writer's line.
        (
            ["Jane Doe at the library on Monday. (Photo: John Roe)"],
            ["Jane Doe is the author of six books about the harbour."],
            None,
        ),
    ],
)
def test_the_author_is_named_beside_a_handle_or_in_a_closing_credit(
    head: list[str], closing: list[str], author: str | None
) -> None:
    lines = ["Harbour City Votes To Close Coal Plant", *head, *LEAD, *closing]
    assert extract_metadata(strip_chrome("\n".join(lines))).author == author


def test_a_story_about_a_writer_does_not_make_her_its_author() -> None:
    # The headline names her, and the story ends on her biography: she is its subject.
    lines = [
        "Jane Doe Named Editor Of The Harbour Gazette",
        *LEAD,
        "Jane Doe is the new editor of the Harbour Gazette, the city's oldest paper.",
    ]
    assert extract_metadata(strip_chrome("\n".join(lines))).author is None

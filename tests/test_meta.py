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

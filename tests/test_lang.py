"""Language identification: the stopword vote decides clear cases, the model the rest."""

from __future__ import annotations

import pytest

from archiver import lang

TEXTS = {
    "en": "The council said on Tuesday that the new bridge would open in the spring, and that "
    "the work on the roads around it was already finished by the end of the year.",
    "de": "Der Rat teilte am Dienstag mit, dass die neue Brücke im Frühjahr eröffnet werde und "
    "dass die Arbeiten an den Straßen um sie herum bereits abgeschlossen seien.",
    "fr": "Le conseil a déclaré mardi que le nouveau pont ouvrirait au printemps et que les "
    "travaux sur les routes autour de lui étaient déjà terminés depuis la fin de l'année.",
}


@pytest.mark.parametrize("code", sorted(TEXTS))
def test_a_clear_text_is_decided_by_its_stopwords(code: str) -> None:
    page = " ".join([TEXTS[code]] * 3)  # a page's worth of text (the sample is 1000 chars)
    assert lang.vote_by_stopwords(page) == code
    assert lang.detect_language(page) == code


def test_too_few_stopwords_leave_the_decision_to_the_model() -> None:
    assert lang.vote_by_stopwords("Bridge opening ceremony photos and video") is None
    # Neither list leads by far in a text that mixes two languages half and half.
    assert lang.vote_by_stopwords(" ".join([TEXTS["en"], TEXTS["de"]] * 2)) is None


def test_languages_whose_stopwords_overlap_are_told_apart_by_the_model() -> None:
    portuguese = (
        "O conselho disse na terça-feira que a nova ponte será aberta na primavera e que as "
        "obras nas estradas em torno dela já estavam concluídas no final do ano passado."
    )
    assert lang.detect_language(portuguese) == "pt"


def test_a_text_in_another_script_is_not_voted_on() -> None:
    russian = "Министр заявил, что переговоры о мирном договоре продолжатся в следующем месяце."
    assert lang.detect_language(russian) == "ru"


@pytest.mark.parametrize(
    ("text", "letters", "capitals"),
    [
        ("BREAKING NEWS: 3 DEAD", 16, 16),
        ("Photo: Jane Doe/Reuters", 19, 4),
        ("ÉLECTIONS RÉGIONALES 2024", 19, 19),
        ("Выборы в Москве", 13, 2),
        ("東京 2024", 2, 0),
        ("1234 -- !!", 0, 0),
    ],
)
def test_capitals_are_counted_among_the_letters_of_any_script(
    text: str, letters: int, capitals: int
) -> None:
    assert lang.count_capitals(text) == (letters, capitals)


def test_head_bytes_cuts_between_characters() -> None:
    russian = "мир" * 100  # two bytes a letter: byte 101 falls inside the 51st
    assert lang.head_bytes(russian, 101) == russian[:50]
    assert lang.head_bytes("short", 1000) == "short"
    # A lone surrogate (three bytes) is no reason to fail: it is left out.
    assert lang.head_bytes("\ud800" + "мир" * 100, 101) == ("мир" * 17)[:49]


def test_a_long_page_in_another_script_is_identified_from_its_first_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    russian = "Министр заявил, что переговоры о мирном договоре продолжатся в следующем месяце. "
    korean = "정부는 화요일 새 다리가 봄에 개통될 것이라고 밝혔으며 주변 도로 공사는 이미 끝났다. "
    samples: list[str] = []
    identify = lang.identify
    monkeypatch.setattr(lang, "identify", lambda text: samples.append(text) or identify(text))
    assert lang.detect_language(russian * 20) == "ru"
    assert lang.detect_language(korean * 20) == "ko"
    # The model walks its sample byte by byte: it reads 1,000 bytes, not 1,000 letters.
    assert [len(sample.encode()) > 900 for sample in samples] == [True, True]
    assert all(len(sample.encode()) <= lang.LANGUAGE_SAMPLE_BYTES for sample in samples)

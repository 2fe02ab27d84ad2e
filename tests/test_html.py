"""HTML extraction: the article survives; captions, teasers, share prompts and footers do not."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import archiver
from archiver.cli import main
from archiver.html import extract_html

HTML = Path(__file__).parent / "fixtures" / "html"
EXPECTATIONS = json.loads((HTML / "expectations.json").read_text(encoding="utf-8"))
PAGES = sorted(EXPECTATIONS)

PARAGRAPHS = [
    "Министр иностранных дел заявил журналистам в понедельник, что переговоры о мирном договоре продолжатся в следующем месяце в Москве.",
    "По его словам, стороны договорились подготовить новую встречу экспертов и обсудить совместную хозяйственную деятельность на островах.",
    "Представитель министерства добавил, что точная дата визита будет согласована по дипломатическим каналам в ближайшее время.",
]


def _clean(name: str) -> archiver.Article:
    return archiver.clean((HTML / name).read_bytes(), path=name)


@pytest.mark.parametrize("name", PAGES)
def test_article_text_survives(name: str) -> None:
    text = _clean(name).text
    for expected in EXPECTATIONS[name]["with"]:
        assert expected in text


@pytest.mark.parametrize("name", PAGES)
def test_chrome_does_not_survive(name: str) -> None:
    text = _clean(name).text
    for unwanted in EXPECTATIONS[name]["without"]:
        assert unwanted not in text


@pytest.mark.parametrize("name", PAGES)
def test_metadata(name: str) -> None:
    article = _clean(name)
    for field, expected in EXPECTATIONS[name]["meta"].items():
        assert getattr(article, field) == expected, field


def test_every_removal_is_explained() -> None:
    article = _clean("news_article.html")
    found = {(r.stage, r.reason) for r in article.removed}
    assert {("html", "caption"), ("html", "related-link"), ("html", "widget")} <= found
    assert ("text", "read-more") in found


def test_json_ld_date_beats_a_date_in_the_footer() -> None:
    article = _clean("news_article.html")
    assert article.published == "2024-03-14"  # the footer says 2024-05-01


def test_json_ld_beats_meta_tags(tmp_path: Path) -> None:
    page = (
        (HTML / "news_article.html")
        .read_text(encoding="utf-8")
        .replace("<head>", '<head><meta property="article:published_time" content="2020-01-01">', 1)
    )
    assert archiver.clean(page).published == "2024-03-14"


def test_no_date_gives_null() -> None:
    assert _clean("footer_wrapped.html").published is None


def test_page_where_trafilatura_finds_nothing_falls_back() -> None:
    import trafilatura

    html = (HTML / "footer_wrapped.html").read_text(encoding="utf-8")
    assert not trafilatura.extract(html)
    article = _clean("footer_wrapped.html")
    assert article.extractor in ("readability", "text-dump")
    assert article.word_count > 60


def test_declared_legacy_charset_is_honoured(tmp_path: Path) -> None:
    page = (
        '<html><head><meta charset="windows-1251"><title>Переговоры продолжатся</title></head><body><article>'
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "</article></body></html>"
    )
    article = archiver.clean(page.encode("cp1251"))
    assert PARAGRAPHS[0] in article.text
    assert article.language == "ru"


def test_gzipped_page_without_extension_is_ingested(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "page").write_bytes(gzip.compress((HTML / "news_article.html").read_bytes()))
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        main, ["ingest", str(raw), "--db", str(db), "--clean-dir", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db) as conn:
        row = conn.execute("select title, url, site, extractor from articles").fetchone()
        stages = dict(
            conn.execute("select stage, count(*) from removed_lines group by stage").fetchall()
        )
        fmt = conn.execute("select format from raw_files").fetchone()[0]
    assert row == (
        "Harbour city votes to close coal plant by 2030",
        "https://ledger.example/news/2024/03/harbour-coal-plant",
        "ledger.example",
        "trafilatura",
    )
    assert fmt == "html" and stages["html"] >= 3 and stages["text"] >= 1


def test_page_with_no_text_is_a_clear_failure(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><head><script>var a = 1;</script></head><body><div></div></body></html>")
    result = CliRunner().invoke(main, ["clean", str(page)])
    assert result.exit_code == 1
    assert "no article text found" in result.stderr and "Traceback" not in result.output


def test_extraction_keeps_text_when_no_selector_applies() -> None:
    found = extract_html((HTML / "wrong_charset.html").read_text(encoding="utf-8"))
    assert found.extractor == "trafilatura" and not found.removed


def test_metadata_from_markup_when_the_page_declares_no_structured_data() -> None:
    page = (
        "<html><head><title>Harbour ferry returns after winter repairs</title>"
        '<meta name="author" content="Jane Ostrova"></head><body><article>'
        "<h1>Harbour ferry returns after winter repairs</h1>"
        '<time datetime="2023-04-11">11 April 2023</time>'
        + "".join(f"<p>{p}</p>" for p in _ENGLISH)
        + "</article></body></html>"
    )
    article = archiver.clean(page)
    assert article.title == "Harbour ferry returns after winter repairs"
    assert article.published == "2023-04-11"
    assert article.author == "Jane Ostrova"
    assert "winter repairs" not in article.text  # the title line printed in the body


def test_an_author_named_only_in_a_byline_element_is_found() -> None:
    page = (
        "<html><head><title>Harbour ferry returns</title></head><body><article>"
        '<h1>Harbour ferry returns</h1><div class="author">Jane Ostrova</div>'
        + "".join(f"<p>{p}</p>" for p in _ENGLISH)
        + "</article></body></html>"
    )
    assert archiver.clean(page).author == "Jane Ostrova"


_ENGLISH = [
    "The harbour ferry returned to service on Tuesday after four months of repairs to its "
    "hull and engines, the port authority said in a statement to passengers.",
    "Officials said the crossing would run every hour from the morning until late evening, "
    "and that tickets bought before the winter closure would still be accepted.",
    "Local businesses on both sides of the water welcomed the return of the service, which "
    "carries about two thousand people on a busy summer day.",
]

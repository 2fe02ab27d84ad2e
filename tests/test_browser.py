"""Headless Chromium (Playwright) reads the archive in a real Datasette, as a user would.

Uses the system Chromium (Debian's /usr/bin/chromium, installed by .ci/run); skips with the
reason only when none is installed. Screenshots go to the test's tmp_path, and also to the
folder named by $ARCHIVER_SCREENSHOTS when set (``make screenshots`` sets docs/screenshots).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from archiver.pipeline import ingest

from .conftest import SEED_RAW, seed_gold, seed_lines
from .datasette_server import running_datasette

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1200, "height": 900}
SCREENSHOTS_ENV = "ARCHIVER_SCREENSHOTS"
# A body paragraph carrying markup and a script, as a scraped page may well contain.
INJECTED_PARAGRAPH = (
    "    Officials said the note <script>window.__archiverInjected = true;</script> and its "
    '<b>bold</b> markup <img src=x onerror="window.__archiverInjected = true"> were '
    "reproduced by several agencies without any change on Friday."
)
INJECTED_SEED = "001_4dc32eb5bbb7fce7"


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "no Chromium installed (looked for chromium, chromium-browser on PATH); "
            "install it with `apt-get install -y chromium` (.ci/run does) to run browser tests"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def _screenshot(page: Page, folder: Path, name: str, until: str | None = None) -> Path:
    """Save the whole page, or its top down to the element ``until``."""
    path = folder / f"{name}.png"
    box = page.locator(until).bounding_box() if until else None
    if box:
        clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": box["y"] + box["height"] + 16}
        page.screenshot(path=str(path), full_page=True, clip=clip)  # type: ignore[arg-type]
    else:
        page.screenshot(path=str(path), full_page=True)
    extra = os.environ.get(SCREENSHOTS_ENV)
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / path.name)
    return path


def _chrome_texts(seed: str) -> list[str]:
    """Gold chrome lines of a seed that are not also body text (repeats are chrome once)."""
    gold = seed_gold(seed)
    lines = seed_lines(seed)
    texts = [lines[int(n) - 1].strip() for n in gold["chrome_lines"]]
    return [t for t in texts if t and t not in gold["body"] and t != gold["title"]]


def test_search_read_an_article_and_see_what_was_removed(
    page: Page, seeds_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=tmp_path / "clean")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_datasette(db, tmp_path / "datasette.log") as url:
        page.goto(url + "/archive/articles")
        expect(page.locator(".article-result")).to_have_count(5)
        _screenshot(page, shots, "articles", until=".grid-toggle")

        page.fill("input[name=_search]", "Kuril")
        page.press("input[name=_search]", "Enter")
        page.wait_for_url("**_search=Kuril**")
        hits = page.locator(".article-result-title")
        expect(hits.first).to_be_visible()
        assert hits.count() >= 2
        _screenshot(page, shots, "search", until=".grid-toggle")

        hits.first.click()
        page.wait_for_url("**/archive/articles/*")
        article_id = page.url.rsplit("/", 1)[1]
        with sqlite3.connect(db) as conn:
            raw_path, title, text = conn.execute(
                "select raw_path, title, text from articles where id = ?", [article_id]
            ).fetchone()
        seed = Path(raw_path).stem
        expect(page.locator("h1.article-title")).to_have_text(title)
        paragraphs = page.locator(".article-body p").all_inner_texts()
        assert len(paragraphs) >= 3
        stored = [p.strip() for p in text.split("\n\n") if p.strip()]
        assert [p.strip() for p in paragraphs] == stored
        body = "\n".join(paragraphs)
        for chrome in _chrome_texts(seed):
            assert chrome not in body, f"chrome line shown in the body: {chrome!r}"
        assert seed_gold(seed)["body"].split("\n")[0].strip()[:60] in body
        expect(page.locator(".article-meta .source")).to_have_text(seed_gold(seed)["source"])
        _screenshot(page, shots, "article")

        page.click("a.removed-link")
        page.wait_for_url("**/archive/removed_from_article?*")
        table = page.locator("table.rows-and-columns tbody tr")
        with sqlite3.connect(db) as conn:
            removed = conn.execute(
                "select count(*) from removed_lines where article_id = ?", [article_id]
            ).fetchone()[0]
        expect(table).to_have_count(removed)
        shown = page.locator("table.rows-and-columns").inner_text()
        assert title in shown and "title" in shown
        _screenshot(page, shots, "removed-lines")
    assert {p.name for p in shots.iterdir()} == {
        "articles.png", "search.png", "article.png", "removed-lines.png",
    }  # fmt: skip


def test_markup_in_stored_text_is_shown_never_run(page: Page, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = (SEED_RAW / f"{INJECTED_SEED}.txt").read_text(encoding="utf-8").split("\n")
    lines[10:10] = [INJECTED_PARAGRAPH, ""]
    (raw / "injected.txt").write_text("\n".join(lines), encoding="utf-8")
    db = tmp_path / "archive.db"
    ingest([raw], db=db, clean_dir=tmp_path / "clean")
    with sqlite3.connect(db) as conn:
        (article_id, text), *_ = conn.execute("select id, text from articles").fetchall()
    assert "<script>" in text, "the cleaner dropped the paragraph this test needs"
    with running_datasette(db, tmp_path / "datasette.log") as url:
        for path in (
            f"/archive/articles/{article_id}",
            "/archive/articles?_search=reproduced",
            "/archive/search_articles?q=reproduced",
        ):
            page.goto(url + path)
            expect(page.locator("body")).to_contain_text("<script>window.__archiverInjected")
            expect(page.locator("body")).to_contain_text("<b>bold</b>")
            assert page.evaluate("window.__archiverInjected") is None, path
            assert page.locator("main img[src=x], main b:text-is('bold')").count() == 0

"""A real Datasette server on 127.0.0.1 over the ingested seeds, checked through its JSON API.

Two archives are served: the seeds as ingested (every article canonical), and the same with
one article marked as a copy of another, as the deduplication stage records it, so the
queries are checked both before and after duplicates are filled in.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from archiver.pipeline import ingest

from .conftest import SEED_NAMES, SEED_RAW, seed_gold
from .corpus import write_corpus
from .datasette_server import running_datasette

ATOM = "{http://www.w3.org/2005/Atom}"
# In the deduplicated archive the TASS report is filed as a copy of the Sputnik one.
DUPLICATE_SEED = "004_969cd432ed28f87c"
CANONICAL_SEED = "003_cf0ed734f5fbf96f"


def _ingest_seeds(folder: Path) -> Path:
    raw = folder / "raw"
    raw.mkdir()
    for path in SEED_RAW.glob("*.txt"):
        (raw / path.name).write_bytes(path.read_bytes())
    db = folder / "archive.db"
    ingest([raw], db=db, clean_dir=folder / "clean")
    return db


def _ids_by_seed(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select raw_path, id from articles").fetchall()
    return {Path(raw_path).stem: article_id for raw_path, article_id in rows}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("plain")
    db = _ingest_seeds(folder)
    with running_datasette(db, folder / "datasette.log") as url:
        yield url, db


@pytest.fixture(scope="module")
def deduped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("deduped")
    db = _ingest_seeds(folder)
    ids = _ids_by_seed(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "update articles set duplicate_of = ?, similarity = 0.9 where id = ?",
            [ids[CANONICAL_SEED], ids[DUPLICATE_SEED]],
        )
    conn.close()
    with running_datasette(db, folder / "datasette.log") as url:
        yield url, db


@pytest.fixture
def datasette_url(archive: tuple[str, Path]) -> str:
    return archive[0]


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _rows(base: str, path: str, **params: str) -> list[dict]:
    query = urllib.parse.urlencode({**params, "_shape": "objects"})
    return _get(f"{base}/archive/{path}.json?{query}")["rows"]


def _sql(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_search_finds_the_right_articles_with_facets(datasette_url: str) -> None:
    data = _get(datasette_url + "/archive/articles.json?_shape=objects&_search=Habomai")
    found = {Path(row["raw_path"]).stem for row in data["rows"]}
    expected = {name for name in SEED_NAMES if "habomai" in seed_gold(name)["body"].lower()}
    assert found == expected
    facets = data["facet_results"]
    assert {"source", "site", "language", "published", "duplicate_of"} <= set(facets)
    sources = {item["value"]: item["count"] for item in facets["source"]["results"]}
    assert sum(sources.values()) == len(expected)
    assert facets["language"]["results"][0]["value"] == "en"


def test_a_table_search_without_words_shows_the_table_not_an_error(datasette_url: str) -> None:
    everything = _rows(datasette_url, "articles")
    for nothing in ('"', '""', ' " ', "-"):
        assert _rows(datasette_url, "articles", _search=nothing) == everything, nothing
    # A search with words in quotes still searches.
    assert len(_rows(datasette_url, "articles", _search='"Habomai')) < len(everything)


def test_the_binary_signature_table_is_kept_out_of_the_table_list(datasette_url: str) -> None:
    tables = {t["name"]: t for t in _get(datasette_url + "/archive.json")["tables"]}
    assert not tables["articles"]["hidden"]
    assert tables["minhash"]["hidden"] and tables["search_queue"]["hidden"]
    # Still there for whoever asks for it.
    assert _get(datasette_url + "/archive/minhash.json?_size=1")["rows"]


def test_published_facet_counts_months_and_filters_by_month(datasette_url: str) -> None:
    data = _get(datasette_url + "/archive/articles.json?_shape=objects")
    facet = data["facet_results"]["published"]
    assert facet["type"] == "month"
    months = {item["value"]: item["count"] for item in facet["results"]}
    golds = [seed_gold(name)["published"] for name in SEED_NAMES]
    assert months == Counter(date[:7] for date in golds if date)
    january = next(item for item in facet["results"] if item["value"] == "2019-01")
    picked = _get(january["toggle_url"])["rows"]
    assert len(picked) == months["2019-01"]
    assert all(row["published"].startswith("2019-01") for row in picked)


def test_articles_are_sorted_by_published_newest_first(datasette_url: str) -> None:
    rows = _get(datasette_url + "/archive/articles.json?_shape=objects")["rows"]
    dates = [row["published"] for row in rows if row["published"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == 3


def test_duplicate_status_facet_splits_canonical_from_copies(
    archive: tuple[str, Path], deduped: tuple[str, Path]
) -> None:
    plain = _get(archive[0] + "/archive/articles.json")["facet_results"]["duplicate_of"]
    assert {i["value"]: i["count"] for i in plain["results"]} == {"canonical": len(SEED_NAMES)}
    facet = _get(deduped[0] + "/archive/articles.json")["facet_results"]["duplicate_of"]
    counts = {item["value"]: item["count"] for item in facet["results"]}
    assert counts == {"canonical": len(SEED_NAMES) - 1, "duplicate": 1}
    duplicate = next(item for item in facet["results"] if item["value"] == "duplicate")
    rows = _get(duplicate["toggle_url"] + "&_shape=objects")
    assert [Path(r["raw_path"]).stem for r in rows["rows"]] == [DUPLICATE_SEED]


def test_canned_queries_explain_what_was_removed(archive: tuple[str, Path]) -> None:
    url, db = archive
    overall = _rows(url, "removed_by_reason")
    assert {"title", "credit", "caption"} <= {row["reason"] for row in overall}
    by_reason = dict(_sql(db, "select reason, count(*) from removed_lines group by reason"))
    assert {row["reason"]: row["lines"] for row in overall} == by_reason
    for row in overall:
        examples = row["examples"].split("  |  ")
        assert 1 <= len(examples) <= 3
        for example in examples:
            assert _sql(db, "select 1 from removed_lines where reason = ? and text = ?",
                        row["reason"], example)  # fmt: skip
    article = _rows(url, "articles", _search="Habomai", _size="1")[0]
    lines = _rows(url, "removed_from_article", article_id=article["id"])
    assert lines and [r["line_no"] for r in lines] == sorted(r["line_no"] for r in lines)
    assert any(r["reason"] == "title" and r["text"] == article["title"] for r in lines)


def test_latest_stories_lists_each_story_once_newest_first(
    archive: tuple[str, Path], deduped: tuple[str, Path]
) -> None:
    plain = _rows(archive[0], "latest_stories")
    assert len(plain) == len(SEED_NAMES) and all(row["copies"] == 1 for row in plain)
    dated = [row["published"] for row in plain if row["published"]]
    assert dated == sorted(dated, reverse=True)
    assert [row["published"] for row in plain[len(dated) :]] == [None] * (len(plain) - len(dated))

    url, db = deduped
    ids = _ids_by_seed(db)
    rows = _rows(url, "latest_stories")
    assert ids[DUPLICATE_SEED] not in {row["id"] for row in rows}
    assert len(rows) == len(SEED_NAMES) - 1
    story = next(row for row in rows if row["id"] == ids[CANONICAL_SEED])
    assert story["copies"] == 2
    assert set(story["sources"].split(", ")) == {
        seed_gold(CANONICAL_SEED)["source"],
        seed_gold(DUPLICATE_SEED)["source"],
    }


def test_most_carried_stories_ranks_by_distinct_sources(
    archive: tuple[str, Path], deduped: tuple[str, Path]
) -> None:
    plain = _rows(archive[0], "most_carried_stories")
    assert len(plain) == len(SEED_NAMES) and {row["source_count"] for row in plain} == {1}
    url, db = deduped
    rows = _rows(url, "most_carried_stories")
    assert len(rows) == len(SEED_NAMES) - 1
    assert rows[0]["id"] == _ids_by_seed(db)[CANONICAL_SEED]
    assert (rows[0]["source_count"], rows[0]["copies"]) == (2, 2)
    assert all(row["source_count"] == 1 for row in rows[1:])


def test_undated_articles_are_those_without_a_full_date(archive: tuple[str, Path]) -> None:
    rows = _rows(archive[0], "undated_articles")
    expected = {name for name in SEED_NAMES if seed_gold(name)["published"] is None}
    assert {Path(row["raw_path"]).stem for row in rows} == expected


def test_search_query_matches_title_and_text_with_stemming(archive: tuple[str, Path]) -> None:
    url = archive[0]
    rows = _rows(url, "search_articles", q="Habomai")
    expected = {name for name in SEED_NAMES if "habomai" in seed_gold(name)["body"].lower()}
    assert {row["id"] for row in rows} == {row["id"] for row in _rows(url, "articles",
                                                                      _search="Habomai")}  # fmt: skip
    assert len(rows) == len(expected)
    assert all("[habomai" in row["passage"].lower() for row in rows)  # "[Habomais]" too
    # A match in the title ranks first; "islands" finds "Islands" and "island" alike.
    kuril = _rows(url, "search_articles", q="Kuril")
    assert "Kuril" in kuril[0]["title"]
    title_only = seed_gold("002_9d5328188a5ae2ac")["title"]  # "Abe-Putin meeting set for ..."
    assert any(row["title"] == title_only for row in _rows(url, "search_articles", q="Putin"))
    assert _rows(url, "search_articles", q="meetings") == _rows(url, "search_articles", q="meeting")
    # Punctuation is searched for as text, never parsed as FTS syntax.
    assert _rows(url, "search_articles", q='"Kuril (AND') == []
    # Nothing to search for (an empty box, a lone quote) finds nothing, not an FTS error.
    for nothing in ("", '"', ' "" ', "\t", "\n", "\u00a0"):
        assert _rows(url, "search_articles", q=nothing) == []


def _feed(base: str) -> ET.Element:
    with urllib.request.urlopen(base + "/archive/feed.atom", timeout=10) as response:
        assert "xml" in response.headers["content-type"]
        return ET.fromstring(response.read())


def test_atom_feed_has_one_entry_per_canonical_article(
    archive: tuple[str, Path], deduped: tuple[str, Path]
) -> None:
    for url, db in (archive, deduped):
        feed = _feed(url)
        assert feed.tag == f"{ATOM}feed"
        assert feed.findtext(f"{ATOM}title") and feed.findtext(f"{ATOM}updated")
        entries = feed.findall(f"{ATOM}entry")
        canonical = dict(_sql(db, "select id, title from articles where duplicate_of is null"))
        assert len(entries) == len(canonical)
        ids = [entry.findtext(f"{ATOM}id") for entry in entries]
        assert len(set(ids)) == len(ids)
        titles = set()
        for entry in entries:
            datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")
            titles.add(entry.findtext(f"{ATOM}title"))
            link = entry.find(f"{ATOM}link")
            assert link is not None
            page = urllib.request.urlopen(url + link.attrib["href"], timeout=10)
            assert page.status == 200
            assert entry.findtext(f"{ATOM}content")
        assert titles == set(canonical.values())


def test_article_page_links_a_duplicate_to_its_story(deduped: tuple[str, Path]) -> None:
    url, db = deduped
    ids = _ids_by_seed(db)
    with urllib.request.urlopen(f"{url}/archive/articles/{ids[DUPLICATE_SEED]}", timeout=10) as r:
        page = r.read().decode()
    assert f'/archive/articles/{ids[CANONICAL_SEED]}"' in page
    assert "This is a copy of a story (90% similar)" in page
    story = _rows(url, "stories", id=ids[CANONICAL_SEED])
    assert [row["copies"] for row in story] == [2]


def test_a_page_that_declares_a_script_url_gets_no_link_that_runs_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    paragraph = "<p>The harbour ferry sailed at dawn with forty passengers on board today.</p>"
    (raw / "page.html").write_text(
        '<html><head><title>Ferry sails</title><meta property="og:url" '
        'content="javascript:alert(document.domain)"></head><body><article><h1>Ferry sails</h1>'
        + paragraph * 6
        + "</article></body></html>"
    )
    db = tmp_path / "archive.db"
    ingest([raw], db=db, clean_dir=tmp_path / "clean")
    # Not stored as the page's address: a page's own URL must be a web address.
    assert _sql(db, "select url from articles") == [(None,)]
    # And an address stored by some other way is shown, never linked.
    _sql(db, "update articles set url = 'javascript:alert(1)'")
    (article_id,) = _sql(db, "select id from articles")[0]
    with running_datasette(db, tmp_path / "datasette.log") as url:
        page = _page(f"{url}/archive/articles/{article_id}")
    assert "javascript:alert(1)" in page and 'href="javascript:' not in page


def test_paging_through_the_articles_lists_each_once(tmp_path: Path) -> None:
    write_corpus(tmp_path / "raw", 40, copy_every=50)
    db = tmp_path / "archive.db"
    ingest([tmp_path / "raw"], db=db, clean_dir=tmp_path / "clean")
    # Many articles share a date (or have none): the order among them decides the pages.
    _sql(db, "update articles set published = '2024-05-01' where rowid % 3 = 0")
    _sql(db, "update articles set published = null where rowid % 3 = 1")
    _sql(db, "update articles set source = null where rowid % 2 = 0")
    every = sorted(row[0] for row in _sql(db, "select id from articles"))
    with running_datasette(db, tmp_path / "datasette.log") as url:
        # Newest first (the list's own order), and each column's sort either way.
        for order in ("", "&_sort=published", "&_sort=source", "&_sort_desc=source"):
            seen: list[str] = []
            page: str | None = f"{url}/archive/articles.json?_size=7&_shape=objects{order}"
            while page:
                data = _get(page)
                seen += [row["id"] for row in data["rows"]]
                page = data.get("next_url")
            assert sorted(seen) == every and len(seen) == len(every), order
        first = _page(f"{url}/archive/articles")  # the reading list itself still shows
        # "Export all rows": a stream, which Datasette pages itself, has every article once.
        stream = _page(f"{url}/archive/articles.csv?_stream=on&_size=max&_next=%F4%8F%BF%BF%2C")
    assert "Next page" in first or "next" in first.lower()
    exported = list(csv.DictReader(io.StringIO(stream)))
    assert sorted(row["id"] for row in exported) == every


def test_unknown_article_is_a_404(datasette_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(datasette_url + "/archive/articles/nope", timeout=10)
    assert error.value.code == 404


@pytest.mark.parametrize(
    "query",
    ["articles?_sort=no_such_column", "removed_lines.json?_sort_desc=no_such_column",
     "articles?_sort=title&_sort_desc=published"],
)  # fmt: skip
def test_a_bad_sort_is_the_readers_error_with_its_reason(datasette_url: str, query: str) -> None:
    """A sort Datasette cannot apply answers 400 and says why, not a server error."""
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{datasette_url}/archive/{query}", timeout=10)
    assert error.value.code == 400
    body = error.value.read().decode()
    assert "Cannot sort table by no_such_column" in body or "_sort and _sort_desc" in body


def test_datasette_browses_while_an_ingest_writes(tmp_path: Path) -> None:
    """Pages keep answering, with growing counts, while another process ingests."""
    db = _ingest_seeds(tmp_path)
    raw = tmp_path / "more"
    write_corpus(raw, 600)
    count_url = "/archive.json?" + urllib.parse.urlencode(
        {"sql": "select count(*) as n from articles", "_shape": "array"}
    )
    with running_datasette(db, tmp_path / "datasette.log") as url:
        run = subprocess.Popen(
            [sys.executable, "-m", "archiver", "ingest", str(raw), "--db", str(db),
             "--clean-dir", str(tmp_path / "clean"), "--workers", "1"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        seen = []
        while run.poll() is None:
            seen.append(_get(url + count_url)[0]["n"])
            # A page that reads several tables at once must answer too.
            assert _rows(url, "articles", _size="5", _sort_desc="published")
            time.sleep(0.05)
        assert run.wait() == 0, run.stderr.read() if run.stderr else ""
        final = _get(url + count_url)[0]["n"]
    assert len(seen) >= 3, "the ingest ended before Datasette was asked anything"
    assert seen == sorted(seen), "an answer went back in time"
    assert seen[0] < final == len(SEED_NAMES) + 600


def test_atom_feed_of_an_empty_archive_is_a_feed_without_entries(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    db = tmp_path / "archive.db"
    ingest([raw], db=db, clean_dir=tmp_path / "clean")  # a new archive: no article yet
    with running_datasette(db, tmp_path / "datasette.log") as url:
        feed = _feed(url)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "Latest stories in the news archive"
    datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "")
    assert feed.findall(f"{ATOM}entry") == []


def test_the_lines_removed_from_an_html_page_say_where_they_were(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    page = Path(__file__).parent / "fixtures" / "html" / "news_article.html"
    (raw / page.name).write_bytes(page.read_bytes())
    db = tmp_path / "archive.db"
    ingest([raw], db=db, clean_dir=tmp_path / "clean")
    (article_id,) = _sql(db, "select id from articles")[0]
    with running_datasette(db, tmp_path / "datasette.log") as url:
        lines = _rows(url, "removed_from_article", article_id=article_id)
        shown = _page(f"{url}/archive/articles/{article_id}")
    stages = [row["stage"] for row in lines]
    # The source's elements first, then the text's lines: each numbered in its own.
    assert "html" in stages and "text" in stages
    assert stages == sorted(stages)
    for stage in ("html", "text"):
        numbers = [row["line_no"] for row in lines if row["stage"] == stage]
        assert numbers == sorted(numbers)
    assert '<td class="stage">HTML source</td>' in shown and '<td class="stage">text</td>' in shown


def test_an_archive_of_another_file_name_gets_the_same_pages(tmp_path: Path) -> None:
    db = tmp_path / "news.db"  # make serve DB=news.db
    ingest([SEED_RAW], db=db, clean_dir=tmp_path / "clean")
    (article_id,) = _sql(db, "select id from articles limit 1")[0]
    with running_datasette(db, tmp_path / "datasette.log") as url:
        found = _get(f"{url}/news/search_articles.json?q=Lavrov&_shape=objects")["rows"]
        page = _page(f"{url}/news/articles/{article_id}")
        tables = {t["name"]: t for t in _get(f"{url}/news.json")["tables"]}
    assert found and all("Lavrov" in row["title"] + row["passage"] for row in found)
    assert 'class="article-title"' in page  # the archive's article page, not a bare row
    assert tables["minhash"]["hidden"]

"""A real Datasette server on 127.0.0.1 over the ingested seeds, checked through its JSON API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.pipeline import ingest

from .conftest import SEED_NAMES, seed_gold

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def datasette_url(seeds_dir: Path, tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "archive.db"
    ingest([seeds_dir], db=db, clean_dir=tmp_path / "clean")
    port = _free_port()
    command = [
        sys.executable, "-m", "datasette", "serve", "-i", str(db),
        "--metadata", str(ROOT / "datasette.yml"), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    log = (tmp_path / "datasette.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/-/versions.json", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "Datasette did not start: " + (tmp_path / "datasette.log").read_text()
                    )
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_search_finds_the_right_articles_with_facets(datasette_url: str) -> None:
    data = _get(datasette_url + "/archive/articles.json?_shape=objects&_search=Habomai")
    found = {Path(row["raw_path"]).stem for row in data["rows"]}
    expected = {name for name in SEED_NAMES if "habomai" in seed_gold(name)["body"].lower()}
    assert found == expected
    facets = data["facet_results"]
    assert {"source", "language", "published"} <= set(facets)
    sources = {item["value"]: item["count"] for item in facets["source"]["results"]}
    assert sum(sources.values()) == len(expected)
    assert facets["language"]["results"][0]["value"] == "en"


def test_articles_are_sorted_by_published_newest_first(datasette_url: str) -> None:
    rows = _get(datasette_url + "/archive/articles.json?_shape=objects")["rows"]
    dates = [row["published"] for row in rows if row["published"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == 3


def test_canned_queries_explain_what_was_removed(datasette_url: str) -> None:
    overall = _get(datasette_url + "/archive/removed_by_reason.json?_shape=objects")["rows"]
    assert {"title", "credit", "caption"} <= {row["reason"] for row in overall}
    article = _get(datasette_url + "/archive/articles.json?_shape=objects&_search=Habomai&_size=1")[
        "rows"
    ][0]
    query = urllib.parse.urlencode({"article_id": article["id"], "_shape": "objects"})
    lines = _get(f"{datasette_url}/archive/removed_from_article.json?{query}")["rows"]
    assert lines and [r["line_no"] for r in lines] == sorted(r["line_no"] for r in lines)
    assert any(r["reason"] == "title" and r["text"] == article["title"] for r in lines)

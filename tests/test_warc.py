"""WARC captures: one article per HTML response record; revisits and other types skipped."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.cli import main
from archiver.pipeline import ingest
from archiver.reprocessing import reprocess

HTML = Path(__file__).parent / "fixtures" / "html"
PAGES = {
    "https://ledger.example/news/coal": HTML / "news_article.html",
    "https://weekly.example/library": HTML / "wordpress_post.html",
}


def _response(writer: WARCWriter, url: str, content_type: str, body: bytes):
    headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=headers
    )


def write_capture(path: Path, gzip: bool = True) -> None:
    """Two HTML responses, a PDF response and a revisit of the first page."""
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=gzip)
        first = None
        for url, page in PAGES.items():
            record = _response(writer, url, "text/html; charset=utf-8", page.read_bytes())
            writer.write_record(record)
            first = first or record
        writer.write_record(
            _response(
                writer,
                "https://ledger.example/report.pdf",
                "application/pdf",
                b"%PDF-1.4\n" + bytes(300),
            )
        )
        assert first is not None
        revisit = writer.create_revisit_record(
            "https://ledger.example/news/coal",
            digest=first.rec_headers.get_header("WARC-Payload-Digest"),
            refers_to_uri="https://ledger.example/news/coal",
            refers_to_date=first.rec_headers.get_header("WARC-Date"),
        )
        writer.write_record(revisit)


def write_arc(path: Path) -> None:
    """The two HTML pages as an ARC (version 1) capture, the format before WARC."""
    info = b"1 0 Example\nURL IP-address Archive-date Content-type Archive-length\n"
    data = b"filedesc://%s 0.0.0.0 20191119120000 text/plain %d\n%s\n" % (
        path.name.encode(),
        len(info),
        info,
    )
    for url, page in PAGES.items():
        payload = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        payload += page.read_bytes()
        data += b"%s 192.0.2.1 20191119120500 text/html %d\n%s\n" % (
            url.encode(),
            len(payload),
            payload,
        )
    path.write_bytes(data)


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_each_html_record_becomes_an_article_with_its_url(tmp_path: Path) -> None:
    capture = tmp_path / "capture.warc.gz"
    write_capture(capture)
    db = tmp_path / "archive.db"
    summary = ingest([capture], db=db, clean_dir=tmp_path / "clean")
    assert (summary.ingested, summary.failed, summary.articles) == (1, 0, 2)
    rows = _rows(db, "select url, site, title, captured_at, raw_path from articles order by url")
    assert [r[0] for r in rows] == sorted(PAGES)
    assert rows[0][1:3] == ("ledger.example", "Harbour city votes to close coal plant by 2030")
    assert all(r[3] and r[3].startswith("20") and r[4] == str(capture) for r in rows)
    assert _rows(db, "select format, status, articles, skipped from raw_files") == [
        ("warc", "ok", 2, 2)
    ]
    assert len(list((tmp_path / "clean").glob("*.txt"))) == 2


def test_uncompressed_capture_detected_by_content(tmp_path: Path) -> None:
    capture = tmp_path / "capture.data"
    write_capture(capture, gzip=False)
    summary = ingest([capture], db=tmp_path / "archive.db", clean_dir=None)
    assert summary.articles == 2


def test_second_ingest_of_a_capture_changes_nothing(tmp_path: Path) -> None:
    capture = tmp_path / "capture.warc.gz"
    write_capture(capture)
    db = tmp_path / "archive.db"
    ingest([capture], db=db, clean_dir=None)
    before = _rows(db, "select id, text from articles order by id")
    summary = ingest([capture], db=db, clean_dir=None)
    assert (summary.ingested, summary.unchanged) == (0, 1)
    assert _rows(db, "select id, text from articles order by id") == before


def test_a_capture_that_grows_keeps_the_ids_of_the_pages_it_held(tmp_path: Path) -> None:
    # A crawl still writing its capture: ingested now, and again once it holds more.
    capture = tmp_path / "capture.warc.gz"
    write_capture(capture)
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([capture], db=db, clean_dir=clean)
    before = _rows(db, "select url, id, rowid, clean_path from articles order by url")
    with capture.open("ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        body = (HTML / "footer_wrapped.html").read_bytes()
        writer.write_record(_response(writer, "https://third.example/later", "text/html", body))
    summary = ingest([capture], db=db, clean_dir=clean)
    assert (summary.ingested, summary.articles) == (1, 3)
    after = _rows(db, "select url, id, rowid, clean_path from articles order by url")
    assert [row for row in after if row[0] != "https://third.example/later"] == before
    assert len(after) == 3
    assert sorted(p.name for p in clean.glob("*.txt")) == sorted(Path(row[3]).name for row in after)


EARLIER = Path(__file__).parent / "fixtures" / "warc"


def _earlier_archive(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The archive an earlier version made of a capture, in ``folder``; its pages' ids."""
    shutil.copy(EARLIER / "earlier-ids.db", folder / "archive.db")
    shutil.copy(EARLIER / "capture.warc.gz", folder / "capture.warc.gz")
    monkeypatch.chdir(folder)  # the archive holds the capture's path relative to it
    return _rows(folder / "archive.db", "select url, id, rowid from articles order by url")


def test_an_archive_of_an_earlier_version_keeps_its_ids_when_reprocessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _earlier_archive(tmp_path, monkeypatch)
    summary = reprocess(db="archive.db", clean_dir=None)
    assert (summary.added, summary.dropped, summary.failed) == (0, 0, 0)
    assert _rows(tmp_path / "archive.db", "select url, id, rowid from articles order by url") == (
        before
    )


def test_a_capture_of_an_earlier_version_keeps_its_ids_when_it_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _earlier_archive(tmp_path, monkeypatch)
    with (tmp_path / "capture.warc.gz").open("ab") as handle:
        writer = WARCWriter(handle, gzip=True)
        body = (HTML / "footer_wrapped.html").read_bytes()
        writer.write_record(_response(writer, "https://third.example/later", "text/html", body))
    summary = ingest(["capture.warc.gz"], db="archive.db", clean_dir=None)
    assert (summary.ingested, summary.failed, summary.articles) == (1, 0, 3)
    after = _rows(tmp_path / "archive.db", "select url, id, rowid from articles order by url")
    assert [row for row in after if row[0] != "https://third.example/later"] == before
    assert len(after) == 3


def test_a_bad_record_fails_alone_and_a_truncated_capture_is_reported(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.warc.gz"
    with capture.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(_response(writer, "https://a.example/empty", "text/html", b""))
        writer.write_record(
            _response(
                writer,
                "https://a.example/ok",
                "text/html",
                (HTML / "news_article.html").read_bytes(),
            )
        )
    whole = tmp_path / "whole.warc.gz"
    write_capture(whole)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        main,
        ["ingest", str(capture), str(cut), "--db", str(db), "--clean-dir", str(tmp_path / "c")],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    failed = dict(_rows(db, "select path, error from raw_files where status = 'failed'"))
    record_rows = [p for p in failed if p.startswith(f"{capture}#")]
    assert len(record_rows) == 1 and "https://a.example/empty: empty file" in failed[record_rows[0]]
    assert _rows(
        db, "select url from articles where raw_path = ?".replace("?", f"'{capture}'")
    ) == [("https://a.example/ok",)]
    cut_errors = [e for p, e in failed.items() if p.startswith(str(cut))]
    assert cut_errors and any("damaged" in e for e in cut_errors)
    assert "failed:" in result.stderr


def test_a_damaged_record_is_named_in_plain_words(tmp_path: Path) -> None:
    good = tmp_path / "good.warc"
    write_capture(good, gzip=False)
    first = good.read_bytes().split(b"WARC/1.", 2)[1]  # the first record, as written
    capture = tmp_path / "damaged.warc"
    # Then a response record without its WARC-Target-URI, which trips warcio's own code.
    damage = b"WARC/1.1\r\nWARC-Type: response\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"
    capture.write_bytes(b"WARC/1." + first + damage)
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(
        main, ["ingest", str(capture), "--db", str(db), "--clean-dir", str(tmp_path / "c")]
    )
    assert "Traceback" not in result.output
    errors = [e for (e,) in _rows(db, "select error from raw_files where error is not null")]
    said = "damaged capture: record 2 cannot be read (malformed headers)"
    assert any(said in error for error in errors), errors
    assert not any("NoneType" in error or "attribute" in error for error in errors), errors
    # The record before the damage is stored.
    assert _rows(db, "select count(*) from articles") == [(1,)]


def test_a_record_failure_goes_when_the_capture_is_repaired(tmp_path: Path) -> None:
    capture = tmp_path / "mixed.warc.gz"
    article = (HTML / "news_article.html").read_bytes()

    def write(first_body: bytes) -> None:
        with capture.open("wb") as handle:
            writer = WARCWriter(handle, gzip=True)
            writer.write_record(_response(writer, "https://a.example/one", "text/html", first_body))
            writer.write_record(_response(writer, "https://a.example/ok", "text/html", article))

    db = tmp_path / "archive.db"
    write(b"")
    ingest([capture], db=db, clean_dir=None)
    assert len(_rows(db, "select path from raw_files where format = 'warc-record'")) == 1
    write(article.replace(b"<title>", b"<title>Second copy: "))
    ingest([capture], db=db, clean_dir=None)
    assert _rows(db, "select path from raw_files where format = 'warc-record'") == []
    assert _rows(db, "select status from raw_files") == [("ok",)]


def test_a_capture_copied_to_another_path_keeps_its_own_articles(tmp_path: Path) -> None:
    capture, copy = tmp_path / "capture.warc.gz", tmp_path / "copy" / "capture.warc.gz"
    write_capture(capture)
    copy.parent.mkdir()
    copy.write_bytes(capture.read_bytes())
    db = tmp_path / "archive.db"
    summary = ingest([capture, copy], db=db, clean_dir=None)
    assert summary.articles == 4
    assert _rows(db, "select raw_path, count(*) from articles group by 1 order by 1") == [
        (str(capture), 2),
        (str(copy), 2),
    ]
    # Each copy's article is linked to the original's: two stories, not four.
    assert _rows(db, "select count(*) from stories") == [(2,)]


@pytest.mark.parametrize("gzip", [True, False], ids=["warc.gz", "warc"])
def test_a_capture_cut_short_later_keeps_the_articles_of_what_it_lost(
    tmp_path: Path, gzip: bool
) -> None:
    capture = tmp_path / "capture.warc"
    write_capture(capture, gzip=gzip)
    whole = capture.read_bytes()
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([capture], db=db, clean_dir=clean)
    before = _rows(db, "select url, text from articles order by url")
    assert len(before) == 2
    # Cut inside the second page's record, as an interrupted download or copy leaves it.
    second = whole.index(b"\x1f\x8b\x08" if gzip else b"WARC/1", 1)  # the second record
    capture.write_bytes(whole[: second + 200])
    summary = ingest([capture], db=db, clean_dir=clean)
    assert summary.failed >= 1  # the damaged record is said
    assert _rows(db, "select url, text from articles order by url") == before
    assert _rows(db, f"select articles from raw_files where path = '{capture}'") == [(2,)]
    assert len(list(clean.glob("*.txt"))) == 2


def test_clean_names_the_damaged_record_of_a_capture_cut_short(tmp_path: Path) -> None:
    capture = tmp_path / "capture.warc.gz"
    write_capture(capture)
    whole = capture.read_bytes()
    capture.write_bytes(whole[: whole.index(b"\x1f\x8b\x08", 1) + 200])  # in the second record
    result = CliRunner().invoke(main, ["clean", "--json", str(capture)])
    assert result.exit_code == 1
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p.get("url") for p in printed if p.get("text")] == ["https://ledger.example/news/coal"]
    assert any(p.get("error") and p["path"].startswith(f"{capture}#") for p in printed)
    assert result.stderr.startswith(f"failed: {capture}#") and "Traceback" not in result.output


def test_clean_heads_each_page_of_a_capture_with_its_url(tmp_path: Path) -> None:
    capture = tmp_path / "capture.warc.gz"
    write_capture(capture)
    result = CliRunner().invoke(main, ["clean", str(capture)])
    assert result.exit_code == 0
    headers = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [f"==> {capture} ({url}) <==" for url in PAGES]
    # Each body sits under its own header: the coal story under the coal page's URL.
    coal, library = result.stdout.split(headers[1])
    assert "coal" in coal.lower() and "coal plant" not in library.lower()
    printed = [
        json.loads(line)
        for line in CliRunner().invoke(main, ["clean", "--json", str(capture)]).stdout.splitlines()
    ]
    assert [p["url"] for p in printed] == list(PAGES)
    assert all(p["captured_at"].startswith("20") for p in printed)


def test_a_capture_without_a_page_is_said_not_silent(tmp_path: Path) -> None:
    capture = tmp_path / "images.warc.gz"
    with capture.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(
            _response(writer, "https://ledger.example/a.png", "image/png", b"\x89PNG" + bytes(64))
        )
    result = CliRunner().invoke(main, ["clean", str(capture)])
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == (
        f"warning: {capture}: no HTML page in this capture (1 record: not HTML (image/png))\n"
    )
    db = tmp_path / "archive.db"
    ingested = CliRunner().invoke(
        main, ["ingest", str(capture), "--db", str(db), "--clean-dir", str(tmp_path / "clean")]
    )
    assert ingested.exit_code == 0
    assert "no HTML page in this capture" in ingested.stderr
    assert _rows(db, "select status, articles, skipped from raw_files") == [("ok", 0, 1)]


def test_the_library_cleans_the_bytes_of_a_capture_of_one_page(tmp_path: Path) -> None:
    import archiver

    one = tmp_path / "one.warc.gz"
    with one.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        url, page = next(iter(PAGES.items()))
        writer.write_record(_response(writer, url, "text/html; charset=utf-8", page.read_bytes()))
    article = archiver.clean(one.read_bytes())
    assert article.url == url and article.captured_at
    assert article.title == "Harbour city votes to close coal plant by 2030"
    several = tmp_path / "capture.warc.gz"
    write_capture(several)
    with pytest.raises(archiver.InputError, match="a capture of 2 pages, and clean"):
        archiver.clean(several.read_bytes())


def test_a_capture_whose_only_page_fails_is_one_failure(tmp_path: Path) -> None:
    capture = tmp_path / "broken.warc.gz"
    with capture.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(
            _response(writer, "https://ledger.example/empty", "text/html", b"\x00\x01" * 200)
        )
    summary = ingest([capture], db=tmp_path / "a.db", clean_dir=tmp_path / "clean")
    assert (summary.ingested, summary.failed, summary.articles) == (0, 1, 0)
    # Its record is still said, as the reason the capture failed.
    failed = _rows(tmp_path / "a.db", "select path, error from raw_files where status = 'failed'")
    assert any(path.startswith(f"{capture}#") for path, _ in failed)


def test_a_capture_sharing_pages_with_another_is_linked_but_not_called_a_copy(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first.warc.gz", tmp_path / "second.warc.gz"
    write_capture(first)
    second.write_bytes(first.read_bytes())
    with second.open("ab") as handle:  # the same pages, and one more
        writer = WARCWriter(handle, gzip=True)
        body = (HTML / "footer_wrapped.html").read_bytes()
        writer.write_record(_response(writer, "https://third.example/later", "text/html", body))
    db, clean = str(tmp_path / "archive.db"), str(tmp_path / "clean")
    runner = CliRunner()
    ingest_args = ["ingest", "--db", db, "--clean-dir", clean]
    assert runner.invoke(main, [*ingest_args, str(first)]).exit_code == 0
    result = runner.invoke(main, [*ingest_args, str(second)])
    assert result.exit_code == 0
    assert "byte-identical" not in result.stderr
    assert _rows(Path(db), "select raw_path, count(*) from articles group by 1 order by 1") == [
        (str(first), 2),
        (str(second), 3),
    ]
    assert _rows(Path(db), "select count(*) from stories") == [(3,)]  # the shared pages linked


def test_an_arc_capture_gives_its_pages_one_id_in_every_archive(tmp_path: Path) -> None:
    capture = tmp_path / "crawl.arc"
    write_arc(capture)
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    ingest([capture], db=first, clean_dir=tmp_path / "clean")
    ingest([capture], db=second, clean_dir=None)
    sql = "select url, id, captured_at from articles order by url"
    rows = _rows(first, sql)
    assert [row[0] for row in rows] == sorted(PAGES)
    assert all(row[2] and row[2].startswith("2019-11-19") for row in rows)
    assert _rows(second, sql) == rows
    # And so a copy under another name is known for the same bytes, as a WARC's is.
    copy = tmp_path / "copy.arc"
    copy.write_bytes(capture.read_bytes())
    result = CliRunner().invoke(
        main, ["ingest", str(copy), "--db", str(first), "--clean-dir", str(tmp_path / "clean")]
    )
    assert result.exit_code == 0, result.output
    assert "1 file is byte-identical to files the archive holds" in result.output
    assert _rows(first, "select count(*) from stories") == [(2,)]

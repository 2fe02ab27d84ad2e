"""Reading and decoding raw inputs: encodings, binary files, size caps, folders."""

from __future__ import annotations

import codecs
import gzip
import os
import sqlite3
from pathlib import Path

import pytest

from archiver.models import InputError
from archiver.sources import archive_paths, count_raw_files, decode_bytes, iter_raw_files, read_raw

RUSSIAN = "Министр иностранных дел России встретился с японским коллегой в Москве."
FRENCH = "Le ministre des Affaires étrangères a rencontré son homologue à Paris, déjà."


def test_utf8_is_decoded_as_is() -> None:
    text, encoding, warnings = decode_bytes(FRENCH.encode("utf-8"))
    assert (text, encoding, warnings) == (FRENCH, "utf-8", ())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + FRENCH.encode("utf-8"), FRENCH),
        (codecs.BOM_UTF16_LE + RUSSIAN.encode("utf-16-le"), RUSSIAN),
        (codecs.BOM_UTF16_BE + RUSSIAN.encode("utf-16-be"), RUSSIAN),
        (((RUSSIAN + "\n") * 20).encode("cp1251"), (RUSSIAN + "\n") * 20),
        (((FRENCH + "\n") * 20).encode("latin-1"), (FRENCH + "\n") * 20),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "cp1251", "latin-1"],
)
def test_other_encodings_are_decoded_without_mojibake(data: bytes, expected: str) -> None:
    text, _, _ = decode_bytes(data)
    assert text == expected


def test_a_stray_invalid_byte_in_utf8_is_replaced_with_a_warning() -> None:
    data = (FRENCH * 40).encode("utf-8") + b"\xff" + FRENCH.encode("utf-8")
    text, encoding, warnings = decode_bytes(data)
    assert encoding == "utf-8"
    assert "\ufffd" in text and "étrangères" in text
    assert warnings and "invalid UTF-8" in warnings[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"  \n\n\t ", "empty file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "PDF"),
        (b"\x7fELF\x02\x01\x01" + bytes(200), "ELF"),
        (bytes(range(256)) * 40, "binary|not text"),
    ],
    ids=["empty", "blank", "png", "pdf", "elf", "random-bytes"],
)
def test_non_text_is_refused_with_a_clear_reason(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_bytes(data)


def test_gzip_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "page.txt.gz"
    path.write_bytes(gzip.compress(FRENCH.encode("utf-8")))
    assert read_raw(path).text == FRENCH


def test_gzip_bomb_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(b"a" * (5 * 1024 * 1024)))
    with pytest.raises(InputError, match="gzip inflates past"):
        read_raw(path, max_bytes=1024 * 1024)


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(FRENCH.encode("utf-8") * 100)[:-30])
    with pytest.raises(InputError, match="damaged gzip"):
        read_raw(path)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(InputError, match="too large"):
        read_raw(path)
    # A small limit reads in bytes, not as "0.0 MB".
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 500)
    with pytest.raises(InputError, match=r"^file too large \(500 bytes; the limit is 100 bytes\)$"):
        read_raw(small, max_bytes=100)


def test_missing_and_dangling_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_raw(tmp_path / "missing.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(InputError, match="no such file"):
        read_raw(tmp_path / "dangling")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text(FRENCH)
    path.chmod(0)
    with pytest.raises(InputError, match="permission denied"):
        read_raw(path)


def test_folders_are_walked_recursively_in_order_without_following_link_loops(
    tmp_path: Path,
) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b" / "deep" / "c.txt").write_text("x")
    (tmp_path / ".hidden").write_text("x")
    (tmp_path / "b" / "loop").symlink_to(tmp_path)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_raw_files([tmp_path])]
    assert found == ["a.txt", "b/deep/c.txt"]
    # The count behind the progress bar's total walks the same files, holding none.
    assert count_raw_files([tmp_path, tmp_path / "missing.txt"]) == 3


def test_a_file_named_again_or_inside_a_folder_given_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw" / "sub").mkdir(parents=True)
    for name in ("raw/a.txt", "raw/sub/b.txt", "raw/.hidden.txt", "elsewhere.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "c.txt").write_text("x")
    (tmp_path / "raw" / "link").symlink_to(tmp_path / "linked")  # the walk does not follow it
    given = ["raw", "raw/a.txt", "raw/", "./raw/sub", "elsewhere.txt", "elsewhere.txt",
             "raw/.hidden.txt", "raw/link", "raw/link/c.txt"]  # fmt: skip
    found = [p.as_posix() for p in iter_raw_files(given)]
    # Each file once; what the folder's walk leaves out (hidden, behind a link) stays given.
    assert found == ["raw/a.txt", "raw/sub/b.txt", "elsewhere.txt", "raw/.hidden.txt",
                     "raw/link/c.txt"]  # fmt: skip
    assert count_raw_files(given) == 5
    # A folder holds only what lies under it: "." does not hold an absolute path elsewhere.
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere.txt"
    elsewhere.write_text("x")
    try:
        assert [p.as_posix() for p in iter_raw_files([".", str(elsewhere)])][-1] == str(elsewhere)
    finally:
        elsewhere.unlink()


def test_the_archive_s_own_files_are_not_raw_input(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "page.txt").write_text("x")
    for name in ("archive.db", "archive.db-wal", "archive.db-shm", "other.db"):
        (tmp_path / name).write_text("x")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "story.txt").write_text("x")
    (tmp_path / "raw" / "clean").mkdir()  # another folder of the same name is input
    (tmp_path / "raw" / "clean" / "kept.txt").write_text("x")
    own = archive_paths(tmp_path / "archive.db", tmp_path / "clean")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_raw_files([tmp_path], own)]
    assert found == ["other.db", "raw/page.txt", "raw/clean/kept.txt"]
    # However they are named, as given or through a link.
    (tmp_path / "link").symlink_to(tmp_path)
    given = [tmp_path / "link" / "archive.db", tmp_path / "link" / "clean", tmp_path / "raw"]
    assert [p.name for p in iter_raw_files(given, own)] == ["page.txt", "kept.txt"]
    assert count_raw_files(given, own) == 2


@pytest.mark.parametrize(
    "text",
    [
        '{"title": "Ferry", "source": "Ledger"}\n',
        '[{"url": "https://a.example/1"}]',
        # A scraper's record holding the page it saved: still data, not the page.
        '{"url": "https://a.example/1", "html": "<html><head></head><body>Ferry</body></html>"}',
    ],
)
def test_json_data_is_no_page(tmp_path: Path, text: str) -> None:
    path = tmp_path / "meta.txt"  # what it is comes from its content, not its name
    path.write_text(text)
    with pytest.raises(InputError, match=r"^JSON data, not a page or a text dump$"):
        read_raw(path)


def test_a_dump_opening_with_brackets_is_still_a_dump(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"
    path.write_text("[Updated] Ferry resumes\n\nThe ferry sailed again on Monday. [Photo]\n")
    assert read_raw(path).format == "text"


def test_a_folder_walk_passes_over_sqlite_databases(tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text("A page of news.\n")
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("create table t (x)")
    (tmp_path / "other.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(28))
    (tmp_path / "notes.db").write_text("Not a database, whatever its name.\n")
    found = sorted(p.name for p in iter_raw_files([tmp_path]))
    assert found == ["notes.db", "page.txt"]
    # Named as an input, a database is read, and fails as what it is.
    assert [p.name for p in iter_raw_files([tmp_path / "other.db"])] == ["other.db"]

"""The clean/ folder follows the archive: files written after commit, queue kept on failure."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import cleanfiles
from archiver.cli import main
from archiver.pipeline import ingest


def _count(db: Path, sql: str) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _queued(db: Path) -> list[cleanfiles.OutboxEntry]:
    with closing(sqlite3.connect(db)) as conn:
        return cleanfiles.read_outbox(conn)


def _first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def test_a_clean_file_that_cannot_be_written_stops_the_run_and_loses_nothing(
    seeds_dir: Path, tmp_path: Path
) -> None:
    # Where each clean file goes, learned from a first archive; in the second run's clean
    # folder a folder stands in each one's place, which even root cannot replace.
    ingest([seeds_dir], db=tmp_path / "first.db", clean_dir=tmp_path / "first")
    clean = tmp_path / "clean"
    for name in [p.name for p in (tmp_path / "first").glob("*.txt")]:
        (clean / name).mkdir(parents=True)
    db = tmp_path / "archive.db"
    runner = CliRunner()
    failed = runner.invoke(
        main, ["ingest", str(seeds_dir), "--db", str(db), "--clean-dir", str(clean)]
    )
    assert failed.exit_code == 1
    assert "Traceback" not in failed.output
    assert f"clean folder {clean}" in failed.stderr
    # What was stored stays, and every clean file still to write is still queued.
    stored = _count(db, "select count(*) from articles")
    assert stored >= 1
    assert _count(db, "select count(*) from clean_outbox where action = 'write'") == stored

    for folder in clean.iterdir():
        folder.rmdir()
    again = runner.invoke(
        main, ["ingest", str(seeds_dir), "--db", str(db), "--clean-dir", str(clean)]
    )
    assert again.exit_code == 0, again.output
    assert len(list(clean.glob("*.txt"))) == 5
    assert _count(db, "select count(*) from clean_outbox") == 0


def test_only_the_files_written_leave_the_queue(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("update articles set title = title || ' (corrected)'")
    queued = _queued(db)
    assert [entry[3] for entry in queued] == ["write"] * 5
    # The third file cannot be written: a folder has taken its place.
    blocked = clean / queued[2][2]
    blocked.unlink()
    blocked.mkdir()

    files = cleanfiles.CleanFileWriter(str(db), clean)
    files.submit(queued)
    files.submit(queued)  # handed over twice: worked off once
    files.close()
    with pytest.raises(OSError):
        files.check()
    done = files.take_done()
    assert done == queued[:2]
    assert all(_first_line(clean / e[2]).endswith(" (corrected)") for e in queued[:2])
    assert not any(_first_line(clean / e[2]).endswith(" (corrected)") for e in queued[3:])
    assert _queued(db) == queued  # nothing leaves the queue until the writer forgets it

    with closing(sqlite3.connect(db)) as conn, conn:
        cleanfiles.forget_entries(conn, done)
    assert _queued(db) == queued[2:]


def test_a_file_an_article_still_names_is_never_removed(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    with closing(sqlite3.connect(db)) as conn, conn:
        article_id, name = conn.execute("select id, clean_path from articles limit 1").fetchone()
        removal = (1, article_id, name, "delete")
        cleanfiles.apply_entry(conn, clean, removal)
        assert (clean / name).exists()
        conn.execute("delete from articles where id = ?", [article_id])
        cleanfiles.apply_entry(conn, clean, removal)
        assert not (clean / name).exists()
    assert len(list(clean.glob("*.txt"))) == 4

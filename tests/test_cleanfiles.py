"""The clean/ folder follows the archive: files written after commit, queue kept on failure."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from archiver import cleanfiles
from archiver.cli import main
from archiver.pipeline import ingest


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


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
    # The articles are stored, and every clean file still to write is still queued.
    assert _count(db, "select count(*) from articles") == 5
    assert _count(db, "select count(*) from clean_outbox where action = 'write'") == 5

    for folder in clean.iterdir():
        folder.rmdir()
    again = runner.invoke(
        main, ["ingest", str(seeds_dir), "--db", str(db), "--clean-dir", str(clean)]
    )
    assert again.exit_code == 0, again.output
    assert "0 ingested, 5 unchanged" in again.stderr
    assert len(list(clean.glob("*.txt"))) == 5
    assert _count(db, "select count(*) from clean_outbox") == 0


def test_the_file_thread_works_the_queue_in_order_and_only_done_entries_leave_it(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    with sqlite3.connect(db) as conn:
        conn.execute("update articles set title = title || ' (corrected)'")
        gone, gone_path = conn.execute("select id, clean_path from articles limit 1").fetchone()
        conn.execute("delete from articles where id = ?", [gone])
    with sqlite3.connect(db) as conn:
        queued = cleanfiles.read_outbox(conn)
    # Five rewrites, then the removal of one of the files just rewritten.
    assert [entry[3] for entry in queued] == ["write"] * 5 + ["delete"]

    files = cleanfiles.CleanFileWriter(str(db), clean)
    files.submit(queued)
    files.submit(queued)  # handed over twice: worked off once
    files.close()
    files.check()
    done = files.take_done()
    assert sorted(done) == sorted(queued)
    assert _count(db, "select count(*) from clean_outbox") == 6  # still queued until forgotten
    titles = [p.read_text(encoding="utf-8").splitlines()[0] for p in clean.glob("*.txt")]
    assert len(titles) == 4 and all(t.endswith(" (corrected)") for t in titles)
    assert not (clean / gone_path).exists()

    with sqlite3.connect(db) as conn:
        cleanfiles.forget_entries(conn, done)
    assert _count(db, "select count(*) from clean_outbox") == 0

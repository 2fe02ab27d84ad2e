"""The clean/ folder follows the archive: files written after commit, queue kept on failure."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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

    for folder in clean.glob("*.txt"):  # the folders in the clean files' way
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


def test_a_clean_file_is_readable_by_others_as_any_new_file_is(tmp_path: Path) -> None:
    # Written by rename from a temporary file, it still gets the usual mode (0644 under
    # a umask of 022), not the owner-only mode of a temporary file.
    previous = os.umask(0o022)
    try:
        cleanfiles.write_atomic(tmp_path / "a.txt", "Title\n\nBody\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_writing_a_clean_file_makes_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "a.txt"
    cleanfiles.write_atomic(target, "Título\n\nCuerpo\n")
    assert target.read_text(encoding="utf-8") == "Título\n\nCuerpo\n"
    # With the marker that keeps a later `archiver ingest` from reading it as raw input.
    assert sorted(p.name for p in target.parent.iterdir()) == [".archiver-clean", "a.txt"]


def test_a_temporary_file_left_by_a_crashed_run_is_neither_written_into_nor_in_the_way(
    tmp_path: Path,
) -> None:
    # A crashed run with the same process id left temporaries under the very names the
    # next writes would take: each write takes another name and leaves them as they are.
    number = next(cleanfiles._TMP_NUMBERS)
    leftovers = [
        cleanfiles.temporary_name(tmp_path / "a.txt", os.getpid(), n)
        for n in range(number, number + 5)
    ]
    for leftover in leftovers:
        leftover.write_text("left by a crash")
    cleanfiles.write_atomic(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"
    assert all(leftover.read_text() == "left by a crash" for leftover in leftovers)


def test_a_temporary_file_of_another_running_ingest_is_left_to_it(
    seeds_dir: Path, tmp_path: Path
) -> None:
    # Reconciling clean/ (at the start and end of every ingest) removes what crashed
    # runs left, but not the file another ingest into the same folder is writing: that
    # run would then fail to rename it into place.
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    try:
        in_flight = cleanfiles.temporary_name(clean / "a.txt", running.pid, 0)
        stale = cleanfiles.temporary_name(clean / "b.txt", running.pid, 1)
        crashed = cleanfiles.temporary_name(clean / "c.txt", ended.pid, 0)
        # A shared folder: a process id of another machine says nothing here.
        elsewhere = cleanfiles.temporary_name(clean / "d.txt", ended.pid, 0, host="0badcafe")
        for path in (in_flight, stale, crashed, elsewhere):
            path.write_text("partial")
        two_hours_ago = time.time() - 7200
        os.utime(stale, (two_hours_ago, two_hours_ago))
        ingest([seeds_dir], db=db, clean_dir=clean)
        assert in_flight.read_text() == "partial" and elsewhere.read_text() == "partial"
        assert not stale.exists() and not crashed.exists()
    finally:
        running.kill()
        running.wait()
    os.utime(elsewhere, (two_hours_ago, two_hours_ago))
    ingest([seeds_dir], db=db, clean_dir=clean)
    assert not in_flight.exists() and not elsewhere.exists()
    assert len(list(clean.glob("*.txt"))) == 5


def test_a_clean_folder_new_to_the_archive_gets_every_article(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, first, second = tmp_path / "archive.db", tmp_path / "clean", tmp_path / "elsewhere"
    ingest([seeds_dir], db=db, clean_dir=first)
    summary = ingest([seeds_dir], db=db, clean_dir=second)
    assert summary.unchanged == 5
    # Nothing changed, yet the new folder holds the archive's clean files, as the first does.
    assert sorted(p.name for p in second.glob("*.txt")) == sorted(
        p.name for p in first.glob("*.txt")
    )
    assert len(list(second.glob("*.txt"))) == 5
    for path in second.glob("*.txt"):
        assert path.read_text(encoding="utf-8") == (first / path.name).read_text(encoding="utf-8")
    # A fill cut short (or files deleted by hand) is completed by the next run.
    gone = sorted(second.glob("*.txt"))[:2]
    for path in gone:
        path.unlink()
    ingest([seeds_dir], db=db, clean_dir=second)
    assert all(path.exists() for path in gone)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_a_clean_folder_of_another_archive_is_refused_and_left_as_it_was(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seeds = sorted(seeds_dir.glob("*.txt"))
    (tmp_path / "japan").mkdir()
    (tmp_path / "other").mkdir()
    for seed in seeds[:3]:
        seed.rename(tmp_path / "japan" / seed.name)
    for seed in seeds[3:]:
        seed.rename(tmp_path / "other" / seed.name)
    assert _cli("ingest", "japan", "--db", "japan.db").exit_code == 0
    before = sorted(p.name for p in (tmp_path / "clean").glob("*.txt"))
    assert len(before) == 3
    # With the default clean/ too, each archive would delete the other's files.
    refused = _cli("ingest", "other", "--db", "other.db")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: clean holds the clean files of another archive (japan.db): give this "
        "archive a --clean-dir of its own\n"
    )
    assert not (tmp_path / "other.db").exists()  # refused before the archive is made
    assert _cli("ingest", "other", "--db", "other.db", "--clean-dir", "c2").exit_code == 0
    refused = _cli("reprocess", "--db", "other.db")
    assert refused.exit_code == 1 and "another archive (japan.db)" in refused.stderr
    assert sorted(p.name for p in (tmp_path / "clean").glob("*.txt")) == before
    # Its own archive goes on using it; once that archive is gone, the folder is free.
    assert _cli("reprocess", "--db", "japan.db").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "clean").glob("*.txt")) == before
    (tmp_path / "japan.db").unlink()
    assert _cli("reprocess", "--db", "other.db").exit_code == 0
    assert len(list((tmp_path / "clean").glob("*.txt"))) == 2  # japan's files removed now


def test_an_archive_and_its_clean_folder_move_together(seeds_dir: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    seeds_dir.rename(project / "raw")
    db, clean = project / "archive.db", project / "clean"
    assert (
        _cli("ingest", str(project / "raw"), "--db", str(db), "--clean-dir", str(clean)).exit_code
        == 0
    )
    project.rename(tmp_path / "moved")
    moved = tmp_path / "moved"
    again = _cli(
        "reprocess", "--db", str(moved / "archive.db"), "--clean-dir", str(moved / "clean")
    )
    assert again.exit_code == 0, again.output
    assert "another archive" not in again.output


@pytest.mark.parametrize("clean_dir", ["raw", "raw/sub", "."])
def test_a_clean_folder_that_is_or_holds_the_input_is_refused(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_dir: str
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in seeds_dir.iterdir())
    refused = _cli("ingest", "raw/" if clean_dir != "raw/sub" else "raw", "--clean-dir", clean_dir)
    if clean_dir == "raw/sub":  # a clean folder inside the input is skipped, as always
        assert refused.exit_code == 0, refused.output
        assert "5 ingested" in refused.stderr
        return
    assert refused.exit_code == 1
    assert "give --clean-dir a folder of its own" in refused.stderr
    assert "Traceback" not in refused.output
    # Nothing written: no marker that would have every later ingest skip raw/.
    assert sorted(p.name for p in seeds_dir.iterdir()) == before
    assert not (tmp_path / "archive.db").exists()
    assert "5 ingested" in _cli("ingest", "raw").stderr


def test_a_clean_file_named_as_input_is_not_ingested(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _cli("ingest", "raw").exit_code == 0
    written = sorted((tmp_path / "clean").glob("*.txt"))[0]
    # In this archive's own clean folder: skipped, as the folder is.
    name = str(written.relative_to(tmp_path))
    own = _cli("ingest", name)
    assert own.exit_code == 0
    assert f"note: skipped {name}: in a folder of clean files archiver wrote" in own.stderr
    # In another archive's clean folder, named with another --clean-dir: skipped.
    other = _cli("ingest", str(written), "--db", "b.db", "--clean-dir", "clean-b")
    assert other.exit_code == 0
    assert f"note: skipped {written}: in a folder of clean files archiver wrote" in other.stderr
    assert _count(tmp_path / "b.db", "select count(*) from articles") == 0


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        (
            "Abe-Putin meeting set for Jan. 22 in Moscow",
            "abe-putin-meeting-set-for-jan-22-in-moscow",
        ),
        ("Café crème: Ångström über alles", "cafe-creme-angstrom-uber-alles"),
        ("Мастера вкуса: самый крутой", "мастера-вкуса-самый-крутой"),  # й stays й
        ("‘그녀말’ 남상미 연기", "그녀말-남상미-연기"),
        ("商品の改造が商標法違反に！？", "商品の改造が商標法違反に"),  # が stays が
        ("中" * 100, "中" * 60),  # no spaces: the one word is cut
        ("— — —", ""),
    ],
)
def test_a_clean_file_is_named_by_its_title_in_any_script(title: str, slug: str) -> None:
    assert cleanfiles.slugify(title) == slug
    # A name made from it is one this tool removes when its article goes.
    name = f"undated_{slug or 'untitled'}_0123456789ab.txt"
    assert cleanfiles._CLEAN_NAME.match(name)

"""The command line: ingest, clean, stats; bad input gives one clear line, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from archiver.cli import main

from .conftest import SEED_NAMES, seed_gold


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_command_has_help() -> None:
    for command in ([], ["ingest"], ["clean"], ["stats"]):
        result = _run(*command, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_ingest_prints_a_summary_and_is_idempotent(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean = str(tmp_path / "a.db"), str(tmp_path / "clean")
    first = _run("ingest", str(seeds_dir), "--db", db, "--clean-dir", clean)
    assert first.exit_code == 0
    assert "5 ingested, 0 unchanged, 0 failed" in first.stderr
    second = _run("ingest", str(seeds_dir), "--db", db, "--clean-dir", clean)
    assert "0 ingested, 5 unchanged, 0 failed" in second.stderr


def test_bad_inputs_fail_one_line_each_and_the_run_goes_on(seeds_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (bad / "cyrillic.txt").write_bytes(
        (
            "Министр иностранных дел России заявил журналистам, что переговоры продолжатся в следующем месяце.\n"
            * 3
        ).encode("cp1251")
    )
    with (bad / "huge.txt").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    db = tmp_path / "a.db"
    result = _run(
        "ingest",
        str(seeds_dir),
        str(bad),
        str(tmp_path / "missing.txt"),
        "--db",
        str(db),
        "--clean-dir",
        str(tmp_path / "c"),
    )
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(failures) == 4
    assert "Traceback" not in result.output
    with sqlite3.connect(db) as conn:
        failed = dict(
            conn.execute("select path, error from raw_files where status = 'failed'").fetchall()
        )
        stored = conn.execute(
            "select language, text from articles where raw_path like '%cyrillic%'"
        ).fetchone()
    assert failed[str(bad / "empty.txt")] == "empty file"
    assert "PNG" in failed[str(bad / "image.png")]
    assert "too large" in failed[str(bad / "huge.txt")]
    assert failed[str(tmp_path / "missing.txt")] == "no such file"
    assert stored[0] == "ru" and "Министр" in stored[1]
    assert (
        "5 ingested" not in result.stderr and "6 ingested, 0 unchanged, 4 failed" in result.stderr
    )


def test_clean_json_gives_the_benchmark_fields(seeds_dir: Path) -> None:
    paths = [str(p) for p in sorted(seeds_dir.glob("*.txt"))]
    result = _run("clean", "--json", *paths)
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["path"] for o in objects] == paths
    for obj, name in zip(objects, SEED_NAMES, strict=True):
        gold = seed_gold(name)
        assert {
            "path",
            "title",
            "published",
            "source",
            "dateline",
            "author",
            "language",
            "text",
            "removed",
        } <= set(obj)
        assert obj["title"] == gold["title"] and obj["title"] not in obj["text"]
        assert all({"line", "text", "reason"} <= set(r) for r in obj["removed"])
        assert {r["stage"] for r in obj["removed"]} == {"text"}  # dumps have no HTML stage


def test_clean_prints_plain_text_and_reports_bad_files(seeds_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    path = sorted(seeds_dir.glob("*.txt"))[1]
    result = _run("clean", str(path), str(tmp_path / "empty.txt"))
    assert result.exit_code == 1
    assert "TOKYO (Sputnik)" in result.stdout
    assert f"failed: {tmp_path / 'empty.txt'}: empty file" in result.stderr


def test_stats_counts_sources_languages_and_reasons(seeds_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    _run("ingest", str(seeds_dir), "--db", db, "--clean-dir", str(tmp_path / "c"))
    result = _run("stats", "--db", db)
    assert result.exit_code == 0
    assert "articles by source:" in result.stdout and "Sputnik" in result.stdout
    assert "removed lines by reason:" in result.stdout and "title" in result.stdout


def test_stats_without_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no archive at" in result.output and "Traceback" not in result.output

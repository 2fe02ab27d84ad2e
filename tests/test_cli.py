"""The command line: ingest, clean, stats; bad input gives one clear line, never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archiver.cli import main

from .conftest import SEED_NAMES, run_on_a_terminal, seed_gold, signal_at_call
from .corpus import write_corpus


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
    one = sorted(seeds_dir.glob("*.txt"))[0]
    single = _run("ingest", str(one), "--db", str(tmp_path / "one.db"), "--clean-dir", clean + "1")
    assert single.stderr.endswith("1 ingested, 0 unchanged, 0 failed (1 article stored)\n")


def test_ingest_of_the_folder_holding_the_archive_skips_the_archive_and_its_clean_files(
    seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeds_dir)  # `archiver ingest .` where the raw files are
    first = _run("ingest", ".", "--db", "archive.db", "--clean-dir", "clean")
    assert first.exit_code == 0, first.stderr
    assert "5 ingested, 0 unchanged, 0 failed" in first.stderr
    assert len(list(Path("clean").glob("*.txt"))) == 5
    # Run again, now with the database, its log and five clean files in the folder, and
    # with the shell's spelling of every name: only the five raw files are inputs.
    names = sorted(p.name for p in Path(".").iterdir())
    assert {"archive.db", "clean"} <= set(names)
    again = _run("ingest", *names, "--db", "./archive.db", "--clean-dir", "clean/")
    assert again.exit_code == 0, again.stderr
    assert "0 ingested, 5 unchanged, 0 failed" in again.stderr
    own = [name for name in names if name == "clean" or name.startswith("archive.db")]
    for name in own:
        assert f"note: skipped {name}: the archive's own output" in again.stderr
    assert "failed:" not in again.stderr
    with sqlite3.connect("archive.db") as conn:
        assert conn.execute("select count(*) from raw_files").fetchone() == (5,)


def test_a_clean_folder_used_before_or_by_another_archive_is_no_raw_input(
    seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeds_dir)
    assert _run("ingest", ".", "--db", "archive.db", "--clean-dir", "clean").exit_code == 0
    # The same archive with another clean folder, and another archive's, beside the raw files.
    assert _run("ingest", ".", "--db", "archive.db", "--clean-dir", "clean2").exit_code == 0
    pages = sorted(str(p) for p in Path(".").glob("*.txt"))
    other = _run("ingest", *pages, "--db", "../other.db", "--clean-dir", "other-clean")
    assert other.exit_code == 0, other.stderr
    for folder in ("clean", "clean2", "other-clean"):
        assert len(list(Path(folder).glob("*.txt"))) == 5
    again = _run("ingest", ".", "--db", "archive.db")
    assert again.exit_code == 0, again.stderr
    assert again.stderr.endswith("0 ingested, 5 unchanged, 0 failed (0 articles stored)\n")
    with sqlite3.connect("archive.db") as conn:
        assert conn.execute("select count(*) from articles").fetchone() == (5,)
    named = _run("ingest", "clean2", "--db", "archive.db")
    assert "note: skipped clean2: a folder of clean files archiver wrote" in named.stderr


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


def test_clean_reads_a_page_piped_in(seeds_dir: Path) -> None:
    seed = sorted(seeds_dir.glob("*.txt"))[1]
    piped = CliRunner().invoke(main, ["clean", "-"], input=seed.read_bytes())
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == _run("clean", str(seed)).stdout
    empty = CliRunner().invoke(main, ["clean", "-"], input=b"")
    assert empty.exit_code == 1 and empty.stderr == "failed: -: empty file\n"


def test_clean_of_several_files_heads_each_body_with_its_file(seeds_dir: Path) -> None:
    first, second = (str(p) for p in sorted(seeds_dir.glob("*.txt"))[:2])
    alone = _run("clean", second)
    assert alone.exit_code == 0 and not alone.stdout.startswith("==>")
    both = _run("clean", first, second)
    assert both.exit_code == 0
    assert [line for line in both.stdout.splitlines() if line.startswith("==>")] == [
        f"==> {first} <==",
        f"==> {second} <==",
    ]
    # The second file's body is printed under its header, as it is alone.
    assert both.stdout.split(f"==> {second} <==\n", 1)[1] == alone.stdout


def test_stats_counts_sources_languages_and_reasons(seeds_dir: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    _run("ingest", str(seeds_dir), "--db", db, "--clean-dir", str(tmp_path / "c"))
    result = _run("stats", "--db", db)
    assert result.exit_code == 0
    assert "articles by source:" in result.stdout and "Sputnik" in result.stdout
    totals = result.stdout.split("articles by source:")[0].split()
    assert totals[:3] == ["archive:", "5", "articles"] and "stories" in totals
    assert "removed lines by reason:" in result.stdout and "title" in result.stdout


def test_stats_without_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no archive at" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["stats", "reprocess", "ingest", "fetch"])
@pytest.mark.parametrize("kind", ["not-sqlite", "another-database", "same-table-names"])
def test_a_database_that_is_no_archive_is_refused_and_left_as_it_was(
    tmp_path: Path, command: str, kind: str
) -> None:
    db = tmp_path / "mine.db"
    if kind == "not-sqlite":
        db.write_text("name,amount\nrent,900\n")
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("create table budget (name text, amount int)")
            if kind == "same-table-names":  # another program's tables, named like ours
                conn.execute("create table articles (id integer primary key, name text)")
                conn.execute("create table removed_lines (note text)")
                conn.execute("create table raw_files (path text)")
    before = db.read_bytes()
    raw = tmp_path / "in"
    write_corpus(raw, 2)
    arguments = {
        "stats": ["stats"],
        "reprocess": ["reprocess", "--clean-dir", str(tmp_path / "clean")],
        "ingest": ["ingest", str(raw), "--clean-dir", str(tmp_path / "clean")],
        # Refused before any request: nothing listens on the discard port.
        "fetch": ["fetch", "http://127.0.0.1:9/page", "--out", str(tmp_path / "warc")],
    }[command]
    result = CliRunner().invoke(main, [*arguments, "--db", str(db)])
    assert result.exit_code == 1, result.output
    said = {
        "not-sqlite": "file is not a database",
        "another-database": "not an archive (",
        "same-table-names": "not an archive (its articles table has no column raw_path",
    }[kind]
    assert result.stderr.startswith("Error: ") and str(db) in result.stderr, result.stderr
    assert said in result.stderr, result.stderr
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
    # A mistyped --db must not gain an archive's tables, nor a write-ahead log.
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "mine.db"]


def test_an_empty_database_file_becomes_an_archive(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    sqlite3.connect(db).close()  # a file made ahead, with no tables
    write_corpus(tmp_path / "raw", 2)
    arguments = ["ingest", str(tmp_path / "raw"), "--db", str(db)]
    result = CliRunner().invoke(main, [*arguments, "--clean-dir", str(tmp_path / "clean")])
    assert result.exit_code == 0, result.output
    stats = CliRunner().invoke(main, ["stats", "--db", str(db)])
    assert stats.exit_code == 0 and "raw files by status:\n        2  ok" in stats.output


RATE_AND_ETA = re.compile(r"\d+/40 .*?\d+\.\d files/s  ETA \d\d:\d\d:\d\d")


@pytest.mark.parametrize("mode", ["local", "dask"])
def test_ingest_shows_its_rate_and_time_left_on_a_terminal(tmp_path: Path, mode: str) -> None:
    write_corpus(tmp_path / "raw", 40, copy_every=8)
    command = [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
               "--clean-dir", "clean", "--workers", "1"]  # fmt: skip
    if mode == "dask":
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None,
        ) as cluster:  # fmt: skip
            code, shown = run_on_a_terminal(
                [*command, "--scheduler", cluster.scheduler_address], tmp_path
            )
    else:
        code, shown = run_on_a_terminal(command, tmp_path)
    assert code == 0, shown[-2000:]
    assert "ingesting" in shown and "40/40" in shown
    assert RATE_AND_ETA.search(shown), shown[-2000:]
    assert not re.search(r"\b0/40 [^\r]*files/s", shown)  # no rate before a file is done
    assert "40 ingested, 0 unchanged, 0 failed" in shown
    # Piped, as in a script or a log, there is no bar to redraw.
    piped = _run("ingest", str(tmp_path / "raw"), "--db", str(tmp_path / "b.db"),
                 "--clean-dir", str(tmp_path / "c2"), "--workers", "1")  # fmt: skip
    assert "40 ingested" in piped.stderr
    assert "ingesting" not in piped.stderr and "files/s" not in piped.stderr


def _greet_each_connection(server: socket.socket) -> None:
    """Answer every connection with an SSH server's greeting, until the socket closes."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # the test closed the server
            return
        # A client that hangs up at once (the check that something listens) ends only
        # its own connection, not the greetings to the next.
        with conn, contextlib.suppress(OSError):
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n")
            conn.recv(1024)


def test_ctrl_c_stops_an_ingest_waiting_for_a_scheduler_at_once(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(60)
        run = subprocess.Popen(
            [sys.executable, "-m", "archiver", "ingest", "raw", "--scheduler",
             f"tcp://127.0.0.1:{silent.getsockname()[1]}"],
            cwd=tmp_path, stderr=subprocess.PIPE, text=True,
            # As a terminal's Ctrl-C reaches it (a shell's background job ignores SIGINT).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
        try:
            conn, _ = silent.accept()  # connected: now waiting for a handshake
            with conn:
                run.send_signal(signal.SIGINT)
                # Dask's connect timeout and the handshake's allowance are 40 s together.
                stderr = run.communicate(timeout=20)[1]
        finally:
            run.kill()
    assert run.returncode == 130, stderr
    assert stderr.startswith("interrupted: 0 ingested"), stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("tcp://127.0.0.1:{port}", "nothing listens at 127.0.0.1:{port} (connection refused)"),
        ("no-port-here", "missing port number"),
        ("tcp://127.0.0.1:{silent_port}", "no answer as a Dask scheduler within 3 s"),
        ("tcp://127.0.0.1:{banner_port}", "what answers is not a Dask scheduler"),
        ("tls://127.0.0.1:{port}", "TLS"),
    ],
    ids=[
        "nothing-listening",
        "malformed",
        "silent",
        "another-protocol",
        "tls-without-certificates",
    ],
)
def test_ingest_with_a_scheduler_it_cannot_reach_says_so_and_keeps_the_archive(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str, reason: str
) -> None:
    pytest.importorskip("distributed")  # first: it adds its settings to dask.config
    import dask

    from archiver import cluster

    db, clean = str(tmp_path / "a.db"), str(tmp_path / "clean")
    assert _run("ingest", str(seeds_dir), "--db", db, "--clean-dir", clean).exit_code == 0
    write_corpus(tmp_path / "raw", 4)
    with socket.socket() as probe:  # a port nothing listens on once this is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # A port that takes connections and never answers, as a frozen scheduler or another
    # server (the dashboard's) does: Dask alone would wait for its handshake for ever.
    # And a server of another protocol that speaks first, as SSH does.
    monkeypatch.setattr(cluster, "HANDSHAKE_SECONDS", 1)
    monkeypatch.setattr(cluster, "WAIT_NOTE_SECONDS", 0.5)
    # A silent server is waited on; nothing listening is said at once.
    waits = address.startswith("tcp://127.0.0.1:{silent_port}")
    with socket.socket() as silent, socket.socket() as banner:
        for server in (silent, banner):
            server.bind(("127.0.0.1", 0))
            server.listen()
        threading.Thread(target=_greet_each_connection, args=(banner,), daemon=True).start()
        ports = {"silent_port": silent.getsockname()[1], "banner_port": banner.getsockname()[1]}
        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
            result = CliRunner().invoke(
                main,
                ["ingest", str(tmp_path / "raw"), "--db", db, "--clean-dir", clean,
                 "--scheduler", address.format(port=port, **ports)],
            )  # fmt: skip
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    if waits:
        assert lines[0] == (
            f"note: waiting for the Dask scheduler {address.format(port=port, **ports)} to "
            "answer, for up to 3 s"
        )
        lines = lines[1:]
    assert "Traceback" not in result.output and len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot connect to the Dask scheduler"), result.stderr
    assert reason.format(port=port) in lines[0]
    assert "cannot write the archive" not in result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from articles").fetchone() == (5,)
    assert len(list(Path(clean).glob("*.txt"))) == 5


def test_workers_given_with_a_scheduler_are_said_not_to_apply(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 2)
    result = CliRunner().invoke(
        main,
        ["ingest", str(tmp_path / "raw"), "--db", str(tmp_path / "a.db"), "--workers", "4",
         "--clean-dir", str(tmp_path / "clean"), "--scheduler", "no-port-here"],
    )  # fmt: skip
    assert result.stderr.startswith("note: --workers does not apply with --scheduler")


# Two failed runs in one process, their results kept (as a test harness or a notebook
# keeps the last error), then the process ends.
TWO_FAILED_RUNS = """
import gc
gc.disable()  # as when no collection happens to run in between: the client's close is left to exit
from click.testing import CliRunner
from archiver.cli import main
kept = [
    CliRunner().invoke(main, ["ingest", "raw", "--db", "a.db", "--scheduler", "no-port-here"])
    for _ in range(2)
]
print([result.exit_code for result in kept])
"""


def test_a_failed_connection_leaves_no_client_open_to_stall_the_exit(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 2)
    done = subprocess.run(
        [sys.executable, "-c", TWO_FAILED_RUNS], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "[1, 1]", done.stderr[-2000:]
    # A half-made client left open is closed at exit by the garbage collector, which then
    # waits a minute for Dask's stopped event loop and prints a TimeoutError.
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr


# Loaded by each Dask worker before anything else: the worker then cannot import archiver,
# as on a cluster where it was never installed.
WITHOUT_MODULE = """
import sys
import threading

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "{module}" or name.startswith("{module}."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Hide())
"""


# Without archiver, a worker cannot even load the warm-up; without one of its dependencies,
# the warm-up fails on the worker.
@pytest.mark.parametrize("module", ["archiver", "trafilatura"])
def test_ingest_on_workers_without_archiver_says_to_install_it(tmp_path: Path, module: str) -> None:
    distributed = pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 4)
    preload = tmp_path / "without_module.py"
    preload.write_text(WITHOUT_MODULE.format(module=module), encoding="utf-8")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, preload=[str(preload)],
    ) as cluster:  # fmt: skip
        result = CliRunner().invoke(
            main,
            ["ingest", str(tmp_path / "raw"), "--db", str(tmp_path / "a.db"),
             "--clean-dir", str(tmp_path / "clean"), "--scheduler", cluster.scheduler_address],
        )  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: the Dask workers cannot run archiver")
    assert f"No module named '{module}'" in result.stderr and "install it" in result.stderr


@pytest.fixture
def empty_cluster(tmp_path: Path) -> Iterator[Any]:
    """A local Dask cluster with no worker yet, and six raw files in tmp_path/raw."""
    distributed = pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 6, copy_every=3)
    with distributed.LocalCluster(
        n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        yield cluster


def test_ingest_on_a_scheduler_without_workers_says_so_and_goes_on_when_one_joins(
    tmp_path: Path, empty_cluster: Any
) -> None:
    address = empty_cluster.scheduler_address
    run = subprocess.Popen(
        [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
         "--clean-dir", "clean", "--scheduler", address],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert run.stderr is not None
        # At once, before any file is done: without it the run would look hung.
        assert run.stderr.readline() == (
            f"note: the Dask scheduler {address} has no workers: the files wait for one "
            f"to join (dask worker {address})\n"
        )
        assert run.poll() is None and _articles(tmp_path / "a.db") == 0
        empty_cluster.scale(1)
        rest = run.communicate(timeout=120)[1]
    finally:
        run.kill()
    assert run.returncode == 0, rest
    assert rest.startswith("6 ingested, 0 unchanged, 0 failed"), rest
    assert _articles(tmp_path / "a.db") == 6


def test_a_note_on_a_terminal_starts_its_own_line_above_the_progress_bar(
    tmp_path: Path, empty_cluster: Any
) -> None:
    joins = threading.Timer(3, empty_cluster.scale, args=(1,))
    joins.start()
    try:
        code, shown = run_on_a_terminal(
            [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
             "--scheduler", empty_cluster.scheduler_address],
            tmp_path,
        )  # fmt: skip
    finally:
        joins.join()
    assert code == 0, shown[-2000:]
    assert shown.count("note: the Dask scheduler") == 1, shown
    # Drawn over the bar's line (cleared first), never glued to its end ("0/6note: ...").
    assert re.search(r"(^|\n|\r\x1b\[K)note: the Dask scheduler", shown), shown
    assert "6 ingested, 0 unchanged, 0 failed" in shown


# A cluster in a process group of its own, so that the test can kill it outright.
CLUSTER = """
import sys, time
from distributed import LocalCluster
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       host="127.0.0.1", dashboard_address=None)
print(cluster.scheduler_address, flush=True)
time.sleep(600)
"""


def test_a_scheduler_lost_during_ingest_stops_it_with_what_was_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    write_corpus(tmp_path / "raw", 3000, copy_every=50)
    cluster = subprocess.Popen(
        [sys.executable, "-c", CLUSTER], stdout=subprocess.PIPE, text=True,
        start_new_session=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert cluster.stdout is not None
        address = cluster.stdout.readline().strip()
        assert address.startswith("tcp://"), address
        command = [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
                   "--clean-dir", "clean", "--scheduler", address]  # fmt: skip
        run = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while _articles(tmp_path / "a.db") == 0:  # until the first batch is committed
                assert run.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        except BaseException:
            run.kill()
            run.communicate()
            raise
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 1
    assert "Traceback" not in stderr, stderr[-3000:]
    assert f"Error: lost the connection to the Dask scheduler {address}" in stderr
    assert len(stderr.splitlines()) == 2, stderr  # what was stored, and the error
    stopped = re.search(r"stopped: (\d+) ingested, 0 unchanged, 0 failed .*run again", stderr)
    assert stopped, stderr[-3000:]
    # What the run said it stored is stored, with its clean files; the rest is not lost
    # either: a run again (here with local workers) takes up from there.
    stored = int(stopped.group(1))
    assert 0 < stored < 3000
    assert _articles(tmp_path / "a.db") == stored
    assert len(list((tmp_path / "clean").glob("*.txt"))) == stored
    monkeypatch.chdir(tmp_path)  # the same relative paths, so the same files
    again = _run("ingest", "raw", "--db", "a.db", "--clean-dir", "clean", "--workers", "1")
    assert f"{3000 - stored} ingested, {stored} unchanged, 0 failed" in again.stderr


def _articles(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            return int(conn.execute("select count(*) from articles").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not made yet
            return 0


# Stands for a Ctrl-C that comes while the command line's modules are being imported.
INTERRUPTED_IMPORT = """
import sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "archiver.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupting())
sys.argv = ["archiver", "stats"]
from archiver.__main__ import run
run()
"""


def test_ctrl_c_while_the_command_starts_ends_it_quietly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_IMPORT], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert done.stderr == "Aborted!\n"


def test_the_package_gives_its_functions_without_loading_them_up_front() -> None:
    check = (
        "import sys, archiver; loaded = 'archiver.pipeline' in sys.modules; "
        "text = archiver.clean(b'The ferry sailed at dawn with forty people on board. ' * 3).text; "
        "print(loaded, 'ferry sailed at dawn' in text, archiver.store.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Its submodules are reached as attributes, as when the package imported them all.
    assert done.stdout.split() == ["False", "True", "archiver.store"]


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])
def test_kill_stops_an_ingest_as_ctrl_c_does(tmp_path: Path, stop: str) -> None:
    write_corpus(tmp_path / "raw", 600, copy_every=50)
    command = [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
               "--clean-dir", "clean", "--workers", "2"]  # fmt: skip
    run = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _articles(tmp_path / "a.db") == 0 and run.poll() is None:
            assert time.monotonic() < deadline, "nothing stored after 60 s"
            time.sleep(0.05)
        run.send_signal(getattr(signal, stop))  # `kill PID`, or the terminal closed
        stderr = run.communicate(timeout=60)[1]
    finally:
        run.kill()
    if "600 ingested" in stderr:
        pytest.skip("the run ended before the signal came")
    # As a shell says a command ended by a signal: 128 + its number (143 for kill's TERM).
    assert run.returncode == 128 + getattr(signal, stop), stderr
    said = re.search(r"^interrupted: (\d+) ingested, 0 unchanged, 0 failed", stderr, re.M)
    assert said, stderr
    # No traceback, and no warning of semaphores left behind by workers never stopped.
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("select count(*) from raw_files").fetchone() == (int(said[1]),)
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert f"{600 - int(said[1])} ingested, {said[1]} unchanged, 0 failed" in again.stderr


def _stored_and_said(tmp_path: Path, result: Any) -> tuple[int, int]:
    """Files the archive holds after an interrupted ingest, and how many the run said."""
    said = re.search(r"^interrupted: (\d+) ingested", result.output, re.M)
    assert said, result.output
    with sqlite3.connect(tmp_path / "a.db") as conn:
        stored = conn.execute("select count(*) from raw_files").fetchone()[0]
    return stored, int(said[1])


def _ingest_in_process(tmp_path: Path) -> Any:
    return CliRunner().invoke(
        main, ["ingest", str(tmp_path / "raw"), "--db", str(tmp_path / "a.db"),
               "--clean-dir", str(tmp_path / "clean"), "--workers", "1"],
    )  # fmt: skip


def test_ctrl_c_between_two_files_commits_what_the_summary_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C that lands while a stored file is reported (not while it is stored) still
    commits the batch the file is in before the run says it was stored."""
    from archiver import cli

    write_corpus(tmp_path / "raw", 300, copy_every=50)
    signal_at_call(monkeypatch, cli, "_report", signal.SIGINT)
    result = _ingest_in_process(tmp_path)
    assert result.exit_code == 130, result.output
    assert _stored_and_said(tmp_path, result) == (250, 250)


def test_kill_while_a_file_is_stored_with_ctrl_c_ignored_keeps_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nohup archiver ingest raw/ &` ignores Ctrl-C; `kill` while a file is stored still
    stores it whole, commits the batch and says what was stored."""
    from archiver import store

    write_corpus(tmp_path / "raw", 300, copy_every=50)
    signal_at_call(monkeypatch, store, "save_articles", signal.SIGTERM)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts `cmd &`
    try:
        result = _ingest_in_process(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert _stored_and_said(tmp_path, result) == (250, 250)


def test_a_folder_without_files_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    (tmp_path / "empty" / ".git" / "HEAD").write_text("ref: main\n")
    result = CliRunner().invoke(
        main, ["ingest", str(tmp_path / "empty"), "--db", str(tmp_path / "a.db"),
               "--clean-dir", str(tmp_path / "clean")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: no files to ingest in the paths given (hidden files and folders, and the "
        "archive's own, are skipped)",
        "0 ingested, 0 unchanged, 0 failed (0 articles stored)",
    ]


def test_a_run_started_with_nohup_outlives_its_terminal(tmp_path: Path) -> None:
    write_corpus(tmp_path / "raw", 300, copy_every=50)
    command = [sys.executable, "-m", "archiver", "ingest", "raw", "--db", "a.db",
               "--clean-dir", "clean", "--workers", "2"]  # fmt: skip
    run = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),  # as nohup does
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _articles(tmp_path / "a.db") == 0 and run.poll() is None:
            assert time.monotonic() < deadline, "nothing stored after 60 s"
            time.sleep(0.05)
        run.send_signal(signal.SIGHUP)  # the terminal closed
        stderr = run.communicate(timeout=120)[1]
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    assert stderr.endswith("300 ingested, 0 unchanged, 0 failed (300 articles stored)\n"), stderr


def test_reprocess_from_another_folder_says_where_to_run_it(
    seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeds_dir.parent)
    assert _run("ingest", "raw", "--db", "archive.db", "--clean-dir", "clean").exit_code == 0
    seeds_dir.rename(seeds_dir.parent / "raw-moved")
    result = _run("reprocess", "--db", "archive.db", "--clean-dir", "clean")
    assert result.exit_code == 0, result.stderr
    assert "5 files kept as stored (5 missing from disk" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "note: none of the raw files is where and as the archive says: paths are stored as "
        "given, so run reprocess from the folder they were ingested from"
    )


def test_reprocess_from_another_projects_folder_loses_no_article(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = sorted(seeds_dir.glob("*.txt"))
    for project, files in (("a", seeds[:2]), ("b", seeds[2:3])):
        (tmp_path / project / "raw").mkdir(parents=True)
        for name, seed in zip(("one.txt", "two.txt"), files, strict=False):
            (tmp_path / project / "raw" / name).write_bytes(seed.read_bytes())
    monkeypatch.chdir(tmp_path / "a")
    assert _run("ingest", "raw").exit_code == 0
    db, clean = tmp_path / "a" / "archive.db", tmp_path / "a" / "clean"
    before = _titles(db)
    clean_files = sorted(p.name for p in clean.glob("*.txt"))
    # From project b's folder, raw/one.txt is b's own file and raw/two.txt is missing.
    monkeypatch.chdir(tmp_path / "b")
    result = _run("reprocess", "--db", str(db), "--clean-dir", str(clean))
    assert result.exit_code == 0, result.stderr
    assert "kept as stored: raw/one.txt: changed on disk since it was ingested" in result.stderr
    assert "0 new, 0 dropped; 2 files kept as stored" in result.stderr
    assert "run reprocess from the folder they were ingested from" in result.stderr
    assert _titles(db) == before
    assert sorted(p.name for p in clean.glob("*.txt")) == clean_files
    # Ingest, asked for that file, takes it as it reads now.
    assert _run("ingest", "raw/one.txt", "--db", str(db), "--clean-dir", str(clean)).exit_code == 0
    assert _titles(db) != before


def _titles(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select raw_path, title from articles order by raw_path").fetchall()


@pytest.mark.parametrize(
    "arguments",
    [["ingest", ""], ["ingest", "raw", "--db", ""], ["ingest", "raw", "--clean-dir", ""],
     ["reprocess", "--db", ""], ["fetch", "https://example.org/", "--out", ""]],
)  # fmt: skip
def test_an_empty_path_is_refused_not_taken_for_this_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "notes.txt").write_text("My own notes, not a page to archive.\n" * 20)
    result = _run(*arguments)
    assert result.exit_code == 2
    assert "an empty path names no file or folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "raw"]


def test_a_huge_size_limit_reads_files_as_any_limit_does(seeds_dir: Path, tmp_path: Path) -> None:
    result = _run("ingest", str(seeds_dir), "--db", str(tmp_path / "a.db"),
                  "--clean-dir", str(tmp_path / "c"), "--max-bytes", str(2**63))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "5 ingested, 0 unchanged, 0 failed" in result.stderr


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a folder, the same folder mounted read-only): root ignores file modes, not mounts."""
    source, view = tmp_path / "archive-folder", tmp_path / "read-only"
    source.mkdir()
    view.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(source), str(view)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only view here: {mounted.stderr.strip()}")
    try:
        yield source, view
    finally:
        subprocess.run(["umount", "--lazy", str(view)], check=False)


def test_stats_reads_an_archive_in_a_read_only_folder(
    seeds_dir: Path, read_only_view: tuple[Path, Path]
) -> None:
    source, view = read_only_view
    assert _run("ingest", str(seeds_dir), "--db", str(source / "archive.db"),
                "--clean-dir", str(source / "clean")).exit_code == 0  # fmt: skip
    result = _run("stats", "--db", str(view / "archive.db"))
    assert result.exit_code == 0, result.output
    assert "Sputnik" in result.stdout
    # While another process writes it elsewhere, its committed changes are read too.
    writer = sqlite3.connect(source / "archive.db")
    try:
        writer.execute("pragma wal_autocheckpoint = 0")
        with writer:
            writer.execute("update articles set source = 'Changed' where source = 'TASS'")
        during = _run("stats", "--db", str(view / "archive.db"))
    finally:
        writer.close()
    assert during.exit_code == 0, during.output
    assert "Changed" in during.stdout and "TASS" not in during.stdout


def test_a_mistyped_path_alone_makes_no_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run("ingest", "raww/")
    assert result.exit_code == 1
    assert result.stderr == "Error: no such file or folder: raww/\n"
    assert list(tmp_path.iterdir()) == []  # no archive.db with a failed row for ever


def test_the_same_files_named_another_way_are_said(
    seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(seeds_dir.parent)
    first = _run("ingest", "raw")
    assert "byte-identical" not in first.stderr
    again = _run("ingest", str(seeds_dir.resolve()))  # the same folder, by its full path
    assert again.exit_code == 0
    assert (
        "note: 5 files are byte-identical to files the archive holds under other paths"
        in again.stderr
    )

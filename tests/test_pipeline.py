"""The pipeline under stress: parallel and distributed workers, concurrent ingests, SIGKILL."""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver import reprocessing
from archiver.cli import main
from archiver.models import EXTRACTOR_VERSION, Article, RemovedLine
from archiver.pipeline import ingest, iter_ingest
from archiver.workers import WORKER_NICENESS, map_ordered, start_fork_server

from .conftest import signal_at_call
from .corpus import write_corpus

ROOT = Path(__file__).resolve().parent.parent


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """What a user would compare: articles, their links and removed lines, raw file statuses."""
    with sqlite3.connect(db) as conn:
        return {
            "articles": conn.execute(
                "select id, raw_path, title, text, published, duplicate_of, clean_path from articles order by id"
            ).fetchall(),
            "removed": conn.execute(
                "select article_id, stage, line_no, text, reason from removed_lines order by 1, 2, 3"
            ).fetchall(),
            "files": conn.execute(
                "select path, sha256, status from raw_files order by path"
            ).fetchall(),
        }


def stories(db: Path) -> set[frozenset[str]]:
    """The archive's stories, each as the set of its articles' ids (the canonical's included)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select id, coalesce(duplicate_of, id) from articles").fetchall()
    groups: dict[str, set[str]] = {}
    for article_id, root in rows:
        groups.setdefault(root, set()).add(article_id)
    return {frozenset(group) for group in groups.values()}


def story_paths(db: Path) -> set[frozenset[str]]:
    """The archive's stories, each as the set of its articles' raw paths."""
    with sqlite3.connect(db) as conn:
        paths = dict(conn.execute("select id, raw_path from articles"))
    return {frozenset(paths[i] for i in story) for story in stories(db)}


def removed_by_path(db: Path) -> list[tuple]:
    """Every removed line, with its article's raw path instead of its id."""
    with sqlite3.connect(db) as conn:
        return sorted(
            conn.execute(
                """select a.raw_path, r.stage, r.line_no, r.text, r.reason
                   from removed_lines r join articles a on a.id = r.article_id"""
            )
        )


def unjustified_canonicals(db: Path) -> list[str]:
    """Canonical articles that a copy beats: published earlier, or as early and longer."""
    with sqlite3.connect(db) as conn:
        return [
            row[0]
            for row in conn.execute(
                """select c.id from articles c join articles d on d.duplicate_of = c.id
                   where (d.published is not null and c.published is null)
                      or d.published < c.published
                      or (d.published is c.published and d.word_count > c.word_count)"""
            )
        ]


def check_consistent(db: Path, clean: Path) -> None:
    """Integrity ok, and clean/ holds exactly one file per article with its text."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = dict(conn.execute("select clean_path, text from articles").fetchall())
    files = {p.name for p in clean.glob("*.txt")}
    assert files == set(rows)
    for name in random.Random(0).sample(sorted(rows), min(20, len(rows))):
        assert (clean / name).read_text(encoding="utf-8").split("\n", 2)[2] == rows[name] + "\n"
    assert not list(clean.glob(".tmp-*"))


def test_two_workers_store_what_one_worker_stores(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, 60, copy_every=7)
    ingest([raw], db=tmp_path / "one.db", clean_dir=tmp_path / "c1", workers=1)
    ingest([raw], db=tmp_path / "two.db", clean_dir=tmp_path / "c2", workers=2)
    one, two = snapshot(tmp_path / "one.db"), snapshot(tmp_path / "two.db")
    assert one == two
    assert sum(1 for a in one["articles"] if a[5]) == 8  # the copies are linked
    check_consistent(tmp_path / "two.db", tmp_path / "c2")


@pytest.mark.parametrize(
    "removed", [(), ((4, "Home News Sport", "nav", "text"), (9, "<nav>", "html-nav", "html"))]
)
def test_an_article_reaches_the_writer_whole(removed: tuple) -> None:
    """Workers send articles pickled (removed lines as columns): nothing may change."""
    article = Article(
        "a1", "raw/x.txt", "ab", "Title", "Body.", None, "Src", None, None, "en",
        tuple(RemovedLine(*line) for line in removed), url="https://x.test/a", body_lines=(2,),
    )  # fmt: skip
    back = pickle.loads(pickle.dumps(article))
    assert back == article
    assert [(r.line_no, r.text, r.reason, r.stage) for r in back.removed] == list(removed)


def square_or_die(number: int) -> int:
    """A task for the pool: 13 kills the worker process that runs it, as the OOM killer would."""
    if number == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    return number * number


def test_a_task_that_kills_its_worker_costs_that_task_only() -> None:
    tasks = [(n,) for n in range(80)]
    results = list(map_ordered(square_or_die, tasks, workers=2, on_crash=lambda n: -n))
    assert results == [-13 if n == 13 else n * n for n in range(80)]


def square_or_fail(number: int) -> int:
    """A task for the pool: 5 raises an error of its own, as a bug would."""
    if number == 5:
        raise ValueError("five")
    return number * number


def test_a_task_error_comes_in_its_turn_after_the_results_before_it() -> None:
    # The pool sends tasks in chunks: an error must neither lose the results of the
    # tasks before it in the same chunk nor come before them.
    found = map_ordered(square_or_fail, [(n,) for n in range(40)], workers=2)
    assert [next(found) for _ in range(5)] == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError, match="five") as raised:
        next(found)
    # The worker's traceback comes along, as the cause, naming where the error was raised.
    assert "square_or_fail" in str(raised.value.__cause__)


def niceness(_: int) -> int:
    """A task for the pool: the priority of the process that runs it."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def test_pool_workers_yield_the_cpu_to_the_writer() -> None:
    # On a busy machine the writer, which every page goes through, must not wait its
    # turn behind the workers: they run at a lower priority (a higher niceness).
    writer = os.getpriority(os.PRIO_PROCESS, 0)
    found = set(map_ordered(niceness, [(n,) for n in range(40)], workers=2))
    assert found == {min(19, writer + WORKER_NICENESS)}


def slow_pid(_: int) -> int:
    """A task for the pool: a slow read of a large input, answering which process ran it."""
    time.sleep(1.0)  # long enough for the second worker to start, even on a busy machine
    return os.getpid()


def test_large_inputs_are_spread_over_the_workers_not_sent_together() -> None:
    # Four captures of a megabyte each: in one chunk, one worker would read all four
    # while the other waits; each goes alone, so both workers take a share.
    found = map_ordered(slow_pid, [(n,) for n in range(4)], workers=2, size=lambda n: 1 << 20)
    assert len(set(found)) == 2


def test_without_a_crash_result_a_killed_worker_ends_the_run_with_an_error() -> None:
    with pytest.raises(BrokenProcessPool):
        list(map_ordered(square_or_die, [(n,) for n in range(20)], workers=2))


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and _stat(int(entry))[1] == str(pid):
                found.append(int(entry))
    return found


def _stat(pid: int) -> list[str]:
    """State and parent of a process, from /proc (OSError once it is gone)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]


def _pool_workers() -> list[int]:
    """The processes the fork server (a child of this process) has forked: the pool's workers."""
    servers = []
    for pid in _children(os.getpid()):
        with contextlib.suppress(OSError):
            if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                servers.append(pid)
    return [worker for server in servers for worker in _children(server)]


def test_a_worker_killed_mid_run_loses_no_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, 120, copy_every=7)
    ingest([raw], db=tmp_path / "one.db", clean_dir=tmp_path / "c1", workers=1)
    outcomes = iter_ingest([raw], tmp_path / "two.db", tmp_path / "c2", workers=2)
    statuses = [next(outcomes).status]
    victims = _pool_workers()
    assert victims
    os.kill(victims[0], signal.SIGKILL)  # its tasks in flight are run again
    statuses += [outcome.status for outcome in outcomes]
    assert statuses == ["ok"] * 120
    assert snapshot(tmp_path / "one.db") == snapshot(tmp_path / "two.db")
    check_consistent(tmp_path / "two.db", tmp_path / "c2")


def test_a_fork_server_started_ahead_serves_the_pool(tmp_path: Path) -> None:
    # A benchmark starts it before its clock: the pool must still work from it.
    start_fork_server()
    raw = tmp_path / "raw"
    write_corpus(raw, 20, copy_every=5)
    ingest([raw], db=tmp_path / "one.db", clean_dir=tmp_path / "c1", workers=1)
    ingest([raw], db=tmp_path / "two.db", clean_dir=tmp_path / "c2", workers=2)
    assert snapshot(tmp_path / "one.db") == snapshot(tmp_path / "two.db")
    check_consistent(tmp_path / "two.db", tmp_path / "c2")


def test_dask_local_cluster_stores_what_a_local_run_stores(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    raw = tmp_path / "raw"
    write_corpus(raw, 30, copy_every=6)
    ingest([raw], db=tmp_path / "local.db", clean_dir=tmp_path / "c1", workers=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        ingest(
            [raw],
            db=tmp_path / "dask.db",
            clean_dir=tmp_path / "c2",
            scheduler=cluster.scheduler_address,
        )
    assert snapshot(tmp_path / "local.db") == snapshot(tmp_path / "dask.db")


# The working folder's own name may not be UTF-8 (old file systems): the paths as given
# are what must be stored, and they are.
@pytest.mark.parametrize("folder", ["work", os.fsdecode(b"caf\xe9")], ids=["plain", "not-utf8"])
def test_dask_workers_in_another_folder_read_relative_paths_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    distributed = pytest.importorskip("distributed")
    from .test_warc import write_capture

    work = tmp_path / folder
    try:
        work.mkdir()
    except OSError:  # a file system that holds UTF-8 names only
        pytest.skip("this file system refuses names that are not UTF-8")
    write_corpus(work / "raw", 12, copy_every=4)
    write_capture(work / "raw" / "capture.warc.gz")
    monkeypatch.chdir(work)
    ingest(["raw"], db=tmp_path / "local.db", clean_dir=tmp_path / "c1", workers=1)
    # The workers start in another folder, as on another machine: "raw" means nothing there.
    monkeypatch.chdir(tmp_path)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        monkeypatch.chdir(work)
        summary = ingest(
            ["raw"],
            db=tmp_path / "dask.db",
            clean_dir=tmp_path / "c2",
            scheduler=cluster.scheduler_address,
        )
    assert summary.failed == 0 and summary.ingested == 13
    local, distributed_run = snapshot(tmp_path / "local.db"), snapshot(tmp_path / "dask.db")
    assert local == distributed_run
    # Stored as given, so that a later local run finds them unchanged.
    assert {path for path, _, _ in local["files"]} >= {"raw/capture.warc.gz", "raw/dump-00000.txt"}


def test_a_task_that_kills_its_dask_worker_costs_that_task_only() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        tasks = [(n,) for n in range(20)]
        found = map_ordered(
            square_or_die, tasks, scheduler=cluster.scheduler_address, on_crash=lambda n: -n
        )
        # Dask tries the task on other workers before it gives up (KilledWorker), and
        # gives up as well on a task that was running beside it each time.
        results = list(found)
    assert results[13] == -13
    assert all(result in (n * n, -n) for n, result in enumerate(results))
    assert sum(result == n * n for n, result in enumerate(results)) >= 15


def _ingest_command(raw: list[Path], db: Path, clean: Path, workers: int = 1) -> list[str]:
    return [
        sys.executable, "-m", "archiver", "ingest", *map(str, raw),
        "--db", str(db), "--clean-dir", str(clean), "--workers", str(workers),
    ]  # fmt: skip


def test_two_concurrent_ingests_equal_one_ingest_of_the_union(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    paths = write_corpus(raw, 120, copy_every=9)
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, chosen in ((first, paths[:80]), (second, paths[40:])):
        folder.mkdir()
        for path in chosen:
            (folder / path.name).symlink_to(path)
    # The 40 files in both folders are read by both runs, each under its own path.
    db, clean = tmp_path / "shared.db", tmp_path / "clean"
    runs = [
        subprocess.Popen(_ingest_command([folder], db, clean), stderr=subprocess.PIPE, text=True)
        for folder in (first, second)
    ]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert not any("locked" in e or "Traceback" in e for e in errors)
    ingest([first, second], db=tmp_path / "single.db", clean_dir=tmp_path / "single_clean")
    got, want = snapshot(db), snapshot(tmp_path / "single.db")

    def by_path(rows: list[tuple]) -> list[tuple]:
        # A file both runs read has a copy in each folder; which run stored it first
        # decides which copy keeps the content's id (the other gets one of its own), and,
        # between exact copies with the same date and length, which one is canonical.
        return sorted((r[1], *r[2:5]) for r in rows)

    assert by_path(got["articles"]) == by_path(want["articles"])
    assert len(got["articles"]) == 160  # 80 files in each folder, 40 of them the same
    assert story_paths(db) == story_paths(tmp_path / "single.db")
    assert not unjustified_canonicals(db)
    assert removed_by_path(db) == removed_by_path(tmp_path / "single.db")
    check_consistent(db, clean)


def _running(pid: int) -> bool:
    try:
        return _stat(pid)[0] not in ("Z", "X")
    except OSError:
        return False


def test_an_ingest_killed_outright_leaves_no_worker_behind(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, 400)
    run = subprocess.Popen(
        _ingest_command([raw], tmp_path / "a.db", tmp_path / "clean", workers=2),
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    helpers: list[int] = []
    while time.monotonic() < deadline and len(helpers) < 3:  # the fork server and 2 workers
        time.sleep(0.1)
        servers = _children(run.pid)
        helpers = servers + [w for s in servers for w in _children(s)]
    assert len(helpers) >= 3
    run.send_signal(signal.SIGKILL)  # no shutdown of the pool: the workers must notice
    run.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(map(_running, helpers)):
        time.sleep(0.1)
    assert not any(map(_running, helpers))


def test_ingest_killed_at_random_moments_finishes_exactly_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, 2000, copy_every=50)
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    rng = random.Random(int(os.environ.get("ARCHIVER_KILL_SEED", "7")))
    kills = 0
    for _ in range(4):
        run = subprocess.Popen(
            _ingest_command([raw], db, clean, workers=2), stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.0, 6.0))
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            kills += 1
        run.wait(timeout=60)
    assert kills >= 2  # the runs really were cut short
    final = subprocess.run(
        _ingest_command([raw], db, clean, workers=2), capture_output=True, text=True, timeout=600
    )
    assert final.returncode == 0, final.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "select count(*), count(distinct raw_path) from articles"
        ).fetchone() == (2000, 2000)
        assert conn.execute("select status, count(*) from raw_files group by 1").fetchall() == [
            ("ok", 2000)
        ]
        assert (
            conn.execute("select count(*) from articles where duplicate_of is not null").fetchone()[
                0
            ]
            == 39
        )
        assert conn.execute("select count(*) from clean_outbox").fetchone()[0] == 0
    check_consistent(db, clean)
    again = subprocess.run(
        _ingest_command([raw], db, clean), capture_output=True, text=True, timeout=300
    )
    assert "0 ingested, 2000 unchanged, 0 failed" in again.stderr


def test_ctrl_c_at_random_moments_stores_each_file_whole_and_says_what_was_stored(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw, 1200, copy_every=20)
    db, clean = tmp_path / "archive.db", tmp_path / "clean"
    ingest([raw], db=tmp_path / "whole.db", clean_dir=tmp_path / "whole")
    rng = random.Random(int(os.environ.get("ARCHIVER_KILL_SEED", "7")))
    interrupted, stored = 0, 0
    for _ in range(5):
        run = subprocess.Popen(
            _ingest_command([raw], db, clean, workers=2),
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(rng.uniform(0.7, 1.8))
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C reaches the writer and its workers
        stderr = run.communicate(timeout=120)[1]
        if run.returncode != 130:
            with sqlite3.connect(db) as conn:
                stored = conn.execute("select count(*) from raw_files").fetchone()[0]
            continue
        interrupted += 1
        said = re.search(r"interrupted: (\d+) ingested, (\d+) unchanged", stderr)
        assert said and "Traceback" not in stderr, stderr
        with sqlite3.connect(db) as conn:
            before, stored = stored, conn.execute("select count(*) from raw_files").fetchone()[0]
            articles = conn.execute("select count(*) from articles").fetchone()[0]
            # (The dedupe stage makes its tables with the first article it stores.)
            unsigned = (
                articles
                and conn.execute(
                    "select count(*) from articles where id not in (select article_id from minhash)"
                ).fetchone()[0]
            )
        # What the run says it did is what the archive holds, and each file stored is
        # stored whole: its article indexed for deduplication, not only its row.
        assert int(said[1]) == stored - before, stderr
        assert unsigned == 0
    assert interrupted >= 2  # the runs really were cut short
    final = subprocess.run(
        _ingest_command([raw], db, clean, workers=2), capture_output=True, text=True, timeout=600
    )
    assert final.returncode == 0, final.stderr
    assert story_paths(db) == story_paths(tmp_path / "whole.db")
    check_consistent(db, clean)


def _large_page(path: Path, number: int, paragraphs: int = 30_000) -> None:
    """An HTML page of many paragraphs, which a worker takes seconds to extract."""
    rng = random.Random(number)
    words = "council minister harbour budget school railway election court river farmers".split()
    body = "\n".join(
        f"<div class='c'><p>{' '.join(rng.choices(words, k=60))} {i}.</p></div>"
        for i in range(paragraphs)
    )
    path.write_text(f"<html><body><article><h1>Page {number}</h1>{body}</article></body></html>")


def test_ctrl_c_ends_the_run_without_waiting_for_workers_busy_with_large_pages(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for number in range(4):
        _large_page(raw / f"page-{number}.html", number)
    run = subprocess.Popen(
        _ingest_command([raw], tmp_path / "a.db", tmp_path / "clean", workers=2),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        time.sleep(3)  # both workers deep in a page
        os.killpg(run.pid, signal.SIGINT)
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGINT)  # pressed again, as an impatient user does
        # Waiting for the workers would take their pages' time (and once hung for ever).
        stderr = run.communicate(timeout=60)[1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, stderr
    assert stderr.startswith("interrupted: 0 ingested") and "Traceback" not in stderr, stderr


def _ingest_seeds(seeds_dir: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, list[tuple]]]:
    """Ingest the seeds into a fresh archive; (db, clean dir, snapshot of the archive)."""
    db, clean = tmp_path / "a.db", tmp_path / "clean"
    ingest([seeds_dir], db=db, clean_dir=clean)
    return db, clean, snapshot(db)


def _age_archive(db: Path, clean: Path) -> list[str]:
    """Make the archive look built by an older extractor; return the ids it changed."""
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("select id from articles order by id")]
        first, second, third = ids[:3]
        # An older stripper that let a share prompt through and lost its removed lines.
        conn.execute(
            "update articles set text = text || ?, extractor_version = '0.0.1' where id = ?",
            ["\n\nShare this story on social media", first],
        )
        conn.execute("delete from removed_lines where article_id = ?", [first])
        # An older metadata step that took another title.
        conn.execute(
            "update articles set title = 'Home', extractor_version = '0.0.1' where id = ?",
            [second],
        )
        conn.execute(
            "update raw_files set extractor_version = '0.0.1' where path in "
            "(select raw_path from articles where id in (?, ?))",
            [first, second],
        )
        (
            clean
            / conn.execute("select clean_path from articles where id = ?", [third]).fetchone()[0]
        ).unlink()
    return [first, second]


def test_reprocess_rederives_articles_from_raw_and_keeps_their_ids(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, clean, fresh = _ingest_seeds(seeds_dir, tmp_path)
    raw_before = {p.name: p.read_bytes() for p in seeds_dir.iterdir()}
    aged = _age_archive(db, clean)
    assert snapshot(db) != fresh

    result = CliRunner().invoke(main, ["reprocess", "--db", str(db), "--clean-dir", str(clean)])

    assert result.exit_code == 0, result.output
    assert "5 raw files re-read: 2 articles changed, 3 unchanged, 0 new, 0 dropped" in result.output
    # The archive is what a fresh ingest with this version gives: same ids, texts, lines.
    assert snapshot(db) == fresh
    with sqlite3.connect(db) as conn:
        versions = {r[0] for r in conn.execute("select extractor_version from articles")}
        texts = [r[0] for r in conn.execute("select text from articles where id in (?, ?)", aged)]
    assert versions == {EXTRACTOR_VERSION}
    assert all("Share this story" not in text for text in texts)
    check_consistent(db, clean)
    assert {p.name: p.read_bytes() for p in seeds_dir.iterdir()} == raw_before


def test_reprocess_reads_the_stored_paths_a_page_at_a_time_each_once(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of two rows, while each row read is rewritten: none skipped, none read twice.
    monkeypatch.setattr(reprocessing, "STORED_PATHS_PAGE", 2)
    db, clean, fresh = _ingest_seeds(seeds_dir, tmp_path)
    _age_archive(db, clean)
    result = CliRunner().invoke(main, ["reprocess", "--db", str(db), "--clean-dir", str(clean)])
    assert "5 raw files re-read: 2 articles changed, 3 unchanged, 0 new, 0 dropped" in result.output
    assert snapshot(db) == fresh


def test_reprocess_only_outdated_rereads_only_older_files(seeds_dir: Path, tmp_path: Path) -> None:
    db, clean, fresh = _ingest_seeds(seeds_dir, tmp_path)
    _age_archive(db, clean)

    result = CliRunner().invoke(
        main, ["reprocess", "--only-outdated", "--db", str(db), "--clean-dir", str(clean)]
    )

    assert result.exit_code == 0, result.output
    assert "2 raw files re-read: 2 articles changed, 0 unchanged" in result.output
    assert snapshot(db) == fresh
    check_consistent(db, clean)  # the clean file deleted by hand is written again


def test_reprocess_keeps_what_is_stored_of_a_raw_file_gone_from_disk(
    seeds_dir: Path, tmp_path: Path
) -> None:
    db, clean, fresh = _ingest_seeds(seeds_dir, tmp_path)
    gone = sorted(seeds_dir.iterdir())[0]
    gone.unlink()

    result = CliRunner().invoke(main, ["reprocess", "--db", str(db), "--clean-dir", str(clean)])

    assert result.exit_code == 0, result.output
    assert f"kept as stored: {gone}: missing from disk" in result.output
    assert "1 missing from disk" in result.output
    assert "Traceback" not in result.output
    assert snapshot(db) == fresh
    check_consistent(db, clean)


def test_an_ingest_paused_between_files_leaves_ctrl_c_alone(tmp_path: Path) -> None:
    write_corpus(tmp_path / "raw", 3)
    before = signal.getsignal(signal.SIGINT)
    outcomes = iter_ingest([tmp_path / "raw"], tmp_path / "a.db", tmp_path / "clean")
    try:
        next(outcomes)
        # The caller holds the generator between two files: Ctrl-C is its own again.
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        outcomes.close()
    assert signal.getsignal(signal.SIGINT) is before


def test_an_ingest_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    write_corpus(tmp_path / "raw", 3)
    threshold = gc.get_threshold()
    ingest([tmp_path / "raw"], db=tmp_path / "a.db", clean_dir=tmp_path / "clean")
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0
    # A program that freezes objects itself keeps what it froze, and its settings.
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        ingest([tmp_path / "raw"], db=tmp_path / "b.db", clean_dir=tmp_path / "clean-b")
        assert gc.get_freeze_count() > frozen // 2 and gc.get_threshold() == threshold
    finally:
        gc.unfreeze()


def test_one_path_given_alone_is_one_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_corpus(tmp_path / "raw", 3)
    monkeypatch.chdir(tmp_path)
    # A string iterated would be "r", "a", "w" and "/": the whole file system.
    summary = ingest("raw/", db="a.db", clean_dir="clean")
    assert (summary.ingested, summary.failed) == (3, 0)
    assert ingest(Path("raw"), db="b.db", clean_dir="clean-b").ingested == 3
    with pytest.raises(TypeError, match="not bytes"):
        ingest(b"raw", db="c.db")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_bytes"):
        ingest(["raw"], db="d.db", max_bytes=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be a whole number above 0, not '2'"):
        ingest("raw", db="g.db", workers="2")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="no folder nodir to hold the archive"):
        ingest("raw", db="nodir/h.db", clean_dir="clean-h")
    # A mistyped path makes no archive with a failed row in it.
    with pytest.raises(FileNotFoundError, match="no such file or folder: raww"):
        ingest("raww", db="f.db", clean_dir="clean-f")
    assert not (tmp_path / "f.db").exists()
    # An unset variable is no path: not this folder.
    with pytest.raises(ValueError, match="an empty path names no file"):
        ingest(os.environ.get("ARCHIVER_UNSET_RAW", ""), db="e.db", clean_dir="clean-e")
    assert not (tmp_path / "e.db").exists()


def test_reprocess_of_a_mistyped_archive_is_refused_and_makes_nothing(tmp_path: Path) -> None:
    with pytest.raises(reprocessing.store.NotAnArchive, match="no archive at"):
        reprocessing.reprocess(db=tmp_path / "typo.db", clean_dir=tmp_path / "clean")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("run", ["ingest", "reprocess"])
def test_a_run_stopped_between_two_files_commits_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: str
) -> None:
    """Ctrl-C while the caller counts a file: the files handed over are in the archive
    once the call has raised, not only when the interpreter gets round to it."""
    from archiver import pipeline

    write_corpus(tmp_path / "raw", 300, copy_every=50)
    db, clean = tmp_path / "a.db", tmp_path / "clean"
    if run == "reprocess":
        ingest([tmp_path / "raw"], db=db, clean_dir=clean)
        time.sleep(1.1)  # stamps are to the second: this run's differ from the first's
    tally = pipeline.Tally if run == "ingest" else reprocessing.ReprocessTally
    signal_at_call(monkeypatch, tally, "add", signal.SIGINT)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    # Kept, as a notebook or a caller's log keeps the last error: its traceback keeps the
    # run's frames, and a run left open there would hold its batch uncommitted.
    with pytest.raises(KeyboardInterrupt) as stopped:
        if run == "ingest":
            ingest([tmp_path / "raw"], db=db, clean_dir=clean)
        else:
            reprocessing.reprocess(db, clean, workers=1)
    with sqlite3.connect(db) as conn:
        stamps = [r[0] for r in conn.execute("select ingested_at from raw_files")]
    # Written by this run: every file (ingest), or stamped anew by it (reprocess).
    assert len([stamp for stamp in stamps if stamp >= started]) == 250
    assert stopped.tb is not None

"""Hostile inputs: each gets one clear line and a reason, or a readable article; nothing breaks.

The corpus (``tests/fixtures/hostile/make_hostile.py``) is built once per session and
ingested once, after a good archive, by a real ``archiver ingest`` subprocess under an
address-space limit: its stderr, its exit, its peak memory and the archive it leaves are
what every test below checks. Each hostile input is its own test (``CASES``).
"""

from __future__ import annotations

import ctypes
import gzip
import importlib.util
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner

from archiver.cli import main

from .conftest import SEED_RAW

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"

# Peak resident memory the hostile ingest may use. The interpreter with lxml, trafilatura
# and the language model takes about 150 MB before the first file; the most any input can
# bring in is 20 MB (the file cap, and the cap on what gzip may inflate, both
# sources.DEFAULT_MAX_BYTES), of which decoding, parsing and stripping hold a few copies.
# 512 MB leaves room for that and for another machine's allocator, but not for what the
# caps prevent: the gzip bomb inflated to its 1 GB, or the 50 MB line read and stripped
# (a 19 MB line, just under the cap, already peaks near 750 MB).
MEMORY_CAP_BYTES = 512 * 1024 * 1024
# Address space the child may map (RLIMIT_AS): a runaway allocation fails inside it
# instead of swapping the machine. Virtual size runs well above resident size (thread
# stacks, mapped libraries), so this is looser than the cap above; the run needs < 400 MB.
ADDRESS_SPACE_LIMIT = 2 * 1024 * 1024 * 1024
# The whole ingest takes a few seconds; past this it is hung (on a FIFO, a device, a loop).
HANG_SECONDS = 120

# Root reads a mode-000 file anyway: the child sheds the capabilities that allow that
# (dropped from its bounding set, the exec'd interpreter never gets them back).
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SETPCAP = 1, 2, 8
ROOT_READS_ANYTHING = (
    "running as root without CAP_SETPCAP: root's right to read any file cannot be dropped, "
    "so a mode-000 file is readable and cannot be tested as unreadable"
)

# A later, ordinary article: ingested after the hostile files in the same run.
LATE_ARTICLE = """\
News | Local | Weather

Town library reopens after flood repairs

The town library reopened its doors on Saturday, eight months after the river burst its banks and flooded the reading rooms.
Volunteers dried and catalogued more than twelve thousand books, and the council replaced the oak shelves that had warped in the water.
Readers queued outside before the doors opened, and the librarian said the children's section had moved upstairs to keep it safe.
The library will open late on Thursdays until the end of the year to make up for the months it was closed.

Copyright 2026 Valley Courier.
"""

# UTF-8 read as a Western code page ("cafÃ©"), or Cyrillic read as one ("Ïàðîì").
MOJIBAKE = re.compile(r"[ÃÂ][\x80-\xbf\u00a0-\u00bf\u2018-\u203a]|[ÏÐÑàðîì]{3}")


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_hostile", HOSTILE / "make_hostile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_hostile = _load_builder()


@dataclass(frozen=True)
class Case:
    """One hostile input and what must become of it."""

    id: str
    name: str  # path inside the corpus
    reason: str | None = None  # it fails: its error holds this
    words: tuple[str, ...] = ()  # it is fine: its article holds these
    articles: int = 1
    encoding: str | None = None  # as recorded in raw_files
    script: str | None = None  # every letter of the article is of this script
    warning: str | None = None  # the one line printed for an input that is read anyway
    record: bool = False  # one record of a capture fails; the capture's other pages are stored
    max_replaced: int = 0  # undecodable bytes the file holds, shown as U+FFFD


def _odd(number: int, name: str, case_id: str) -> Case:
    return Case(case_id, name, words=(f"takes {number + 12} minutes",))


CASES = (
    Case("empty-file", "empty.txt", reason="empty file"),
    Case("binary-png", "pixel.png", reason="binary file (PNG image)"),
    Case("binary-pdf", "document.pdf", reason="binary file (PDF document)"),
    Case("binary-elf", "program.elf", reason="binary file (ELF executable)"),
    Case("truncated-gzip", "truncated.txt.gz", reason="damaged gzip data"),
    Case(
        "truncated-warc-record", "truncated-record.warc", reason="truncated record",
        words=("Harbour ferry service resumes",), record=True,
    ),
    Case(
        "truncated-warc-record-gzipped", "truncated-record.warc.gz", reason="truncated record",
        words=("Harbour ferry service resumes",), record=True,
    ),
    Case(
        "invalid-utf8", "invalid-utf8.txt", words=("The café ferry", "Naïve", "(déjà vu"),
        encoding="utf-8", warning="invalid UTF-8", max_replaced=3,
    ),
    Case(
        "cp1251-undeclared", "russian-cp1251.txt", encoding="cp1251", script="CYRILLIC",
        words=("Паромное сообщение", "Паром, соединяющий две части портового города"),
    ),
    Case(
        "shift-jis-undeclared", "japanese-shift-jis.txt", encoding="cp932", script="JAPANESE",
        words=("港のフェリー", "港町の東西を結ぶフェリーは月曜日"),
    ),
    Case(
        "utf16-bom", "utf16-bom.txt", encoding="utf-16-le",
        words=("€40,000 less than planned", "Commuters from Ærøskøbing"),
    ),
    Case(
        "nul-bytes", "nul-bytes.txt", encoding="utf-8",
        words=("The ferry linking", "replaced the timber piles", "at the busiest times."),
    ),
    Case("50mb-single-line", "long-line.txt", reason="file too large (50.0 MiB"),
    Case("html-nested-100000", "deep-nesting.html", reason="HTML nested deeper than the parser"),
    Case("html-only-scripts", "only-scripts.html", reason="no article text found in the HTML"),
    Case("entity-bomb-html", "entity-bomb.html", reason="declares XML entities"),
    Case("entity-bomb-xml", "entity-bomb.xml", reason="declares XML entities"),
    Case("external-entity-xml", "external-entity.xml", reason="declares XML entities"),
    Case("gzip-bomb", "bomb.txt.gz", reason="gzip inflates past the 20.0 MiB limit"),
    Case("symlink-loop-a", "link-loop/a.txt", reason="symbolic link loop"),
    Case("symlink-loop-b", "link-loop/b.txt", reason="symbolic link loop"),
    Case("dangling-symlink", "dangling-link.txt", reason="broken symbolic link"),
    Case("endless-device", "endless-device.txt", reason="not a regular file (a character device)"),
    Case("fifo", "named-pipe.txt", reason="not a regular file (a FIFO)"),
    Case("unreadable-mode-000", "mode-000.txt", reason="permission denied"),
    *(
        _odd(number, name, case_id)
        for number, (name, case_id) in enumerate(
            zip(
                make_hostile.ODD_NAMES,
                ("name-spaces", "name-newline", "name-non-ascii", "name-dash", "name-option"),
                strict=True,
            )
        )
    ),
    Case(
        "name-not-utf8", os.fsdecode(make_hostile.UNDECODABLE_NAME),
        reason="file name is not valid UTF-8",
    ),
    Case(
        "name-newline-failing", make_hostile.FAILING_ODD_NAME, reason="binary file (PNG image)"
    ),
    Case(
        "warc-path-traversal", "path-traversal.warc.gz", articles=2,
        words=("The ferry linking the two halves",),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """What an archive holds: rows by table, and clean/ files by name."""

    articles: list[tuple]
    removed_lines: list[tuple]
    raw_files: list[tuple]
    clean: dict[str, bytes]


@dataclass(frozen=True)
class HostileRun:
    """A good archive, then one ``archiver ingest`` of the hostile corpus into it."""

    corpus: Path
    work: Path
    db: Path
    clean: Path
    late: Path  # an ordinary article given after the corpus
    replaced: Path  # a good file, ingested, then overwritten with a PNG image
    command: list[str]
    exit_code: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes
    unreadable_works: bool  # a mode-000 file is unreadable to the child
    stored_before: Snapshot  # the good archive, before the hostile run
    tree_before: frozenset[str]
    tree_after: frozenset[str]

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """Rows of a query on the archive."""
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()


def stored_name(path: Path) -> str:
    """The path as the archive can hold it: bytes that are not UTF-8 as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def printed(name: str) -> str:
    """A stored name as a one-line message shows it: newline and tab escaped."""
    return name.replace("\n", "\\n").replace("\t", "\\t")


def _can_shed_root_file_access() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    status = Path("/proc/self/status").read_text()
    effective = re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.MULTILINE)
    return bool(effective and int(effective.group(1), 16) >> CAP_SETPCAP & 1)


def _child_limits(shed_root: bool) -> Callable[[], None]:
    libc = ctypes.CDLL(None, use_errno=True) if shed_root else None

    def limit() -> None:  # runs in the child, between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
        if libc is not None:
            for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
                if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return limit


def run_ingest(
    args: list[str], work: Path, limits: Callable[[], None]
) -> tuple[int, str, str, int]:
    """Run ``archiver ingest`` in a subprocess; (exit code, stdout, stderr, peak RSS bytes)."""
    out, err = work / "stdout.txt", work / "stderr.txt"
    command = [sys.executable, "-m", "archiver", "ingest", *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, stdout=stdout, stderr=stderr, cwd=work, preexec_fn=limits
        )
    deadline = time.monotonic() + HANG_SECONDS
    while True:
        # wait4 gives this child's own resource usage, peak RSS included (in KiB).
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the hostile ingest hung for {HANG_SECONDS} s: {command}")
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    text = (
        out.read_text(encoding="utf-8", errors="backslashreplace"),
        err.read_text(encoding="utf-8", errors="backslashreplace"),
    )
    return process.returncode, text[0], text[1], usage.ru_maxrss * 1024


def _tree(root: Path) -> frozenset[str]:
    found = set()
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return frozenset(found)


def _snapshot(db: Path, clean: Path) -> Snapshot:
    with sqlite3.connect(db) as conn:
        return Snapshot(
            articles=conn.execute("select * from articles order by id").fetchall(),
            removed_lines=conn.execute(
                "select * from removed_lines order by article_id, stage, line_no"
            ).fetchall(),
            raw_files=conn.execute("select * from raw_files order by path").fetchall(),
            clean={p.name: p.read_bytes() for p in sorted(clean.iterdir())},
        )


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The hostile corpus, built once (a 50 MB line, a gzip bomb, a FIFO, ...)."""
    corpus: Path = make_hostile.build(tmp_path_factory.mktemp("hostile") / "corpus")
    yield corpus
    shutil.rmtree(corpus, ignore_errors=True)  # pytest keeps old temp folders: not 50 MB each


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory, hostile_corpus: Path) -> HostileRun:
    """Ingest good files, then the hostile corpus and one more article into the same archive."""
    work = tmp_path_factory.mktemp("hostile-run")
    db, clean, good = work / "archive.db", work / "clean", work / "good"
    good.mkdir()
    for path in sorted(SEED_RAW.glob("*.txt")):
        shutil.copyfile(path, good / path.name)
    first = CliRunner().invoke(
        main, ["ingest", str(good), "--db", str(db), "--clean-dir", str(clean)]
    )
    assert first.exit_code == 0, first.output
    stored_before = _snapshot(db, clean)
    assert len(stored_before.articles) == len(list(good.iterdir()))

    # A file stored earlier that has since gone bad must not take its article with it.
    replaced = good / sorted(p.name for p in good.iterdir())[0]
    replaced.write_bytes((HOSTILE / "files" / "pixel.png").read_bytes())
    late = work / "late" / "library-reopens.txt"
    late.parent.mkdir()
    late.write_text(LATE_ARTICLE, encoding="utf-8")

    shed_root = os.geteuid() == 0 and _can_shed_root_file_access()
    args = [str(hostile_corpus), str(replaced), str(late), "--db", str(db)]
    args += ["--clean-dir", str(clean), "--workers", "1"]  # one process: its peak is the peak
    base = tmp_path_factory.getbasetemp()
    tree_before = _tree(base)
    exit_code, stdout, stderr, peak = run_ingest(args, work, _child_limits(shed_root))
    tree_after = _tree(base) - {
        os.path.relpath(work / name, base) for name in ("stdout.txt", "stderr.txt")
    }
    return HostileRun(
        corpus=hostile_corpus, work=work, db=db, clean=clean, late=late, replaced=replaced,
        command=args, exit_code=exit_code, stdout=stdout, stderr=stderr, peak_rss=peak,
        unreadable_works=os.geteuid() != 0 or shed_root, stored_before=stored_before,
        tree_before=tree_before, tree_after=tree_after,
    )  # fmt: skip


def _expected(run: HostileRun, case: Case) -> Case:
    if case.name == "mode-000.txt" and not run.unreadable_works:
        pytest.skip(ROOT_READS_ANYTHING)
    return case


def _lines_about(run: HostileRun, name: str) -> list[str]:
    shown = printed(name)
    starts = (f"failed: {shown}: ", f"failed: {shown}#", f"warning: {shown}: ")
    return [line for line in run.stderr.splitlines() if line.startswith(starts)]


def _script_of(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK", "HIRAGANA", "KATAKANA")):
        return "JAPANESE"
    return name.split()[0] if name else "?"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(hostile_run: HostileRun, case: Case) -> None:
    """One line on stderr and a raw_files row with the reason, or a readable article."""
    case = _expected(hostile_run, case)
    name = stored_name(hostile_run.corpus / case.name)
    lines = _lines_about(hostile_run, name)
    row = hostile_run.rows("select status, error, encoding from raw_files where path = ?", name)
    articles = hostile_run.rows(
        "select title, text, clean_path from articles where raw_path = ?", name
    )
    assert len(row) == 1, f"no raw_files row for {name!r}"
    status, error, encoding = row[0]

    if case.reason and not case.record:
        assert len(lines) == 1 and lines[0].startswith(f"failed: {printed(name)}: ")
        assert case.reason in lines[0]
        assert status == "failed" and case.reason in error
        assert articles == []
        return

    assert status == "ok"
    assert len(articles) == case.articles
    if case.record:  # the damaged record is a row of its own; the capture's good page is kept
        records = hostile_run.rows(
            "select status, error from raw_files where path like ? || '#%'", name
        )
        assert len(records) == 1 and records[0][0] == "failed" and case.reason in records[0][1]
        assert len(lines) == 1 and lines[0].startswith(f"failed: {printed(name)}#<urn:uuid:")
        assert case.reason and case.reason in lines[0]
    elif case.warning:
        assert len(lines) == 1 and lines[0].startswith("warning: ") and case.warning in lines[0]
    else:
        assert lines == []
    if case.encoding:
        assert encoding == case.encoding

    text = "\n".join(f"{title}\n{body}" for title, body, _ in articles)
    for words in case.words:
        assert words in text
    assert "\x00" not in text and not MOJIBAKE.search(text)
    assert text.count("\ufffd") <= case.max_replaced
    if case.script:
        scripts = {_script_of(ch) for ch in text if ch.isalpha()}
        assert scripts == {case.script}, f"letters of other scripts: {scripts}"
    for title, body, clean_path in articles:
        stored = (hostile_run.clean / clean_path).read_text(encoding="utf-8")
        assert stored == f"{title or ''}\n\n{body}\n"


def test_every_hostile_input_has_a_case(hostile_corpus: Path) -> None:
    """No file of the corpus goes untested (symlinked folders are not walked into)."""
    files = {
        os.path.relpath(os.path.join(folder, name), hostile_corpus)
        for folder, _, names in os.walk(hostile_corpus)
        for name in names
    }
    assert files == {case.name for case in CASES}


def test_the_run_goes_on_to_a_summary(hostile_run: HostileRun) -> None:
    """Exit 1 with the summary; every stderr line is accounted for; no traceback."""
    assert "Traceback" not in hostile_run.stderr + hostile_run.stdout
    unreadable_ok = not hostile_run.unreadable_works  # root read the mode-000 file
    failed = sum(1 for c in CASES if c.reason) + 1  # and the replaced good file
    ingested = sum(1 for c in CASES if not c.reason or c.record) + 1  # and the late article
    if unreadable_ok:
        failed, ingested = failed - 1, ingested + 1
    articles = sum(c.articles for c in CASES if not c.reason or c.record) + 1 + unreadable_ok
    stored = f"{articles} article{'s' if articles != 1 else ''} stored"
    summary = f"{ingested} ingested, 0 unchanged, {failed} failed ({stored})"
    lines = hostile_run.stderr.splitlines()
    assert hostile_run.exit_code == 1
    assert lines[-1] == summary
    assert len([line for line in lines if line.startswith("failed: ")]) == failed
    assert all(line.startswith(("failed: ", "warning: ")) for line in lines[:-1])

    # The ordinary article given after the hostile files is stored, with its clean file.
    late = hostile_run.rows(
        "select text, clean_path from articles where raw_path = ?", str(hostile_run.late)
    )
    assert len(late) == 1 and "twelve thousand books" in late[0][0]
    assert (hostile_run.clean / late[0][1]).is_file()


def test_nothing_stored_before_is_touched(hostile_run: HostileRun) -> None:
    """The good archive's rows and clean files are byte-identical after the hostile run."""
    before, replaced = hostile_run.stored_before, str(hostile_run.replaced)
    after = _snapshot(hostile_run.db, hostile_run.clean)
    earlier = {row[0] for row in before.articles}
    assert [row for row in after.articles if row[0] in earlier] == before.articles
    assert [row for row in after.removed_lines if row[0] in earlier] == before.removed_lines
    assert {name: after.clean.get(name) for name in before.clean} == before.clean
    # The good file overwritten with an image now fails, and keeps its article (above).
    assert replaced in {row[1] for row in before.articles}
    status, error = hostile_run.rows(
        "select status, error from raw_files where path = ?", replaced
    )[0]
    assert status == "failed" and "binary file (PNG image)" in error
    still = {row[0]: row for row in after.raw_files}
    assert [row for row in before.raw_files if row[0] != replaced] == [
        still[row[0]] for row in before.raw_files if row[0] != replaced
    ]


def test_no_file_is_written_outside_clean(hostile_run: HostileRun) -> None:
    """Path traversal in a capture's URLs and titles writes nothing outside clean/."""
    base = hostile_run.work.parent
    new = hostile_run.tree_after - hostile_run.tree_before
    inside = {os.path.relpath(hostile_run.clean, base), os.path.relpath(hostile_run.db, base)}
    for path in new:
        assert path.startswith(tuple(inside)), f"written outside clean/: {path}"
    assert all(path in hostile_run.tree_after for path in hostile_run.tree_before)

    clean_paths = [row[0] for row in hostile_run.rows("select clean_path from articles")]
    assert all(re.fullmatch(r"[\w.-]+\.txt", p) and ".." not in p for p in clean_paths)
    assert sorted(p.name for p in hostile_run.clean.iterdir()) == sorted(
        [".archiver-clean", *clean_paths]
    )

    # Where a naive URL-to-path mapping would have written, nothing appeared.
    capture = gzip.decompress((HOSTILE / "files" / "path-traversal.warc.gz").read_bytes())
    urls = re.findall(rb"WARC-Target-URI: (\S+)", capture)
    assert len(urls) == 2
    for url in urls:
        path = urlsplit(url.decode()).path
        for variant in (path, unquote(path)):
            for target in (hostile_run.clean / variant.lstrip("/"), hostile_run.clean / variant):
                assert not os.path.lexists(os.path.normpath(target))


def test_memory_stays_bounded(hostile_run: HostileRun) -> None:
    """The ingest ran to its summary under an address-space limit, below the RSS cap."""
    assert hostile_run.exit_code == 1 and "failed (" in hostile_run.stderr.splitlines()[-1]
    assert "out of memory" not in hostile_run.stderr
    peak_mb = hostile_run.peak_rss / 2**20
    print(f"peak RSS of the hostile ingest: {peak_mb:.0f} MB (cap {MEMORY_CAP_BYTES / 2**20:.0f})")
    assert hostile_run.peak_rss < MEMORY_CAP_BYTES, f"peak RSS {peak_mb:.0f} MB"


def test_symlinked_folders_are_not_walked_into(hostile_run: HostileRun) -> None:
    """The loop's links to '..' and '.' are not followed: no file is visited twice."""
    loop = stored_name(hostile_run.corpus / "link-loop")
    visited = [row[0] for row in hostile_run.rows("select path from raw_files")]
    assert sorted(p for p in visited if p.startswith(loop + os.sep)) == [
        f"{loop}/a.txt",
        f"{loop}/b.txt",
    ]


def test_worker_pool_gives_the_same_outcomes(
    hostile_run: HostileRun, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same inputs through worker processes give the same rows as the one-process run."""
    work = tmp_path_factory.mktemp("hostile-pool")
    db = work / "pool.db"
    args = [str(hostile_run.corpus), str(hostile_run.late), "--db", str(db)]
    args += ["--clean-dir", str(work / "clean"), "--workers", "2"]
    shed_root = os.geteuid() == 0 and hostile_run.unreadable_works
    exit_code, stdout, stderr, _ = run_ingest(args, work, _child_limits(shed_root))
    assert exit_code == 1 and "Traceback" not in stderr + stdout
    query = (
        "select path, status, error, articles from raw_files where path not like ? order by path"
    )
    good = f"{hostile_run.replaced.parent}{os.sep}%"
    with sqlite3.connect(db) as conn:
        pooled = conn.execute(query, [good]).fetchall()
    assert pooled == hostile_run.rows(query, good)


def test_names_with_leading_dashes_as_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After '--', names that look like options are files, ingested like any other."""
    monkeypatch.chdir(tmp_path)
    for number, name in enumerate(("-leading-dash.txt", "--db.txt")):
        text = LATE_ARTICLE.replace("eight months", f"{number + 5} months")
        Path(name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["ingest", "--db", "a.db", "--clean-dir", "c", "--", "-leading-dash.txt", "--db.txt"]
    )
    assert result.exit_code == 0, result.output
    assert "2 ingested, 0 unchanged, 0 failed" in result.stderr
    with sqlite3.connect(tmp_path / "a.db") as conn:
        rows = dict(conn.execute("select raw_path, text from articles").fetchall())
    assert "5 months" in rows["-leading-dash.txt"] and "6 months" in rows["--db.txt"]
    assert not (tmp_path / "archive.db").exists()  # '--db.txt' was not read as an option

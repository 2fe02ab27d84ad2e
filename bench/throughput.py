"""Ingest throughput and memory on a corpus replicated from the development pages.

In one run, so that the figures can be compared as ratios on a noisy machine:

1. Corpus. The development benchmark's HTML pages and text dumps (scrapinghub/pages and
   scrapinghub/dumps) are replicated to --pages inputs of each kind, under a temporary
   folder. Each copy is its own story: in every copy about 40% of the page's article
   words (words of running-text lines that are neither among the page's most frequent
   words nor in its menus) are consistently swapped for other words of the same page,
   so the language, line shapes and chrome stay those of the real page while the 5-word
   shingles no longer match. A share of the copies (--duplicates, 20%) are instead
   near-duplicates of an earlier copy: the same text with two words swapped and a
   number changed. Everything is deterministic given --seed.
2. The anchor: trafilatura.extract alone, in this process, in a loop over the HTML copies,
   just before and just after the one-worker HTML ingest (the ratio takes both together).
3. Full ingest (decode, extraction, stripping, metadata, dedupe, storage, clean files)
   with 1 worker and with --workers (all cores), for HTML and for text dumps, each into
   a fresh archive and clean/ folder, in a child process.
   Steps 2 and 3 run in rounds (--repeat, 3): on a shared machine the speed drifts by a
   third within minutes, so each ratio is taken between runs side by side, and within a
   round the one-worker and the all-cores runs take turns to go first.
4. The issue's targets as ratios of the figures above, the median of the rounds (each
   round's figure beside it), with PASS or MISS. Then what bounds the all-cores ratios:
   the throughput of --workers CPU-bound loops at once over one alone (measured in each
   round next to the dump runs: the ceiling the machine itself puts on any ratio), and
   the CPU time of each all-cores ingest (writer and workers) over its one-worker run
   (what the pool adds, and the slowdown of busy cores the loops measure).
5. Dedupe time and peak memory at scale: bench/dedupe.py's scale runs (--dedupe-sizes).
6. Peak memory of a large run: --memory-pages text dumps with --memory-workers workers.

How time is measured: each ingest runs in a child process, which times the ingest itself
(archiver.pipeline.ingest, the code `archiver ingest` runs), not the interpreter's start.
With 1 worker the child loads trafilatura and the language model before the clock starts,
as the anchor has them loaded; with a pool, the pool's fork server loads them before the
clock, and starting the workers (forked from it) is inside the timed part. pages/s counts
every input, failed ones included. Each run's folder is kept until the benchmark ends
(see FINISHED_RUNS): deleting thousands of files slows the next run's file creation.

How memory is measured: the writer's peak is its own VmHWM (/proc/self/status, the
kernel's high-water mark of the resident set) read by the child at its end; getrusage's
ru_maxrss is not used, as Linux carries it over an exec (a child would report the size of
the parent it was forked from) and RUSAGE_CHILDREN is a maximum over all children so far.
The workers are not the child's children (a forkserver forks them): the VmHWM of every
process under the child is sampled from /proc every 0.1 s until it exits. "sum" is the
writer's peak plus every worker's peak, an upper bound of what they held at once (each
RSS counts the pages it shares); the forkserver and the resource tracker are small
helpers, printed apart. As the workers share what the fork server loaded, that sum
counts the shared pages once per process; the memory run also prints the largest total
PSS of the tree at one moment (/proc/PID/smaps_rollup: each shared page split between
the processes sharing it), which is what the machine holds. The writer's RSS at each
quarter of the memory run shows whether memory grows with the corpus.

    python bench/throughput.py --bench PATH/TO/bench [--quick] [--pages 2000]
        [--workers N] [--repeat 3] [--dedupe-sizes 10000,30000,100000]
        [--memory-pages 100000]

PATH/TO/bench is the folder holding scrapinghub/ (or set ARCHIVER_BENCH).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --- Corpus -----------------------------------------------------------------------------

#: A word a copy may swap (4+ letters), or an HTML entity, matched only to be left alone.
_WORD = re.compile(r"&#?\w+;|[^\W\d_]{4,}")
_NUMBER = re.compile(r"(?<![\w.,])\d{1,4}(?![\w.,])")
#: Markup that is not text: comments, scripts and styles with their content, tags.
_MARKUP = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
RUNNING_WORDS = 12  # a text unit with this many words is running text
MENU_WORDS = 3  # a text unit with at most this many words is a menu item or a label
COMMON_WORDS = 40  # the page's most frequent words (its stopwords) are never swapped
SWAP_SHARE = 0.4  # share of a page's swappable words a copy swaps
QUICK = {"pages": 60, "dedupe_sizes": "1000,3000", "memory_pages": 600, "repeat": 1}
#: The share of copies that are near-duplicates of an earlier copy (--duplicates).
DUPLICATES = 0.2
DEFAULTS = {
    "pages": 2000,
    "dedupe_sizes": "10000,30000,100000",
    "memory_pages": 100_000,
    "repeat": 3,
}
MB = 1024 * 1024
_SCALE_LINE = re.compile(r"\s*\d+ articles: ")


@dataclass(frozen=True)
class SourcePage:
    """A development page cut into units: text a copy may change, and markup it keeps."""

    name: str
    units: tuple[str, ...]
    editable: tuple[bool, ...]
    running: tuple[int, ...]  # indexes of running-text units, else of every unit with words
    swappable: tuple[str, ...]  # lower-cased words a copy may swap, sorted
    joiner: str


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if not w.startswith("&")]


def source_page(name: str, text: str, kind: str) -> SourcePage:
    """Cut a page into units (dump lines, or HTML text between tags) and find its article words."""
    if kind == "dump":
        units = text.split("\n")
        editable, joiner = [True] * len(units), "\n"
    else:
        units, editable, joiner, start = [], [], "", 0
        for match in _MARKUP.finditer(text):
            units += [text[start : match.start()], match.group()]
            editable += [True, False]
            start = match.end()
        units.append(text[start:])
        editable.append(True)
    counts = [len(u.split()) if e else 0 for u, e in zip(units, editable, strict=True)]
    running = tuple(i for i, n in enumerate(counts) if n >= RUNNING_WORDS)
    if not running:  # a page without running text still gets its number changed
        running = tuple(i for i, n in enumerate(counts) if n)
    frequency = Counter(w.lower() for i in running for w in _words(units[i]))
    common = {w for w, _ in frequency.most_common(COMMON_WORDS)}
    labels = {
        w.lower() for i, n in enumerate(counts) if 0 < n <= MENU_WORDS for w in _words(units[i])
    }
    swappable = tuple(sorted(set(frequency) - common - labels))
    return SourcePage(name, tuple(units), tuple(editable), running, swappable, joiner)


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


def render_copy(page: SourcePage, copy_seed: str, rng: random.Random, duplicate: bool) -> str:
    """One copy of a page: its words swapped as ``copy_seed`` says, a number changed,
    and for a near-duplicate two neighbouring words of one paragraph exchanged."""
    mapper = random.Random(copy_seed)
    words = page.swappable
    mapping = {w: mapper.choice(words) for w in words if mapper.random() < SWAP_SHARE}

    def swap(match: re.Match[str]) -> str:
        word = match.group()
        new = mapping.get(word.lower())
        return _cased(new, word) if new and not word.startswith("&") else word

    units = list(page.units)
    for i, unit in enumerate(units):
        if page.editable[i] and mapping:
            units[i] = _WORD.sub(swap, unit)
    if page.running:
        i = rng.choice(page.running)
        numbers = list(_NUMBER.finditer(units[i]))
        if numbers:
            m = rng.choice(numbers)
            changed = str(int(m.group()) + rng.randint(1, 9))
            units[i] = units[i][: m.start()] + changed + units[i][m.end() :]
        if duplicate:
            i = rng.choice(page.running)
            tokens = units[i].split()
            if len(tokens) > 1:
                spot = rng.randrange(len(tokens) - 1)
                tokens[spot], tokens[spot + 1] = tokens[spot + 1], tokens[spot]
                units[i] = " ".join(tokens)
    return page.joiner.join(units)


def iter_copies(
    pages: list[SourcePage], count: int, seed: int, kind: str, duplicates: float
) -> Iterator[tuple[int, SourcePage, str]]:
    """Yield (n, source page, text) for ``count`` copies; round r copies every page once."""
    bases: list[int] = []
    for n in range(count):
        rng = random.Random(f"{seed}:{kind}:{n}")
        duplicate = n >= len(pages) and rng.random() < duplicates
        # A near-duplicate reuses the swaps of the same page's copy one round earlier.
        base = bases[n - len(pages)] if duplicate else n
        bases.append(base)
        page = pages[n % len(pages)]
        yield n, page, render_copy(page, f"{seed}:{kind}:{base}:swap", rng, duplicate)


def load_sources(bench: Path, kind: str) -> list[SourcePage]:
    """The development pages of one kind, in name order."""
    folder, pattern = ("pages", "*.html") if kind == "html" else ("dumps", "*.txt")
    files = sorted((bench / "scrapinghub" / folder).glob(pattern))
    return [source_page(f.stem, f.read_text(encoding="utf-8"), kind) for f in files]


def write_corpus(
    pages: list[SourcePage], out: Path, count: int, seed: int, kind: str, duplicates: float
) -> int:
    """Write ``count`` copies under ``out`` (1,000 a folder); returns the bytes written."""
    suffix = ".html" if kind == "html" else ".txt"
    total = 0
    for n, page, text in iter_copies(pages, count, seed, kind, duplicates):
        folder = out / f"{n // 1000:03d}"
        if n % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        (folder / f"{n:06d}_{page.name[:12]}{suffix}").write_bytes(data)
        total += len(data)
    return total


# --- Measuring a child process ----------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CLOCK_MARK = "clock-started"


@dataclass
class ProcessPeak:
    """What was seen of one process: its role, its VmHWM and CPU seconds, last sampled."""

    role: str
    command: str
    hwm_kb: int = 0
    cpu: float = 0.0


@dataclass
class TreeSampler:
    """Samples VmHWM, VmRSS and CPU time of a process and all its descendants."""

    root: int
    #: A file the child makes when its clock starts: a fork-server child seen before it is
    #: the server's start-up probe, not a worker.
    clock_mark: Path | None = None
    interval: float = 0.1
    procs: dict[int, ProcessPeak] = field(default_factory=dict)
    writer_rss: list[tuple[float, int]] = field(default_factory=list)
    max_total_rss_kb: int = 0
    max_total_pss_kb: int = 0
    pss_every: int = 10  # samples between two readings of PSS (smaps_rollup is slower)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.perf_counter()
        self._samples = 0

    def start(self) -> None:
        """Start sampling in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling (after the root process has exited)."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """Read every process of the tree once."""
        total = total_pss = 0
        with_pss = self._samples % self.pss_every == 0
        self._samples += 1
        for pid, parent in _tree(self.root):
            status = _read(f"/proc/{pid}/status")
            stat = _read(f"/proc/{pid}/stat")
            if not status or not stat:
                continue  # exited between listing and reading
            fields = dict(
                line.split(":", 1) for line in status.splitlines() if line.startswith("Vm")
            )
            hwm = int(fields.get("VmHWM", "0 kB").split()[0])
            rss = int(fields.get("VmRSS", "0 kB").split()[0])
            ticks = stat.rsplit(")", 1)[1].split()
            cpu = (int(ticks[11]) + int(ticks[12])) / _CLOCK_TICKS
            command = _read(f"/proc/{pid}/cmdline")
            peak = self.procs.get(pid)
            if peak is not None and not command:
                continue  # exiting: its figures are gone, keep the last ones
            if peak is None or peak.command != command:
                # First seen, or it has exec'd since (a fresh image, with a fresh VmHWM).
                peak = ProcessPeak(self._role(pid, parent, command), command)
            peak.hwm_kb, peak.cpu = max(peak.hwm_kb, hwm), max(peak.cpu, cpu)
            self.procs[pid] = peak
            total += rss
            if with_pss:
                total_pss += _pss_kb(pid)
            if pid == self.root:
                self.writer_rss.append((time.perf_counter() - self._started, rss))
        self.max_total_rss_kb = max(self.max_total_rss_kb, total)
        self.max_total_pss_kb = max(self.max_total_pss_kb, total_pss)

    def _role(self, pid: int, parent: int, command: str) -> str:
        if pid == self.root:
            return "writer"
        if parent == self.root and "forkserver" in command:
            return "forkserver"
        if "resource_tracker" in command:
            return "helper"
        if parent in self.procs and self.procs[parent].role == "forkserver":
            started = self.clock_mark is None or self.clock_mark.exists()
            return "worker" if started else "probe"
        return "worker" if parent == self.root else "other"

    def peaks_mb(self, role: str) -> list[float]:
        """Peak RSS (VmHWM) of each process of a role, in MB."""
        return [p.hwm_kb / 1024 for p in self.procs.values() if p.role == role]

    def cpu_seconds(self, role: str) -> float:
        """CPU seconds of the processes of a role, as last sampled."""
        return sum(p.cpu for p in self.procs.values() if p.role == role)


def _pss_kb(pid: int) -> int:
    """A process's proportional set size: its private pages plus its share of shared ones."""
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        found += [int(c) for c in _read(f"/proc/{pid}/task/{task}/children").split()]
    return found


def _tree(root: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of the root and all its descendants."""
    out, queue = [(root, 0)], [root]
    while queue:
        pid = queue.pop()
        for child in _children(pid):
            out.append((child, pid))
            queue.append(child)
    return out


@dataclass(frozen=True)
class IngestRun:
    """The figures of one ingest run."""

    label: str
    inputs: int
    seconds: float
    summary: str
    writer_mb: float
    writer_cpu: float
    workers_mb: tuple[float, ...]
    workers_cpu: float
    helpers_mb: float
    tree_rss_mb: float
    tree_pss_mb: float
    writer_trace: tuple[tuple[float, int], ...]

    @property
    def cpu(self) -> float:
        """CPU seconds of the writer's process and every worker."""
        return self.writer_cpu + self.workers_cpu

    @property
    def rate(self) -> float:
        """Inputs per second."""
        return self.inputs / self.seconds

    @property
    def sum_mb(self) -> float:
        """Writer peak plus every worker's peak."""
        return self.writer_mb + sum(self.workers_mb)


# Each run's folder (its archive and thousands of clean files) is removed at the end of
# the whole benchmark, not after the run. On ext4 without a journal (virtual machines),
# creating a file skips every inode of its block group freed in the last minutes, so the
# next run's clean files would each cost 0.1-0.3 ms of kernel CPU more: a cost of the
# benchmark's own deletions, not of ingest, and one that weighs on the all-cores runs
# (where the writer's clean-file thread takes CPU from the workers) more than on the
# one-worker runs (where it has a core to itself).
FINISHED_RUNS: list[Path] = []


def remove_finished_runs() -> None:
    """Remove the folders of the runs done (at the end of the benchmark)."""
    while FINISHED_RUNS:
        shutil.rmtree(FINISHED_RUNS.pop(), ignore_errors=True)


def run_ingest(label: str, corpus: Path, inputs: int, workdir: Path, workers: int) -> IngestRun:
    """Ingest one corpus into a fresh archive in a child process, sampling its memory."""
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    argv = [sys.executable, __file__, "--child-ingest", str(corpus), str(run_dir)]
    child = subprocess.Popen([*argv, "--workers", str(workers)], stdout=subprocess.PIPE)
    sampler = TreeSampler(child.pid, clock_mark=run_dir / CLOCK_MARK)
    sampler.start()
    assert child.stdout is not None
    output = child.stdout.read()
    # wait4 reaps this one child; getrusage(RUSAGE_CHILDREN) would mix every run so far.
    _, status, _ = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    FINISHED_RUNS.append(run_dir)
    if child.returncode != 0:
        # Say what was seen before it ended: a killed long run still has its peaks.
        peaks = ", ".join(
            f"{p.role} {p.hwm_kb / 1024:.0f} MB" for p in sampler.procs.values() if p.hwm_kb
        )
        elapsed = sampler.writer_rss[-1][0] if sampler.writer_rss else 0.0
        raise SystemExit(
            f"{label}: the ingest child failed (exit {child.returncode}) after {elapsed:.0f} s;"
            f" peak RSS seen until then: {peaks or 'none'}"
        )
    result = json.loads(output.splitlines()[-1])
    return IngestRun(
        label=label,
        inputs=inputs,
        seconds=result["seconds"],
        summary=result["summary"],
        writer_mb=max(result["hwm_kb"] / 1024, *sampler.peaks_mb("writer")),
        writer_cpu=result["cpu"],
        workers_mb=tuple(sampler.peaks_mb("worker")),
        workers_cpu=sampler.cpu_seconds("worker"),
        helpers_mb=sum(sampler.peaks_mb("forkserver") + sampler.peaks_mb("helper")),
        tree_rss_mb=sampler.max_total_rss_kb / 1024,
        tree_pss_mb=sampler.max_total_pss_kb / 1024,
        writer_trace=tuple(sampler.writer_rss),
    )


def child_ingest(corpus: str, run_dir: str, workers: int) -> None:
    """In the child: import everything, then time one ingest and print its figures as JSON."""
    from archiver import pipeline
    from archiver import workers as archiver_workers

    # trafilatura and the language model are loaded before the clock starts, as the anchor
    # has them: in this process for one worker, in the pool's fork server for more (its
    # workers are forked from it, and their start stays on the clock).
    if workers == 1:
        archiver_workers.warm_up()
    else:
        archiver_workers.start_fork_server()
    (Path(run_dir) / CLOCK_MARK).touch()  # the workers forked from here on are the pool's
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    summary = pipeline.ingest(
        [corpus], db=Path(run_dir) / "archive.db", clean_dir=Path(run_dir) / "clean",
        workers=workers,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so it would report the
    # size of the parent this child was forked from.
    status = _read("/proc/self/status")
    hwm = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    figures = {
        "seconds": seconds,
        "summary": summary.line(),
        "cpu": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
        "hwm_kb": int(hwm[0]) if hwm else 0,
    }
    print(json.dumps(figures), flush=True)


#: Inputs of each kind the split run (extraction, then storing) holds in memory at most.
SPLIT_MAX_INPUTS = 2000


def run_split(corpus: Path, workdir: Path) -> dict[str, Any]:
    """Time extraction alone, then the writer alone, over one corpus, in a child process."""
    run_dir = Path(tempfile.mkdtemp(prefix="split-", dir=workdir))
    try:
        argv = [sys.executable, __file__, "--child-split", str(corpus), str(run_dir)]
        child = subprocess.run(argv, stdout=subprocess.PIPE, check=False)
        if child.returncode != 0:
            raise SystemExit(f"the split run of {corpus} failed (exit {child.returncode})")
        figures: dict[str, Any] = json.loads(child.stdout.splitlines()[-1])
        return figures
    finally:
        FINISHED_RUNS.append(run_dir)


def child_split(corpus: str, run_dir: str) -> None:
    """In the child: time what one worker does for each input, then what the writer does.

    Extraction is the function the workers run (pipeline.process_file, reading included);
    its outcomes are kept, then stored by the writer (pipeline.ArchiveWriter, as an ingest
    uses it: dedupe, removed lines, full-text index, clean files) with nothing else to do.
    """
    from archiver import pipeline, sources, store
    from archiver import workers as archiver_workers

    archiver_workers.warm_up()
    paths = list(sources.iter_raw_files([corpus]))[:SPLIT_MAX_INPUTS]
    start = time.perf_counter()
    outcomes = [pipeline.process_file(path) for path in paths]
    extract = time.perf_counter() - start
    db = store.open_db(Path(run_dir) / "archive.db")
    writer = pipeline.ArchiveWriter(db, Path(run_dir) / "clean")
    start = time.perf_counter()
    with writer.closing():
        for first in range(0, len(outcomes), pipeline.PREPARE_FILES):
            group = outcomes[first : first + pipeline.PREPARE_FILES]
            writer.prepare(group)
            for outcome in group:
                writer.save(outcome)
    store_seconds = time.perf_counter() - start
    print(json.dumps({"inputs": len(paths), "extract": extract, "store": store_seconds}))


def print_split(name: str, figures: dict[str, Any]) -> None:
    """One line: milliseconds per input of extraction and of storing, and the writer's cap."""
    inputs = figures["inputs"]
    extract_ms = 1000 * figures["extract"] / inputs
    store_ms = 1000 * figures["store"] / inputs
    share = store_ms / (extract_ms + store_ms)
    print(
        f"  {name}: extraction {extract_ms:.2f} ms an input, storing {store_ms:.2f} ms"
        f" ({share:.0%} of the two); the writer alone stores {1000 / store_ms:.0f} inputs/s,"
        f" the most any number of workers gives ({inputs} inputs)",
        flush=True,
    )


# --- What the machine gives several busy cores -----------------------------------------

#: Iterations of the busy loop: about a second alone on the development machine.
LOOP_ITERATIONS = 10_000_000
#: Seconds a loop process may take to start, or to report, before the measure gives up.
LOOP_TIMEOUT = 120


def _busy_loop(start: Any, iterations: int, out: Any) -> None:
    """Spin the interpreter (no I/O, no shared data) and report the loop's own seconds."""
    start.wait(timeout=LOOP_TIMEOUT)  # the processes' start-up stays out of the time
    began = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i % 7
    out.put(time.perf_counter() - began)


def machine_scaling(processes: int, iterations: int = LOOP_ITERATIONS) -> float:
    """Throughput of ``processes`` CPU-bound loops at once over one alone.

    The ceiling the machine itself puts on the all-cores ratios: work that shares nothing
    and waits for nothing reaches ``processes``x only when every busy core runs as fast
    as one core does alone (not so on a shared virtual machine, or with SMT siblings).
    """
    context = multiprocessing.get_context("spawn")

    def makespan(count: int) -> float:
        start, out = context.Barrier(count), context.Queue()
        loops = [
            context.Process(target=_busy_loop, args=(start, iterations, out)) for _ in range(count)
        ]
        for loop in loops:
            loop.start()
        times: list[float] = []
        deadline = time.monotonic() + LOOP_TIMEOUT
        while len(times) < count:
            try:
                times.append(out.get(timeout=1))
            except queue.Empty as empty:
                # A loop that died (killed, out of memory) would leave the others waiting.
                died = [loop.exitcode for loop in loops if loop.exitcode not in (None, 0)]
                if died or time.monotonic() > deadline:
                    for loop in loops:
                        loop.kill()
                    message = f"machine scaling: a busy loop failed or hung (exit codes {died})"
                    raise SystemExit(message) from empty
        for loop in loops:
            loop.join()
        return max(times)

    # One loop alone just before and just after, as the anchor: a drift weighs on both.
    before = makespan(1)
    together = makespan(processes)
    after = makespan(1)
    return processes * (before + after) / 2 / together


# --- The anchor -------------------------------------------------------------------------


def anchor_rate(corpus: Path) -> tuple[int, float]:
    """trafilatura.extract alone over the HTML copies, in this process: (pages, seconds)."""
    import trafilatura

    files = sorted(corpus.rglob("*.html"))
    if files:  # trafilatura's first call sets itself up: not on the clock
        trafilatura.extract(files[0].read_bytes().decode("utf-8"))
    start = time.perf_counter()
    for path in files:
        trafilatura.extract(path.read_bytes().decode("utf-8"))
    return len(files), time.perf_counter() - start


def print_anchor(corpus: Path, when: str) -> tuple[int, float]:
    """Time the anchor once and print its line of the table: (pages, seconds)."""
    count, seconds = anchor_rate(corpus)
    label = f"trafilatura.extract {when}"
    print(f"  {label:<26} {count:>7} {seconds:>8.1f} {count / seconds:>8.1f}", flush=True)
    return count, seconds


# --- Report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def print_run(run: IngestRun) -> None:
    """One line of the throughput table."""
    workers = "+".join(f"{m:.0f}" for m in run.workers_mb) or "-"
    busy = run.writer_cpu / run.seconds * 100
    print(
        f"  {run.label:<26} {run.inputs:>7} {run.seconds:>8.1f} {run.rate:>8.1f}"
        f" {run.writer_mb:>9.0f} {workers:>11} {run.sum_mb:>7.0f} {busy:>7.0f}%   {run.summary}",
        flush=True,
    )


def trace_line(trace: tuple[tuple[float, int], ...]) -> str:
    """The writer's RSS at each quarter of the run, to show whether memory grows."""
    if not trace:
        return "no samples"
    end = trace[-1][0]
    points = []
    for quarter in (0.25, 0.5, 0.75, 1.0):
        rss = next((r for t, r in trace if t >= quarter * end), trace[-1][1])
        points.append(f"{int(quarter * 100)}% {rss / 1024:.0f} MB")
    # Where the highest sample was: a spike above the steady size is a passing allocation.
    peak_at, peak = max(trace, key=lambda sample: sample[1])
    points.append(f"highest sample {peak / 1024:.0f} MB at {100 * peak_at / end:.0f}% of the run")
    return ", ".join(points)


def dedupe_scale(sizes: str, seed: int) -> None:
    """bench/dedupe.py's scale runs (each size in its own process), its figures passed on."""
    script = Path(__file__).with_name("dedupe.py")
    argv = [sys.executable, str(script), "--skip-quality", "--sizes", sizes, "--seed", str(seed)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        printed = 0
        for line in child.stdout:
            if _SCALE_LINE.match(line):  # one line per size; the LSH table is left out
                print("  " + line.strip(), flush=True)
                printed += 1
    if child.returncode:
        raise SystemExit(f"bench/dedupe.py failed (exit {child.returncode})")
    if not printed:
        print("  bench/dedupe.py printed no '<size> articles: ...' line (has its output changed?)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bench", default=os.environ.get("ARCHIVER_BENCH"))
    parser.add_argument(
        "--pages", type=int, help="HTML copies, and text-dump copies (2000); 0: no speed runs"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="all cores")
    parser.add_argument("--duplicates", type=float, default=DUPLICATES, help="near-duplicate share")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dedupe-sizes", help="dedupe scale runs (10000,30000,100000); 0: none")
    parser.add_argument("--memory-pages", type=int, help="text dumps of the memory run (100000)")
    parser.add_argument("--memory-workers", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, help="rounds of the speed runs (3); the targets take the medians"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--keep", metavar="DIR", help="build the corpus in DIR and keep it")
    parser.add_argument("--child-ingest", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-split", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ingest:
        child_ingest(*args.child_ingest, workers=args.workers)
        return 0
    if args.child_split:
        child_split(*args.child_split)
        return 0
    sizes = QUICK if args.quick else DEFAULTS
    pages = args.pages if args.pages is not None else int(sizes["pages"])
    memory_pages = args.memory_pages if args.memory_pages is not None else sizes["memory_pages"]
    dedupe_sizes = args.dedupe_sizes or str(sizes["dedupe_sizes"])
    args.repeat = max(1, args.repeat if args.repeat is not None else int(sizes["repeat"]))
    if not args.bench:
        parser.error("give --bench PATH (the folder with scrapinghub/) or set ARCHIVER_BENCH")
    bench = Path(args.bench)
    if not (bench / "scrapinghub" / "pages").is_dir():
        parser.error(f"no scrapinghub/pages in {bench}")
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="archiver-throughput-"))
    try:
        run_all(args, bench, workdir, pages, int(memory_pages), dedupe_sizes)
    finally:
        remove_finished_runs()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run_all(
    args: argparse.Namespace,
    bench: Path,
    workdir: Path,
    pages: int,
    memory_pages: int,
    dedupe_sizes: str,
) -> None:
    """Build the corpus, then print every figure."""
    dump_pages = load_sources(bench, "dump")
    if pages:
        speed(args, load_sources(bench, "html"), dump_pages, workdir, pages)
    if dedupe_sizes != "0":
        print("\ndedupe at scale (bench/dedupe.py, synthetic articles, each size its own process):")
        dedupe_scale(dedupe_sizes, args.seed)
    if memory_pages:
        memory(args, dump_pages, workdir, memory_pages)


def speed(
    args: argparse.Namespace,
    html_pages: list[SourcePage],
    dump_pages: list[SourcePage],
    workdir: Path,
    pages: int,
) -> None:
    """The anchor and the four ingest runs, then the speed targets as ratios."""
    started = time.perf_counter()
    corpus = {kind: workdir / kind for kind in ("html", "dumps")}
    for folder in corpus.values():
        shutil.rmtree(folder, ignore_errors=True)
    html_bytes = write_corpus(html_pages, corpus["html"], pages, args.seed, "html", args.duplicates)
    dump_bytes = write_corpus(
        dump_pages, corpus["dumps"], pages, args.seed, "dump", args.duplicates
    )
    print(
        f"corpus: {pages} HTML copies ({html_bytes / MB:.0f} MB) of {len(html_pages)} pages and "
        f"{pages} text-dump copies ({dump_bytes / MB:.0f} MB) of {len(dump_pages)} dumps, "
        f"{args.duplicates:.0%} near-duplicates, seed {args.seed}, under {workdir} "
        f"(built in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    print(f"machine: {os.cpu_count()} cores; --workers {args.workers}", flush=True)

    print()
    print(
        f"  {'run':<26} {'inputs':>7} {'seconds':>8} {'pages/s':>8} {'writer MB':>9}"
        f" {'workers MB':>11} {'sum MB':>7} {'writer CPU':>8}"
    )
    # The machine's speed drifts within minutes, by a third at times, so every ratio is
    # taken between runs side by side, in rounds (--repeat), and the targets take the
    # median of the rounds. The anchor runs just before and just after the one-worker
    # HTML ingest it is compared with; the one-worker and the all-cores runs take turns
    # to go first, so that a steady drift weighs on both alike.
    html_ratios: list[float] = []
    dump_rates: list[float] = []
    scaling: dict[str, list[float]] = {"html": [], "dumps": []}
    cpu_ratios: dict[str, list[float]] = {"html": [], "dumps": []}
    machine: list[float] = []
    counts = sorted({1, args.workers})
    for round_no in range(args.repeat):
        suffix = f" #{round_no + 1}" if args.repeat > 1 else ""
        for kind, name in (("html", "HTML"), ("dumps", "dumps")):
            if kind == "dumps" and args.workers > 1:
                # Next to the dump runs, whose ratio is the one at the edge of its target.
                machine.append(machine_scaling(args.workers))
                print(
                    f"  {args.workers} busy loops at once / 1 alone{suffix}: {machine[-1]:.3f}x",
                    flush=True,
                )
            runs: dict[int, IngestRun] = {}
            for workers in counts if round_no % 2 == 0 else counts[::-1]:
                if kind == "html" and workers == 1:
                    before = print_anchor(corpus["html"], "before")
                label = f"ingest {name}, {workers} worker{'s' if workers > 1 else ''}{suffix}"
                runs[workers] = run_ingest(label, corpus[kind], pages, workdir, workers)
                print_run(runs[workers])
                if kind == "html" and workers == 1:
                    after = print_anchor(corpus["html"], "after")
                    anchor = (before[0] + after[0]) / (before[1] + after[1])
                    html_ratios.append(runs[1].rate / anchor)
            if kind == "dumps":
                dump_rates.append(runs[1].rate)
            scaling[kind].append(runs[args.workers].rate / runs[1].rate)
            cpu_ratios[kind].append(runs[args.workers].cpu / runs[1].cpu)

    rounds = f"median of {args.repeat} rounds" if args.repeat > 1 else "one round"
    print(f"\ntargets (ratios between runs side by side; {rounds}):")
    html_ratio = statistics.median(html_ratios)
    print(
        f"  HTML, 1 worker / trafilatura.extract alone (before and after):"
        f" {html_ratio:.3f}x{_each(html_ratios, 'x')}  (target >= 0.8)  {verdict(html_ratio >= 0.8)}"
    )
    dump_rate = statistics.median(dump_rates)
    print(
        f"  text dumps, 1 worker: {dump_rate:.0f} pages/s{_each(dump_rates, '')}"
        f"  (target >= 300)  {verdict(dump_rate >= 300)}"
    )
    for kind, name in (("html", "HTML"), ("dumps", "text dumps")):
        ratio = statistics.median(scaling[kind])
        target = verdict(ratio >= 1.7) if args.workers == 2 else "(the target is for 2 workers)"
        print(
            f"  {name}, {args.workers} workers / 1 worker: {ratio:.3f}x{_each(scaling[kind], 'x')}"
            f"  (target >= 1.7)  {target}"
        )
    if args.workers > 1:
        # The CPU-time ratio is not the pool's overhead alone: with every core busy, a
        # CPU second does less work where the loops' ratio is below the worker count.
        print("\nwhat bounds the all-cores ratios (not targets):")
        print(
            f"  the machine: {args.workers} CPU-bound loops at once / 1 alone:"
            f" {statistics.median(machine):.3f}x{_each(machine, 'x')}"
        )
        for kind, name in (("html", "HTML"), ("dumps", "text dumps")):
            ratio = statistics.median(cpu_ratios[kind])
            print(
                f"  {name}, CPU time of the whole ingest, {args.workers} workers / 1 worker:"
                f" {ratio:.3f}x{_each(cpu_ratios[kind], 'x')}"
            )

    # What one worker's time is made of, and what bounds any number of workers: the one
    # writer. Each part alone, in one process, on the same corpus (not a target).
    print("\nwhere one worker's time goes (each part alone, one process; not targets):")
    for kind, name in (("html", "HTML"), ("dumps", "text dumps")):
        print_split(name, run_split(corpus[kind], workdir))


def _each(values: list[float], unit: str) -> str:
    """The figure of each round, when there are several."""
    if len(values) < 2:
        return ""
    digits = 3 if unit == "x" else 0
    return " (rounds: " + ", ".join(f"{v:.{digits}f}{unit}" for v in values) + ")"


def memory(
    args: argparse.Namespace, dump_pages: list[SourcePage], workdir: Path, memory_pages: int
) -> None:
    """Peak memory of one large text-dump ingest with --memory-workers workers."""
    print(f"\nmemory: {memory_pages} text dumps with {args.memory_workers} workers", flush=True)
    started = time.perf_counter()
    folder = workdir / "memory"
    shutil.rmtree(folder, ignore_errors=True)
    size = write_corpus(dump_pages, folder, memory_pages, args.seed, "dump", args.duplicates)
    print(f"  corpus {size / MB:.0f} MB, built in {time.perf_counter() - started:.0f} s")
    label = f"ingest dumps, {args.memory_workers} workers"
    run = run_ingest(label, folder, memory_pages, workdir, args.memory_workers)
    print_run(run)
    shutil.rmtree(folder, ignore_errors=True)
    workers = ", ".join(f"{m:.0f}" for m in run.workers_mb) or "none"
    print(
        f"  peak RSS: writer {run.writer_mb:.0f} MB, workers {workers} MB, "
        f"sum {run.sum_mb:.0f} MB (helpers {run.helpers_mb:.0f} MB more); the largest "
        f"sampled total of the tree at one moment {run.tree_rss_mb:.0f} MB"
    )
    print(
        f"  peak PSS of the whole tree at one moment (shared pages counted once): "
        f"{run.tree_pss_mb:.0f} MB"
    )
    target = (
        "" if memory_pages >= 100_000 else f" (the target is for 100000; this ran {memory_pages})"
    )
    print(
        f"  under 500 MB: sum of peak RSS {verdict(run.sum_mb < 500)}, "
        f"peak PSS {verdict(run.tree_pss_mb < 500)}{target}"
    )
    print(f"  writer RSS through the run: {trace_line(run.writer_trace)}")
    print(f"  workers' CPU {run.workers_cpu:.0f} s, writer's {run.writer_cpu:.0f} s")


if __name__ == "__main__":
    sys.exit(main())

"""Where extraction runs: in this process, in a local process pool, or on a Dask cluster
(:mod:`archiver.cluster`).

Every backend yields results in the order of its inputs, so the single writer stores
files in the same order whatever the parallelism: deduplication ("first ingested"
breaks ties) then links exactly what a one-worker run links. At most a window of tasks
is in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, TypeVar

R = TypeVar("R")
#: Tasks sent to a pool worker together, each a tuple of a function's arguments.
Chunk = tuple[tuple[Any, ...], ...]
#: Each task's outcome in a chunk: (True, its result) or (False, (its error, the traceback)).
Outcomes = list[tuple[bool, Any]]

# Tasks in flight per worker: enough to keep workers busy while the writer commits a
# batch and writes its clean files. With 8, the writer of a two-worker run of text
# dumps still waited 3 s of 16 s for results; with 32, 1 s (most of it the pool's start).
TASKS_PER_WORKER = 32
# Tasks a pool worker is sent at once. Each hand-over wakes two of the writer's threads
# (the pool's feeder and its result reader) and takes the GIL from the writer's own work,
# which cost the writer of a two-worker run of text dumps more than a millisecond a page.
TASKS_PER_CHUNK = 8
# A chunk closes early once its tasks read this many bytes: a page of HTML takes a few
# milliseconds per 10 kB, so that chunks of large pages or WARC captures still spread
# over the workers (eight captures in one chunk would leave the other workers idle).
CHUNK_BYTES = 256 * 1024
# The workers run at a lower priority than the writer (and than other programs): the
# writer is the one stage every page goes through, and when three busy processes share two
# cores, the writer waiting for its turn leaves the workers waiting for it in turn. In a
# two-worker run of text dumps, the two cores went from 82-87% busy to 96-99%.
WORKER_NICENESS = 10
# Below this many inputs a process pool costs more to start than it saves.
MIN_INPUTS_FOR_POOL = 16


# Allocations between two collections of the youngest generation while a run goes
# (Python's default: 700). A page allocates thousands of short-lived objects (its lines,
# their verdicts, the removed lines unpickled in the writer); with the objects loaded
# before the run frozen (the models, trafilatura), collecting took 0.5 s of an 11 s
# one-worker ingest of 2,000 text dumps, and 0.06 s this way.
GC_YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often while a run goes, leaving the interpreter as it was.

    What is loaded when the run starts is frozen (gc.freeze): a full collection then
    skips it. A program that freezes objects itself, or turned collection off, is left
    to do as it does.
    """
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], GC_YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def warm_up() -> None:
    """Load the heavy modules and models once per worker, before the first task."""
    import trafilatura  # noqa: F401

    from . import lang

    lang.identify("warm up the language model")
    # The stopword index of every language is built on first use too (0.16 s): built
    # here, the fork server's workers share it instead of each building its own.
    lang.vote_by_stopwords("warm up the stopword index")


def _start_worker(writer_alive: Connection) -> None:
    """A pool worker's start: load the models, and end with the process that started it."""
    # Ctrl-C reaches every process of the terminal's job: it is the writer's to act on (it
    # stores the file in hand, commits and shuts the pool down); a worker stopped in the
    # middle of a page would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warm_up()
    # A worker lives for its pool: what it loaded stays, and collections come less often.
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    with contextlib.suppress(OSError):  # a system that refuses changes nothing else
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_writer, args=(writer_alive,), daemon=True).start()


def _exit_with_writer(writer_alive: Connection) -> None:
    # A writer killed outright (SIGKILL, the out-of-memory killer) never shuts its pool
    # down: its workers would wait for tasks for ever, and keep the fork server alive.
    # Nothing is ever sent on this pipe; it ends when the writer's end closes.
    with contextlib.suppress(EOFError, OSError):
        writer_alive.recv()
    os._exit(1)


# This process's id and the two ends of its pipe (made again in a forked child).
_ALIVE: tuple[int, Connection, Connection] | None = None


def _writer_alive() -> Connection:
    """The read end of a pipe whose write end only this process holds, until it ends."""
    global _ALIVE
    if _ALIVE is None or _ALIVE[0] != os.getpid():
        _ALIVE = (os.getpid(), *multiprocessing.Pipe(duplex=False))
    return _ALIVE[1]


def _pool_context() -> multiprocessing.context.ForkServerContext:
    # forkserver, not fork: a forked child would inherit the parent's open SQLite
    # connection, and closing it there can checkpoint and remove the WAL under it.
    context = multiprocessing.get_context("forkserver")
    # Loaded in the fork server before it forks the workers, so they share one copy
    # (a fork server already running keeps what it has).
    context.set_forkserver_preload(["archiver._warm"])
    return context


def start_fork_server() -> None:
    """Start the fork server the local pool's workers come from, with the models loaded.

    A run starts it when it needs it; starting it ahead (a benchmark before its clock)
    takes the loading of trafilatura and the language model out of the run.
    """
    context = _pool_context()
    _ensure_fork_server()
    # ensure_running returns as soon as the server is spawned, while it is still loading
    # the modules it preloads; a first child forked from it is served after that.
    child = context.Process(target=_do_nothing)
    child.start()
    child.join()


# The signals held by the open held_interrupts block, for hold_or_interrupt (one block at
# most: a block inside another holds nothing of its own).
_HELD: list[list[int]] = []


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """Hold Ctrl-C (SIGINT) while the block runs; yields the signals that came meanwhile.

    A second Ctrl-C raises at once. Only in the main thread and over Python's own
    handler: elsewhere, or where a program has installed its own, nothing is held. Where
    Ctrl-C is ignored (a run started in the background by a shell, or by ``nohup``), the
    block still holds the stop signals routed through :func:`hold_or_interrupt`.
    """
    handler = signal.getsignal(signal.SIGINT)
    if (
        threading.current_thread() is not threading.main_thread()
        or _HELD
        or handler not in (signal.default_int_handler, signal.SIG_IGN)
    ):
        yield []
        return
    held: list[int] = []
    _HELD.append(held)
    if handler is signal.default_int_handler:
        signal.signal(signal.SIGINT, _hold_ctrl_c)
    try:
        yield held
    finally:
        if handler is signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _HELD.pop()


def hold_or_interrupt(signum: int) -> None:
    """Hold a stop signal as Ctrl-C is held inside :func:`held_interrupts`, else stop now."""
    if not _HELD or _HELD[-1]:  # no block holds, or a second signal: the user will not wait
        raise KeyboardInterrupt
    _HELD[-1].append(signum)


def _hold_ctrl_c(signum: int, frame: object) -> None:
    hold_or_interrupt(signum)


def _do_nothing() -> None:
    """A child's or a task's work that only shows a process started and ran."""


def map_ordered(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    workers: int = 1,
    scheduler: str | None = None,
    on_crash: Callable[..., R] | None = None,
    size: Callable[..., int] | None = None,
) -> Generator[R, None, None]:
    """Apply fn to each task's arguments, in parallel where asked, yielding in task order.

    ``scheduler`` is the address of a Dask distributed scheduler (tcp://host:port);
    otherwise ``workers`` > 1 starts a local process pool. ``on_crash(*task)`` gives the
    result of a task that kills the worker process running it (see :func:`_pool_map_chunks`; on
    Dask, once Dask gives up on it with KilledWorker); without it, that error is raised.
    ``size(*task)``, the bytes a task reads, keeps large tasks out of each other's chunk.
    """
    if scheduler:
        from .cluster import dask_map  # imported here: the cluster module builds on this one

        yield from dask_map(fn, tasks, scheduler, on_crash)
    elif workers <= 1:
        for task in tasks:
            yield fn(*task)
    else:
        yield from _pool_map(fn, tasks, workers, on_crash, size)


def _pool_map(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    workers: int,
    on_crash: Callable[..., R] | None,
    size: Callable[..., int] | None = None,
) -> Iterator[R]:
    """A local pool that outlives its workers: a worker that dies costs one task at most.

    Tasks go to the workers in chunks (see TASKS_PER_CHUNK); a task's own error is
    raised in its turn, as a one-task-at-a-time run would raise it.
    """
    for outcomes in _pool_map_chunks(fn, _chunked(tasks, size), workers, on_crash):
        for done, value in outcomes:
            if not done:
                error, remote = value
                raise error from RemoteTraceback(remote)
            yield value


def _chunked(
    tasks: Iterable[tuple[Any, ...]], size: Callable[..., int] | None = None
) -> Iterator[Chunk]:
    """The tasks in chunks of TASKS_PER_CHUNK, or fewer once they read CHUNK_BYTES, lazily."""
    chunk: list[tuple[Any, ...]] = []
    total = 0
    for task in tasks:
        chunk.append(task)
        total += size(*task) if size is not None else 0
        if len(chunk) >= TASKS_PER_CHUNK or total >= CHUNK_BYTES:
            yield tuple(chunk)
            chunk, total = [], 0
    if chunk:
        yield tuple(chunk)


def run_chunk(fn: Callable[..., R], chunk: Chunk) -> Outcomes:
    """Run each task of a chunk in a worker: (True, result) or (False, (error, traceback))."""
    outcomes: Outcomes = []
    for task in chunk:
        try:
            outcomes.append((True, fn(*task)))
        except Exception as exc:  # the others' results must not be lost with it
            outcomes.append((False, (exc, traceback.format_exc())))
    return outcomes


class RemoteTraceback(Exception):
    """The traceback of a task's error in the worker that ran it (the error's cause)."""

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


def _pool_map_chunks(
    fn: Callable[..., R],
    chunks: Iterator[Chunk],
    workers: int,
    on_crash: Callable[..., R] | None,
) -> Iterator[Outcomes]:
    """The outcomes of each chunk, in order, from pools made again when one breaks.

    A worker killed (by the out-of-memory killer, or a crash in a parser) breaks the whole
    pool, and its unfinished chunks with it. Those that may have reached a worker are run
    again alone, and a chunk that kills its worker again is split into its tasks, each run
    alone, so that only a task that kills its worker again is given up (its result is
    ``on_crash(*task)``); the others go on in a new pool, in their order.
    """
    window = max(1, workers * TASKS_PER_WORKER // TASKS_PER_CHUNK)
    # Each entry is a chunk and its future; None for a chunk still to submit.
    pending: deque[tuple[Chunk, Future[Outcomes] | None]] = deque()
    while True:
        with _new_pool(workers) as pool:
            try:
                # The broken pool's chunks that never reached it go first, in their order.
                pending = deque(
                    (c, f if f is not None else _submit(pool, fn, c)) for c, f in pending
                )
                broken = any(f is None for _, f in pending)
                while True:
                    while not broken and len(pending) < window:
                        if (chunk := next(chunks, None)) is None:
                            break
                        pending.append((chunk, _submit(pool, fn, chunk)))
                        broken = pending[-1][1] is None
                    if not pending:
                        return
                    future = pending[0][1]
                    if future is None or _lost(future, pool):
                        break
                    pending.popleft()
                    yield future.result()
            except BaseException:
                # Ctrl-C, an error, or a consumer that stopped: the results in flight are
                # not wanted, and a worker deep in a large page would hold the exit up.
                _stop_workers(pool)
                raise
        pending = _settle(fn, pending, _suspects(workers), on_crash)


#: Seconds a terminated worker has to exit before it is killed.
STOP_SECONDS = 5.0


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now, without waiting for the tasks they run."""
    _end_workers(pool)
    pool.shutdown(wait=True, cancel_futures=True)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers now, and with them its manager's wait for their results.

    A worker that died halfway through sending a result (stopped at once, or killed by
    the out-of-memory killer) leaves the pool's manager thread reading the rest of it for
    ever, so the pool never sees the worker die, and shutdown (or the exit) waits for that
    thread. Once no worker holds the result pipe, closing this process's sending end ends
    that read: the pool is then broken, as it is.
    """
    processes = _pool_processes(pool)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
    with contextlib.suppress(Exception):
        pool._result_queue._writer.close()  # type: ignore[attr-defined]


def _pool_processes(pool: ProcessPoolExecutor) -> list[multiprocessing.process.BaseProcess]:
    """The pool's worker processes (none once it is shut down)."""
    # No public way before Python 3.14 (terminate_workers): the pool's own table of them,
    # which shutdown empties.
    return list((getattr(pool, "_processes", None) or {}).values())


#: Seconds a chunk's result is waited for before looking for a worker that died unseen.
STALL_CHECK_SECONDS = 5.0


def _wait(future: Future[Any], pool: ProcessPoolExecutor | None) -> BaseException | None:
    """Wait for a future of the pool, and give its exception (None if it has none)."""
    if pool is None:
        return future.exception()
    while True:
        try:
            return future.exception(timeout=STALL_CHECK_SECONDS)
        except TimeoutError:
            if any(process.exitcode is not None for process in _pool_processes(pool)):
                _end_workers(pool)  # a worker is gone and the pool has not seen it


def _submit(
    pool: ProcessPoolExecutor, fn: Callable[..., Any], chunk: Chunk
) -> Future[Outcomes] | None:
    """The chunk's future, or None when the pool is broken already."""
    try:
        # Held: a submit may start a worker, which an interrupt halfway through would leave
        # reading the pool's semaphores after this process removed them (a traceback).
        with held_interrupts() as held:
            future = pool.submit(run_chunk, fn, chunk)
    except BrokenExecutor:
        return None
    if held:
        raise KeyboardInterrupt
    return future


def _lost(future: Future[Any] | None, pool: ProcessPoolExecutor | None = None) -> bool:
    """True for a chunk a broken pool lost: never submitted, or unfinished when it broke.

    Waits for the future: a pool that breaks fails every future it has not finished.
    """
    return future is None or isinstance(_wait(future, pool), BrokenExecutor)


def _suspects(workers: int) -> int:
    """How many of a broken pool's first unfinished chunks may have reached a worker.

    One running in each worker, and the pool's call queue: a chunk per worker and one
    more (ProcessPoolExecutor's EXTRA_QUEUED_CALLS). The later ones never left here.
    """
    return 2 * workers + 1


def _settle(
    fn: Callable[..., R],
    pending: deque[tuple[Chunk, Future[Outcomes] | None]],
    suspects: int,
    on_crash: Callable[..., R] | None,
) -> deque[tuple[Chunk, Future[Outcomes] | None]]:
    """The chunks of a broken pool: results kept, suspects run alone, the rest to resubmit."""
    settled: deque[tuple[Chunk, Future[Outcomes] | None]] = deque()
    alone = _Alone()
    try:
        for chunk, future in pending:
            if not _lost(future):
                settled.append((chunk, future))  # finished before the break
            elif future is not None and suspects > 0:
                suspects -= 1
                settled.append((chunk, alone.run(fn, chunk, on_crash)))
            else:
                settled.append((chunk, None))
    finally:
        alone.close()
    return settled


class _Alone:
    """Runs chunks one at a time, each in the one worker of a pool of its own."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None

    def run(
        self, fn: Callable[..., R], chunk: Chunk, on_crash: Callable[..., R] | None
    ) -> Future[Outcomes]:
        """The chunk's outcomes as a done future; a task's second death gives ``on_crash(*task)``."""
        done: Future[Outcomes] = Future()
        self.pool = self.pool or _new_pool(1)
        try:
            future = self.pool.submit(run_chunk, fn, chunk)
            _wait(future, self.pool)
            done.set_result(future.result())
        except BrokenExecutor:
            self.close()
            if len(chunk) > 1:
                # One of its tasks killed the worker again: each alone finds which.
                alone = [self.run(fn, (task,), on_crash).result() for task in chunk]
                done.set_result([outcome for outcomes in alone for outcome in outcomes])
            # A worker that dies whatever it runs (its start fails) is no fault of the task.
            elif on_crash is None or not _workers_survive():
                raise
            else:
                done.set_result([(True, on_crash(*chunk[0]))])
        except Exception as exc:  # the pool's own error (a chunk that cannot be sent)
            done.set_exception(exc)
        return done

    def close(self) -> None:
        """Shut the pool down."""
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def _workers_survive() -> bool:
    """True when a new worker starts and runs a task that does nothing."""
    with _new_pool(1) as probe:
        try:
            probe.submit(_do_nothing).result()
        except BrokenExecutor:
            return False
    return True


def _ensure_fork_server() -> None:
    """Start the fork server, if not running, with Ctrl-C ignored in it from the start."""
    from multiprocessing import forkserver

    # Ctrl-C reaches every process of the terminal's job, and the fork server takes a
    # second to import trafilatura before it ignores SIGINT itself: interrupted then, it
    # printed a traceback. An ignored signal stays ignored in the program it starts (and in
    # the workers it forks); the writer ignores it only while the server is spawned.
    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    context = _pool_context()
    _ensure_fork_server()
    return ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(_writer_alive(),),
    )

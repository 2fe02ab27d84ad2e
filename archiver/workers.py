"""Where extraction runs: in this process, in a local process pool, or on a Dask cluster.

Every backend yields results in the order of its inputs, so the single writer stores
files in the same order whatever the parallelism: deduplication ("first ingested"
breaks ties) then links exactly what a one-worker run links. At most ``window`` tasks
are in flight, so memory does not grow with the corpus.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")

# Tasks in flight per worker: enough to keep workers busy while the writer commits a
# batch and writes its clean files. With 8, the writer of a two-worker run of text
# dumps still waited 3 s of 16 s for results; with 32, 1 s (most of it the pool's start).
TASKS_PER_WORKER = 32
# Below this many inputs a process pool costs more to start than it saves.
MIN_INPUTS_FOR_POOL = 16


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
    from multiprocessing import forkserver

    context = _pool_context()
    forkserver.ensure_running()
    # ensure_running returns as soon as the server is spawned, while it is still loading
    # the modules it preloads; a first child forked from it is served after that.
    child = context.Process(target=_exit_at_once)
    child.start()
    child.join()


def _exit_at_once() -> None:
    """A child that only shows the fork server is ready."""


def map_ordered(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    workers: int = 1,
    scheduler: str | None = None,
) -> Iterator[R]:
    """Apply fn to each task's arguments, in parallel where asked, yielding in task order.

    ``scheduler`` is the address of a Dask distributed scheduler (tcp://host:port);
    otherwise ``workers`` > 1 starts a local process pool.
    """
    if scheduler:
        yield from _dask_map(fn, tasks, scheduler)
    elif workers <= 1:
        for task in tasks:
            yield fn(*task)
    else:
        context = _pool_context()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=warm_up) as pool:
            yield from _windowed(
                lambda task: pool.submit(fn, *task), tasks, workers * TASKS_PER_WORKER
            )


def _windowed(
    submit: Callable[[tuple[Any, ...]], Any], tasks: Iterable[tuple[Any, ...]], window: int
) -> Iterator[Any]:
    """Keep at most ``window`` futures in flight; yield their results in submission order."""
    pending: deque[Any] = deque()
    for task in tasks:
        pending.append(submit(task))
        if len(pending) >= window:
            yield _result(pending.popleft())
    while pending:
        yield _result(pending.popleft())


def _result(future: Any) -> Any:
    return future.result()


def _dask_map(
    fn: Callable[..., R], tasks: Iterable[tuple[Any, ...]], scheduler: str
) -> Iterator[R]:
    try:
        from distributed import Client
    except ImportError:
        raise RuntimeError("distributed ingest needs Dask: pip install 'archiver[dask]'") from None
    with Client(scheduler) as client:
        nthreads = sum(client.nthreads().values()) or 1
        client.run(warm_up)
        yield from _windowed(
            lambda task: client.submit(fn, *task, pure=False), tasks, nthreads * TASKS_PER_WORKER
        )

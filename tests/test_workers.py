"""The local worker pool: stopping it whatever state its workers are in."""

from __future__ import annotations

import gc
import os
import struct
import threading
from multiprocessing.queues import SimpleQueue

import pytest

from archiver import workers


def test_stopping_a_pool_whose_worker_died_halfway_through_sending_a_result_returns() -> None:
    pool = workers._new_pool(1)
    assert pool.submit(len, "abc").result(timeout=60) == 3  # the worker has started
    processes = list(pool._processes.values())  # type: ignore[attr-defined]
    # What a worker ended halfway through sending a result leaves in the pool's result
    # pipe (as Ctrl-C does, which stops the workers at once): the length of a message and
    # only the start of it. The pool's manager thread then waits for the rest.
    writer = pool._result_queue._writer  # type: ignore[attr-defined]
    writer._send(struct.pack("!i", 1_000_000) + b"only the start")
    stopped = threading.Thread(target=workers._stop_workers, args=(pool,), daemon=True)
    stopped.start()
    stopped.join(timeout=60)
    assert not stopped.is_alive()  # it hung for ever (and the interpreter's exit with it)
    assert processes and not any(process.is_alive() for process in processes)


def die_halfway_through_sending(number: int) -> int:
    """A task that kills its worker as it sends its result, for the number 3 (in a worker)."""
    if number == 3:
        # The pool's result queue, in the worker that runs this: the one SimpleQueue
        # (made before the worker froze what it had loaded: gc.get_objects skips those).
        gc.unfreeze()
        (results,) = [o for o in gc.get_objects() if isinstance(o, SimpleQueue)]
        results._writer._send(struct.pack("!i", 1_000_000) + b"only the start")
        os._exit(1)
    return number * 10


def test_a_worker_that_dies_halfway_through_sending_a_result_is_a_crash_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "STALL_CHECK_SECONDS", 0.5)
    tasks = [(number,) for number in range(40)]
    results: list[int] = []
    run = threading.Thread(
        target=lambda: results.extend(
            workers.map_ordered(die_halfway_through_sending, tasks, 2, on_crash=lambda n: -n)
        ),
        daemon=True,
    )
    run.start()
    run.join(timeout=120)
    assert not run.is_alive()  # the pool waited for the rest of the result for ever
    # The other files go on; the one that kills its worker, twice, is given up.
    assert results == [-3 if number == 3 else number * 10 for number in range(40)]

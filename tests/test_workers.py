"""The local worker pool: stopping it whatever state its workers are in."""

from __future__ import annotations

import struct
import threading

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

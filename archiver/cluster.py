"""Extraction on a Dask distributed cluster: connect, check the workers, stream results.

The writer stays in this process; the cluster's workers extract and strip, and the
results come back in the order of the tasks, as from the local pool of
:mod:`archiver.workers`. Every failure of the cluster itself (an address that is no
scheduler, a scheduler lost, workers that cannot run archiver) is a SchedulerError with
one line that says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from typing import Any, TypeVar

from .workers import TASKS_PER_WORKER, warm_up

R = TypeVar("R")

#: Notes for the person running the ingest (the CLI prints them); Dask's own loggers
#: are kept quiet meanwhile (see :func:`quiet_dask_logs`).
LOGGER = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_dask_logs() -> Iterator[None]:
    """Keep Dask's log records off the terminal for a while; their levels are restored after."""
    # Dask sets the levels of its loggers when it is imported, so it is imported first.
    with contextlib.suppress(ImportError):
        import distributed  # noqa: F401
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached, or was lost during the run."""


def dask_map(
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    scheduler: str,
    on_crash: Callable[..., R] | None = None,
) -> Iterator[R]:
    """Apply fn to each task's arguments on the Dask cluster of ``scheduler``, in task order.

    ``on_crash(*task)`` gives the result of a task Dask gives up on (KilledWorker).
    """
    try:
        from distributed import Client, KilledWorker
    except ImportError:
        raise RuntimeError("distributed ingest needs Dask: pip install 'archiver[dask]'") from None

    client = _connect(Client, scheduler)
    with client:
        yield from _dask_results(client, scheduler, fn, tasks, on_crash, KilledWorker)


def _connect(client_class: Any, scheduler: str) -> Any:
    """A Dask client connected to the scheduler, or SchedulerError saying why not."""
    # Made, then connected, so that the client of a failed connection is at hand to close:
    # Dask leaves it open, and garbage-collected later, its close waits for an event loop
    # that is stopped (at exit: a minute) or starting the next client (a deadlock).
    client = client_class.__new__(client_class)
    try:
        _check_answers(scheduler)
        client.__init__(scheduler)
        return client
    # Unreachable, no address at all, or a scheme without its settings (tls:// needs
    # certificates in Dask's configuration: TypeError).
    except (OSError, ValueError, TypeError) as exc:
        reason = str(exc)
    with contextlib.suppress(Exception):
        client.close()
    # Raised here, not in the except clause: as its context, Dask's error would keep the
    # client it failed to connect alive.
    raise SchedulerError(f"cannot connect to the Dask scheduler {scheduler}: {reason}")


#: Seconds a Dask scheduler has to answer once connected, beyond Dask's connect timeout
#: (distributed.comm.timeouts.connect, 30 s by default). Dask's timeout covers opening
#: the connection, not the handshake after it (dask/distributed#7698), so an address
#: that accepts and never answers, such as the dashboard's port, is otherwise waited on
#: for ever.
HANDSHAKE_SECONDS = 10


#: Seconds of silence from a scheduler before the run says it is waiting for it.
WAIT_NOTE_SECONDS = 3.0
#: Seconds the first plain connection may take to tell "nothing listens" (refused); an
#: address that does not answer at all is then left to Dask's connect timeout.
LISTEN_CHECK_SECONDS = 2.0


def _check_answers(scheduler: str) -> None:
    """Raise OSError when a tcp:// address does not answer as a Dask scheduler in time."""
    import dask
    from distributed.comm import connect
    from distributed.comm.addressing import parse_address

    # Other schemes (tls://, ucx://) take connection arguments from the client's security
    # settings: the client connects to them alone, as Dask does.
    if parse_address(scheduler)[0] != "tcp":
        return
    limit = dask.utils.parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    limit = float(limit or 0) + HANDSHAKE_SECONDS

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(scheduler), limit)
        await comm.close()

    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _check_listening(scheduler, min(limit, LISTEN_CHECK_SECONDS))
            asyncio.run(probe())
        except BaseException as exc:  # raised in the caller's thread
            outcome.append(exc)

    # A thread of its own, as a daemon: the caller may be running an event loop (a
    # notebook), and Ctrl-C must end the wait at once, not when the probe gives up.
    thread = threading.Thread(target=run, name="archiver-scheduler-probe", daemon=True)
    thread.start()
    thread.join(timeout=WAIT_NOTE_SECONDS)
    if thread.is_alive():
        # Dask tries again and again while nothing listens (a scheduler may be starting).
        LOGGER.warning(
            "waiting for the Dask scheduler %s to answer, for up to %.0f s", scheduler, limit
        )
        thread.join()
    if not outcome:
        return
    error = outcome[0]
    if isinstance(error, TimeoutError):  # the limit above (Dask's own is an OSError)
        raise OSError(
            f"no answer as a Dask scheduler within {limit:.0f} s (a scheduler listens on "
            "port 8786 unless told otherwise; 8787 is its dashboard)"
        )
    if isinstance(error, (OSError, ValueError, TypeError)):
        raise error
    # Another protocol's first bytes read as a Dask message: a length of exabytes, say.
    raise OSError(f"what answers is not a Dask scheduler ({type(error).__name__} on reading it)")


def _check_listening(scheduler: str, limit: float) -> None:
    """Raise OSError at once when nothing listens at a tcp:// address (connection refused).

    Dask would try again until its connect timeout (30 s), in case a scheduler is
    starting; a scheduler is started before the ingest that uses it, so saying so now
    is worth more than the wait.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    host, port = parse_host_port(parse_address(scheduler)[1])
    try:
        with socket.create_connection((host, port), timeout=limit):
            return
    except ConnectionRefusedError:
        raise OSError(
            f"nothing listens at {host}:{port} (connection refused): start the scheduler "
            "first (dask scheduler), or check the address"
        ) from None
    except OSError:  # unreachable or silent (a firewall): Dask's own connect says which
        return


@contextlib.contextmanager
def _scheduler_errors(client: Any, scheduler: str) -> Iterator[None]:
    """Raise an error of a client that lost its scheduler as a SchedulerError."""
    try:
        yield
    except Exception as exc:
        # The tasks never raise for a bad input (an input's error is its outcome), so a
        # closed connection or a cancelled future is the cluster's; anything else is only
        # when the client is no longer running (reconnecting, or closed after trying).
        if client.status == "running" and not isinstance(exc, (OSError, CancelledError)):
            raise
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise SchedulerError(
            f"lost the connection to the Dask scheduler {scheduler} ({reason})"
        ) from None


def _warm_up_on_worker() -> str | None:
    """warm_up on a Dask worker: None, or its error as one line of text."""
    # Returned, not raised: what client.run raises is then the cluster's, or a worker's
    # failure to load this module at all.
    try:
        warm_up()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _cannot_run(reason: str) -> SchedulerError:
    hint = "; install it, with the same version and its dependencies, on every worker"
    missing = "No module named" in reason
    return SchedulerError(
        f"the Dask workers cannot run archiver ({reason}){hint if missing else ''}"
    )


#: Seconds a result is waited for before asking whether the cluster has workers at all.
IDLE_CHECK_SECONDS = 5.0


class _Idle:
    """Says so, once until workers come back, when the tasks wait on a cluster without any.

    Dask holds the tasks until a worker joins (or an adaptive cluster starts one), and a
    worker that cannot run archiver dies on its first task: without a word, the run
    would look hung.
    """

    def __init__(self, client: Any, scheduler: str) -> None:
        self.client, self.scheduler = client, scheduler
        self.noted = False

    def note(self) -> None:
        """Note that the scheduler has no workers, unless already noted since it last had."""
        if not self.noted:
            LOGGER.warning(
                "the Dask scheduler %s has no workers: the files wait for one to join "
                "(dask worker %s)",
                self.scheduler,
                self.scheduler,
            )
        self.noted = True

    def awaited(self, future: Any) -> Any:
        """The future's result, noting meanwhile whether there are workers to compute it."""
        while True:
            try:
                return future.result(timeout=IDLE_CHECK_SECONDS)
            except TimeoutError:  # still running, or nothing to run it on
                if self.client.nthreads():
                    self.noted = False
                else:
                    self.note()


def _dask_results(
    client: Any,
    scheduler: str,
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    on_crash: Callable[..., R] | None,
    killed: type[BaseException],
) -> Iterator[R]:
    """The tasks' results in order, with a window of them submitted ahead."""

    idle = _Idle(client, scheduler)

    def result(task: tuple[Any, ...], future: Any) -> R:
        try:
            with _scheduler_errors(client, scheduler):
                value: R = idle.awaited(future)
        except killed:  # the task killed every worker Dask tried it on
            if on_crash is None:
                raise
            return on_crash(*task)
        return value

    with _scheduler_errors(client, scheduler):
        nthreads = sum(client.nthreads().values())
        if not nthreads:
            idle.note()
        try:
            failures = client.run(_warm_up_on_worker)
        except Exception as exc:
            if client.status != "running":
                raise
            # Dask hands back a worker's failure to unpickle the function as Exception(text).
            failures = {"": f"{exc}"}
    errors = sorted(error for error in failures.values() if error)
    if errors:
        raise _cannot_run(errors[0])
    window = max(1, nthreads) * TASKS_PER_WORKER
    pending: deque[tuple[tuple[Any, ...], Any]] = deque()
    since_sized = 0
    for task in tasks:
        with _scheduler_errors(client, scheduler):
            future = client.submit(fn, *task, pure=False)
        pending.append((task, future))
        if len(pending) >= window:
            yield result(*pending.popleft())
            since_sized += 1
            if since_sized >= window:
                # Workers join and leave (an adaptive cluster starts them as tasks wait): the
                # window follows them, asked once per window of results.
                with _scheduler_errors(client, scheduler):
                    window = max(1, sum(client.nthreads().values())) * TASKS_PER_WORKER
                since_sized = 0
    while pending:
        yield result(*pending.popleft())

"""Extraction on a Dask cluster: what the run says while the cluster cannot work."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from archiver import cluster


def test_a_cluster_that_loses_its_workers_is_noted_and_the_run_goes_on_when_one_joins(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(cluster, "IDLE_CHECK_SECONDS", 0.2)
    caplog.set_level(logging.WARNING, logger="archiver")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as local:  # fmt: skip
        # time.sleep as the task: a function every worker can load, that takes a while.
        results = cluster.dask_map(time.sleep, [(0.2,)] * 40, local.scheduler_address)
        done: list[object] = []
        failed: list[BaseException] = []
        first = threading.Event()

        def consume() -> None:  # in one thread: Dask's client keeps a context of its own
            try:
                for value in results:
                    done.append(value)
                    first.set()
            except BaseException as exc:  # said by the assertions below, not lost
                failed.append(exc)
                raise

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        assert first.wait(timeout=60), failed
        assert not notes(caplog), failed  # workers at the start, and while they work
        local.scale(0)
        deadline = time.monotonic() + 60
        while not notes(caplog):
            assert time.monotonic() < deadline and consumer.is_alive(), (len(done), failed)
            time.sleep(0.05)
        local.scale(1)
        consumer.join(timeout=120)
    assert not consumer.is_alive(), (len(done), notes(caplog))
    assert not failed
    assert done == [None] * 40  # every task done, once a worker joined again
    assert notes(caplog) == [
        f"the Dask scheduler {local.scheduler_address} has no workers: the files wait for "
        f"one to join (dask worker {local.scheduler_address})"
    ]


def notes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What archiver logged (Dask logs its own records about the lost worker)."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("archiver")]


def test_a_cluster_that_starts_without_workers_gets_work_for_those_that_join(
    caplog: pytest.LogCaptureFixture,
) -> None:
    distributed = pytest.importorskip("distributed")
    from archiver.workers import TASKS_PER_WORKER

    caplog.set_level(logging.WARNING, logger="archiver")
    with distributed.LocalCluster(
        n_workers=0, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as local:  # fmt: skip
        tasks = [(0.02,)] * (8 * TASKS_PER_WORKER)
        results = cluster.dask_map(time.sleep, tasks, local.scheduler_address)
        done: list[object] = []
        consumer = threading.Thread(target=lambda: done.extend(results), daemon=True)
        consumer.start()
        deadline = time.monotonic() + 60
        while not notes(caplog):  # the run said it waits for a worker
            assert time.monotonic() < deadline and consumer.is_alive()
            time.sleep(0.05)
        local.scale(2)
        # The tasks the scheduler holds at once: one worker's window before any joined,
        # the two workers' once they have (an adaptive cluster would otherwise get the
        # work of one worker at a time, however many it starts).
        most = 0
        while consumer.is_alive() and time.monotonic() < deadline:
            most = max(most, len(local.scheduler.tasks))
            time.sleep(0.01)
        consumer.join(timeout=60)
    assert done == [None] * len(tasks)
    assert most > TASKS_PER_WORKER + 1

"""Shared fixtures: the seed dumps with their gold, and a freshly ingested archive."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

# A shell that starts the suite in the background (`make test &`, `nohup ... &`) makes it
# ignore Ctrl-C, and every command a test starts inherits that: the tests of what Ctrl-C
# does need it delivered, however the suite was started.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

FIXTURES = Path(__file__).parent / "fixtures"
SEED_RAW = FIXTURES / "seeds" / "raw"
SEED_GOLD = FIXTURES / "seeds" / "gold"
SEED_NAMES = sorted(p.stem for p in SEED_RAW.glob("*.txt"))


def seed_gold(name: str) -> dict:
    """The gold annotation of one seed dump."""
    return json.loads((SEED_GOLD / f"{name}.json").read_text(encoding="utf-8"))


def seed_lines(name: str) -> list[str]:
    """The raw lines of one seed dump (gold line numbers are 1-based into this list)."""
    return (SEED_RAW / f"{name}.txt").read_text(encoding="utf-8").split("\n")


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    """A private copy of the seed dumps, safe to modify."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for path in SEED_RAW.glob("*.txt"):
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def run_on_a_terminal(command: list[str], cwd: Path) -> tuple[int, str]:
    """Run a command with a terminal as its stdout and stderr: (exit code, all it showed)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=terminal, stderr=terminal)
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 120
    while True:
        ready, _, _ = select.select([controller], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:  # a stuck run fails the test instead of hanging the suite
            process.kill()
            os.close(controller)
            pytest.fail(f"no end after 120 s; it showed: {shown[-2000:]!r}")
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return process.wait(timeout=30), shown.decode("utf-8", "replace")


def signal_at_call(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, signum: int, call: int = 250
) -> None:
    """Have ``owner.name`` send this process a real signal on its ``call``-th call, then
    run as before: the signal's handler acts there, as when it comes at that moment."""
    original = getattr(owner, name)
    calls = 0

    def signalling(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            os.kill(os.getpid(), signum)
            time.sleep(1)  # the handler runs here, or (held) right after
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, signalling)

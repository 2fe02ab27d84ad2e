"""Start a real Datasette on a free 127.0.0.1 port with the project's metadata, templates, plugins."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def datasette_command(db: Path, port: int) -> list[str]:
    """The command `make serve` runs: read-only (SQLite mode=ro), loopback only."""
    return [
        sys.executable, "-m", "datasette", "serve", str(db),
        "--metadata", str(ROOT / "datasette.yml"),
        "--template-dir", str(ROOT / "templates"),
        "--plugins-dir", str(ROOT / "plugins"),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


@contextmanager
def running_datasette(db: Path, log_path: Path) -> Iterator[str]:
    """Serve ``db`` until the block ends; yields the base URL. Fails with Datasette's log."""
    port = free_port()
    with log_path.open("w") as log:
        server = subprocess.Popen(
            datasette_command(db, port), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    urllib.request.urlopen(url + "/-/versions.json", timeout=2).read()
                    break
                except OSError as error:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "Datasette did not start: " + log_path.read_text()
                        ) from error
                    time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)

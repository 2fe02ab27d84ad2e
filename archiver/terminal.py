"""What a command shows on a terminal, and how a signal stops it.

Progress bars with rate and time left, lines printed above them (one line each, control
characters escaped), archiver's log records as notes, and SIGTERM or SIGHUP handled as
Ctrl-C with the exit status a shell gives.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import click

from .workers import hold_or_interrupt

T = TypeVar("T")


#: Signals that stop a command as Ctrl-C does: kill's default, and a closed terminal.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)

# The signal that stopped the command: its exit status says which, as a shell's does.
_stopped_by: list[int] = [signal.SIGINT]


def interrupted_status() -> int:
    """The exit status of a command stopped early: 128 + the signal (130 Ctrl-C, 143 kill)."""
    return 128 + _stopped_by[0]


@contextlib.contextmanager
def terminate_as_ctrl_c() -> Iterator[None]:
    """Handle SIGTERM and SIGHUP as Ctrl-C while a command runs.

    So that ``kill`` (or a service manager stopping it) stores the file in hand, commits,
    stops the workers and says what was stored, instead of ending the process at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    _stopped_by[0] = signal.SIGINT

    def as_ctrl_c(signum: int, frame: Any) -> None:
        _stopped_by[0] = signum
        # As Ctrl-C would be: held while a file is stored. Also where Ctrl-C itself is
        # ignored (`nohup archiver ingest raw/ &`), the run that `kill` is for: raised
        # in the middle of a file, the signal cost the whole batch (rolled back) while
        # the summary counted it as stored.
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)  # the holding handler, or a program's own
        else:
            hold_or_interrupt(signal.SIGINT)

    # A signal ignored on the way in stays ignored: `nohup` ignores SIGHUP so that the run
    # outlives its terminal (and the workers it starts inherit that).
    previous = {
        number: signal.signal(number, as_ctrl_c)
        for number in STOP_SIGNALS
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _NoteHandler(logging.Handler):
    """Prints a log record of archiver as a note on stderr (as it is at the time)."""

    def emit(self, record: logging.LogRecord) -> None:
        echo_above(f"note: {record.getMessage()}")


@contextlib.contextmanager
def printed_notes() -> Iterator[None]:
    """Print what archiver logs meanwhile (at INFO and above) as notes on stderr."""
    logger = logging.getLogger("archiver")
    handler, level = _NoteHandler(logging.INFO), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def progress(items: Iterable[T], length: int, label: str) -> Iterator[Iterable[T]]:
    """The items, under a progress bar with rate and ETA when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield items
        return
    rate = Rate(length)
    # click's own ETA only shows after a second; this one shows from the first file on.
    with click.progressbar(
        length=length, label=label, file=sys.stderr, show_pos=True, show_eta=False,
        item_show_func=rate.show,
    ) as bar:  # fmt: skip
        yield rate.advancing(items, bar)


class Rate:
    """Files per second since the start, and the time left at that rate."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.done = 0
        self.started = time.monotonic()

    def advancing(self, items: Iterable[T], bar: Any) -> Iterator[T]:
        """The items; each one the caller is done with is counted and moves the bar on."""
        for item in items:
            yield item
            self.done += 1
            bar.update(1)

    def show(self, _item: object = None) -> str | None:
        """'12.3 files/s  ETA 00:01:05' (files/min when slower), once a file is done."""
        elapsed = time.monotonic() - self.started
        if not self.done or elapsed <= 0:
            return None
        per_second = self.done / elapsed
        # Large captures on a busy cluster can take longer than ten seconds each.
        speed = (
            f"{per_second:.1f} files/s" if per_second >= 0.1 else f"{per_second * 60:.1f} files/min"
        )
        left = max(0, self.length - self.done) / per_second
        # Never 00:00:00 while a file is left.
        minutes, seconds = divmod(max(round(left), 1) if left else 0, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{speed}  ETA {hours:02}:{minutes:02}:{seconds:02}"


def echo_above(line: str) -> None:
    """Print a line on stderr, above the progress bar a terminal may show."""
    if sys.stderr.isatty():  # the bar is drawn on the current line: clear it first
        click.echo("\r\033[K", nl=False, err=True)
    click.echo(one_line(line), err=True)


# Line breaks and other control characters, as repr() escapes them: a file name may hold
# a newline, and a message must stay one line per file.
_CONTROL_ESCAPES = {
    code: repr(chr(code))[1:-1] for code in (*range(32), *range(127, 160), 0x2028, 0x2029)
}


def one_line(text: str) -> str:
    """Text with its line breaks and control characters escaped, so it prints as one line."""
    return text.translate(_CONTROL_ESCAPES)

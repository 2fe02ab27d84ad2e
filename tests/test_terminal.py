"""What a command shows on a terminal: the rate and time left, lines kept to one line."""

from __future__ import annotations

import time
from types import SimpleNamespace

from archiver.terminal import Rate, one_line


def test_the_rate_and_time_left_are_those_of_the_files_done_so_far() -> None:
    rate = Rate(length=100)
    assert rate.show() is None  # nothing done yet: no rate to tell
    rate.started = time.monotonic() - 10
    moved: list[int] = []
    bar = SimpleNamespace(update=moved.append)
    assert list(rate.advancing(range(50), bar)) == list(range(50))
    assert len(moved) == 50
    # 50 files in 10 seconds: 5 a second, and the other 50 in 10 more.
    assert rate.show() == "5.0 files/s  ETA 00:00:10"
    rate.started = time.monotonic() - 3600
    assert rate.show() == "0.8 files/min  ETA 01:00:00"  # slower than one file in 10 s
    nearly = Rate(length=51)
    nearly.started = time.monotonic() - 10
    list(nearly.advancing(range(50), bar))
    assert nearly.show() == "5.0 files/s  ETA 00:00:01"  # 0.2 s left shows as a second
    list(nearly.advancing(range(1), bar))
    assert nearly.show() == "5.1 files/s  ETA 00:00:00"  # all done


def test_a_message_with_a_line_break_prints_as_one_line() -> None:
    # A file name may hold a newline: its failure line must still be one line.
    assert one_line("failed: raw/a\nb.txt: empty file") == "failed: raw/a\\nb.txt: empty file"
    assert one_line("caf\u00e9 \u2028 tab\t") == "caf\u00e9 \\u2028 tab\\t"

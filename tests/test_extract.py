"""Extraction of one input: what clean() takes, and says when given something else."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (Path("raw/page.txt"), "not PosixPath: for a file, clean(Path(name).read_bytes())"),
        (io.BytesIO(b"page"), "not BytesIO"),
    ],
)
def test_clean_says_what_to_give_instead_of_a_path_or_a_file(given: object, said: str) -> None:
    from archiver import clean

    with pytest.raises(TypeError, match=re.escape(said)):
        clean(given)  # type: ignore[arg-type]


def test_clean_of_a_files_name_says_to_read_the_file(seeds_dir: Path) -> None:
    from archiver import clean

    name = str(sorted(seeds_dir.glob("*.txt"))[0])
    with pytest.raises(TypeError, match=re.escape(f"{name!r} is a file's name")):
        clean(name)
    assert clean(Path(name).read_bytes()).title


def test_clean_takes_text_with_a_lone_surrogate_and_bytes_like_views() -> None:
    from archiver import clean

    sentence = "The harbour ferry sailed at dawn with forty passengers on board. "
    assert "ferry sailed" in clean(sentence * 3 + "\ud800").text
    assert "ferry sailed" in clean(memoryview((sentence * 3).encode())).text

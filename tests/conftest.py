"""Shared fixtures: the seed dumps with their gold, and a freshly ingested archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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

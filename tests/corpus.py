"""A generator of realistic, distinct text dumps for pipeline tests, built from the seeds.

Each generated dump keeps a seed's page shape (menus, title, captions, footers) but
gets its own title and paragraphs, so the articles are different stories; every
``copy_every``-th dump is a syndicated copy of an earlier one, with a dateline added.
"""

from __future__ import annotations

import random
from pathlib import Path

from .conftest import SEED_NAMES, seed_gold, seed_lines

WORDS = (
    "council minister harbour river budget school railway election court hospital farmers "
    "union museum bridge festival airport police weather market factory library stadium"
).split()
PLACES = ["Oslo", "Lima", "Accra", "Perth", "Quito", "Turku", "Busan", "Cork", "Split", "Leeds"]


def _paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 10))]
    place = rng.choice(PLACES)
    return (
        f"Officials in {place} said on {rng.choice(['Monday', 'Tuesday', 'Friday'])} that the "
        f"{' and the '.join(words[:3])} would be reviewed after {rng.randint(2, 90)} residents "
        f"complained about the {' '.join(words[3:])}, a plan first discussed in {rng.randint(1990, 2020)}."
    )


def make_dump(index: int, seed: int = 0) -> str:
    """One distinct whole-page dump, shaped like a seed page."""
    rng = random.Random(seed * 1_000_003 + index)
    name = SEED_NAMES[index % len(SEED_NAMES)]
    gold = seed_gold(name)
    lines = seed_lines(name)
    body = set(gold["body_lines"])
    title = f"Story {index}: {rng.choice(WORDS).title()} plan in {rng.choice(PLACES)} faces review"
    out: list[str] = []
    for no, line in enumerate(lines, 1):
        if no in body:
            out.append(_paragraph(rng))
        elif line.strip() == gold["title"]:
            out.append(title)
        else:
            out.append(line)
    return "\n".join(out)


def write_corpus(folder: Path, count: int, copy_every: int = 0, seed: int = 0) -> list[Path]:
    """Write ``count`` dumps into folder; every copy_every-th is a copy of an earlier one."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        if copy_every and index and index % copy_every == 0:
            text = "ROME (Wire) - " + make_dump(index - copy_every + 1, seed)
        else:
            text = make_dump(index, seed)
        path = folder / f"dump-{index:05d}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths

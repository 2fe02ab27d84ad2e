"""Deduplication: link quality on a syndication benchmark, then speed and memory at scale.

1. Quality. From the development gold (scrapinghub/gold.jsonl and dumps/), build a
   syndication corpus the way news is syndicated: each original page as it was, plus
   copies of some stories pasted into *other* pages' chrome (in place of that page's own
   article) with a dateline added, quotes restyled, the last paragraph dropped, a teaser
   inserted and a word changed; some copies are excerpts (the first half). Every other
   story is a negative. The corpus is ingested with archiver (whole pipeline) and the
   pairwise precision, recall and F1 of the duplicate links are printed.
2. Scale. Synthetic articles (10k, 30k, 100k by default; each size in a fresh process)
   are stored and linked in batches of WRITER_BATCH, as the archive's writer does; the
   time of the dedupe stage (templates stripped before saving, linking and counting after,
   the stage's buffered writes flushed before each commit) and the peak memory are
   printed, with the pairwise figures of the synthetic copies.

    python bench/dedupe.py --bench PATH/TO/bench [--sizes 10000,30000,100000] [--skip-scale]

PATH/TO/bench is the folder holding scrapinghub/ (or set ARCHIVER_BENCH).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

import archiver
from archiver import dedupe, pipeline, shingles, store, templates
from archiver.models import Article

T = TypeVar("T")
AGENCIES = ["Reuters", "AP", "AFP", "Kyodo", "Bloomberg", "dpa", "Xinhua", "Anadolu"]
CITIES = ["LONDON", "NEW YORK", "PARIS", "TOKYO", "BERLIN", "MOSCOW", "SYDNEY", "CAIRO"]
WRITER_BATCH = 100  # articles per transaction in the scale runs
MIN_COPY_WORDS = 120  # stories shorter than this are negatives only
HOST_COVERAGE = 0.8  # share of a host's own gold lines found in its dump
LONG_LINE_WORDS = 30
MAX_HOST_TEXT = 200  # words of long lines outside the host's story
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Page:
    """One benchmark page: its id, dump lines and gold paragraphs."""

    id: str
    dump: list[str]
    gold: list[str]


def norm(text: str) -> str:
    """Words only, lower case, for locating gold lines in a dump."""
    return " ".join(re.findall(r"\w+", text.lower()))


def load_pages(bench: Path) -> list[Page]:
    """The benchmark pages that have both a dump and a gold text."""
    pages = []
    root = bench / "scrapinghub"
    with open(root / "gold.jsonl", encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            dump = root / "dumps" / f"{row['id']}.txt"
            if not dump.exists():
                continue
            gold = [p.strip() for p in row["gold_text"].split("\n") if p.strip()]
            pages.append(Page(row["id"], dump.read_text(encoding="utf-8").split("\n"), gold))
    return pages


def body_span(page: Page) -> tuple[int, int]:
    """First and last dump line holding the page's own gold text (middle if none found)."""
    keys = {norm(p) for p in page.gold if len(p.split()) >= 4}
    hits = [i for i, line in enumerate(page.dump) if norm(line) in keys]
    if not hits:
        middle = len(page.dump) // 2
        return middle, middle - 1
    return min(hits), max(hits)


def usable_host(page: Page) -> bool:
    """A page whose chrome can carry a copy: its own story located, and no comment thread.

    Long running text outside the page's story (reader comments, other full stories)
    belongs to that page, not to its site's chrome: a copy pasted there would really be
    two texts in one page.
    """
    first, last = body_span(page)
    keys = {norm(p) for p in page.gold if len(p.split()) >= 4}
    found = {norm(line) for line in page.dump[first : last + 1]} & keys
    outside = sum(
        len(line.split())
        for i, line in enumerate(page.dump)
        if (i < first or i > last) and len(line.split()) >= LONG_LINE_WORDS
    )
    return bool(keys) and len(found) >= HOST_COVERAGE * len(keys) and outside <= MAX_HOST_TEXT


def alter(paragraphs: list[str], rng: random.Random, excerpt: bool) -> list[str]:
    """A syndicated copy: dateline, restyled quotes, teaser, a changed word, a cut ending."""
    body = list(paragraphs)
    if excerpt:
        body = body[: max(2, len(body) // 2)]
    elif len(body) > 3:
        body = body[:-1]
    dateline = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) - "
    body[0] = dateline + body[0]
    body = [p.replace("“", '"').replace("”", '"').replace("’", "'") for p in body]
    if not excerpt and len(body) > 3:
        words = body[1].split()
        spot = rng.randrange(len(words))
        words[spot] = words[spot][::-1] if len(words[spot]) > 3 else "also"
        body[1] = " ".join(words)
        body.insert(rng.randrange(2, len(body)), "READ MORE: " + teaser(rng))
    return body


def teaser(rng: random.Random) -> str:
    """A made-up related-story headline."""
    words = ["Markets", "Rally", "Talks", "Stall", "Officials", "Warn", "New", "Plan", "Vote"]
    return " ".join(rng.sample(words, 5))


def build_corpus(pages: list[Page], out: Path, seed: int) -> dict[str, str]:
    """Write the syndication corpus; returns raw file name -> story (gold group) id."""
    rng = random.Random(seed)
    groups: dict[str, str] = {}
    for page in pages:
        name = f"orig_{page.id[:16]}.txt"
        (out / name).write_text("\n".join(page.dump), encoding="utf-8")
        groups[name] = page.id
    eligible = [p for p in pages if sum(len(g.split()) for g in p.gold) >= MIN_COPY_WORDS]
    hosts = [p for p in pages if usable_host(p)]
    for story in rng.sample(eligible, int(len(eligible) * 0.7)):
        title = story.dump[0] if story.dump else ""
        for n in range(rng.choice([1, 2, 3])):
            host = rng.choice([p for p in hosts if p.id != story.id])
            first, last = body_span(host)
            excerpt = rng.random() < 0.35
            body = alter(story.gold, rng, excerpt)
            lines = [*host.dump[:first], title, *body, *host.dump[last + 1 :]]
            name = f"copy_{story.id[:16]}_{n}_{'x' if excerpt else 'c'}.txt"
            (out / name).write_text("\n".join(lines), encoding="utf-8")
            groups[name] = story.id
    return groups


def pair_scores(predicted: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering (item -> cluster) against gold."""

    def pairs(counts: Iterable[int]) -> int:
        return sum(n * (n - 1) // 2 for n in counts)

    items = [k for k in gold if k in predicted]
    true_pos = pairs(Counter((predicted[k], gold[k]) for k in items).values())
    predicted_pairs = pairs(Counter(predicted[k] for k in items).values())
    gold_pairs = pairs(Counter(gold[k] for k in items).values())
    precision = true_pos / predicted_pairs if predicted_pairs else 1.0
    recall = true_pos / gold_pairs if gold_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def quality(bench: Path, seed: int, show_errors: bool) -> tuple[float, float, float]:
    """Build, ingest and score the syndication benchmark; returns (precision, recall, F1)."""
    pages = load_pages(bench)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        gold = build_corpus(pages, raw, seed)
        db_path = Path(tmp) / "archive.db"
        start = time.perf_counter()
        summary = archiver.ingest([raw], db=db_path, clean_dir=None)
        elapsed = time.perf_counter() - start
        db = store.open_db(db_path)
        predicted = {
            Path(r[0]).name: r[1]
            for r in db.execute("select raw_path, coalesce(duplicate_of, id) from articles")
        }
        precision, recall, f1 = pair_scores(predicted, gold)
        copies = sum(name.startswith("copy_") for name in gold)
        excerpts = sum(name.endswith("_x.txt") for name in gold)
        print(
            f"syndication benchmark (seed {seed}): {len(pages)} original pages, {copies} copies "
            f"({excerpts} excerpts) in other pages' chrome; {summary.line()} in {elapsed:.1f} s"
        )
        print(
            f"  duplicate links, pairwise: precision {precision:.3f}  recall {recall:.3f}  "
            f"F1 {f1:.3f}  (target F1 >= 0.95, precision >= 0.99)"
        )
        if show_errors:
            report_errors(predicted, gold)
        return precision, recall, f1


def report_errors(predicted: dict[str, str], gold: dict[str, str]) -> None:
    """Print the files of wrongly merged and wrongly split groups."""
    by_cluster: dict[str, list[str]] = {}
    for name, cluster in predicted.items():
        by_cluster.setdefault(cluster, []).append(name)
    for names in by_cluster.values():
        if len({gold.get(n) for n in names}) > 1:
            print("  merged:", ", ".join(sorted(names)))
    by_story: dict[str, list[str]] = {}
    for name, story in gold.items():
        by_story.setdefault(story, []).append(name)
    for names in by_story.values():
        if len({predicted.get(n) for n in names}) > 1:
            print("  split:", ", ".join(sorted(names)))


# --- Scale ------------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 30_000) -> tuple[list[str], list[float]]:
    """Made-up words with Zipf-like cumulative weights."""
    syllables = ["ka", "to", "ri", "man", "el", "su", "pe", "lo", "an", "der", "vi", "no"]
    words = sorted({"".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(size)})
    rng.shuffle(words)  # ranks at random, but the same in every process
    weights, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1.0 / rank
        weights.append(total)
    return words, weights


def synthetic_articles(count: int, seed: int) -> Iterator[tuple[Article, str]]:
    """Synthetic articles with their story id: 80% new stories, 20% copies or excerpts."""
    rng = random.Random(seed)
    words, weights = vocabulary(rng)
    sites = [f"site{n}" for n in range(300)]
    promos = {s: f"{s} newsletter sign up now" for s in sites}
    recent: list[tuple[str, list[str]]] = []
    for n in range(count):
        site = rng.choice(sites)
        if recent and rng.random() < 0.2:
            story, paragraphs = rng.choice(recent)
            paragraphs = list(paragraphs)
            if rng.random() < 0.3:
                paragraphs = paragraphs[: max(2, len(paragraphs) // 2)]
            else:
                paragraphs = paragraphs[:-1]
                spot = rng.randrange(len(paragraphs))
                paragraphs[spot] = paragraphs[spot].replace(" ", " also ", 1)
            paragraphs[0] = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) - " + paragraphs[0]
        else:
            story = f"s{n}"
            paragraphs = []
            for _ in range(rng.randint(4, 12)):
                sentence = rng.choices(words, cum_weights=weights, k=rng.randint(25, 60))
                paragraphs.append(" ".join(sentence).capitalize() + ".")
            recent.append((story, paragraphs))
            if len(recent) > 2000:
                recent.pop(0)
        if rng.random() < 0.5:
            paragraphs = [*paragraphs[:1], promos[site], *paragraphs[1:]]
        day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        text = "\n\n".join(paragraphs)
        article = Article(
            id=f"{n:016x}", raw_path=f"synthetic/{n}.txt", raw_sha256="", title=f"Story {n}",
            text=text, published=day if rng.random() < 0.7 else None, source=None,
            dateline=None, author=None, language="en", site=site,
            # Paragraphs on every other raw line, as the stripper reports a dump's body.
            body_lines=tuple(range(1, 2 * len(paragraphs), 2)),
        )  # fmt: skip
        yield article, story


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_batch(db: sqlite_utils.Database, articles: list[Article]) -> tuple[float, float]:
    """Save and link a batch of articles in one transaction, as the archive's writer does
    (each group of files prepared in one go, templates stripped before saving, linked after,
    the stage's writes flushed before the commit); returns (wall, CPU) seconds spent in the
    dedupe stage."""
    spent = [0.0, 0.0]  # wall, CPU

    def timed(step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            return step(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start
            spent[1] += time.process_time() - start_cpu

    with db.atomic():
        for n, article in enumerate(articles):
            if n % pipeline.PREPARE_FILES == 0:  # the writer's groups of one-article files
                timed(dedupe.prepare, db, articles[n : n + pipeline.PREPARE_FILES])
            record = store.RawFileRecord(
                article.raw_path, "", 0, "text", "utf-8", "ok", None, 1, article.extractor_version
            )
            stored = timed(dedupe.before_save, db, [article])
            store.save_articles(db, record, stored, None)
            timed(dedupe.after_save, db, article.raw_path, stored, defer=True)
        timed(dedupe.flush, db)
    return spent[0], spent[1]


def time_templates() -> dict[str, float]:
    """Wrap the site-template steps so that their share of the dedupe stage is measured apart.

    By the wall clock only: reading a CPU clock is a system call, made several times per
    article it would weigh on what is measured (on one core the two agree).
    """
    spent = {"wall": 0.0}
    for name in ("strip", "strip_ahead", "store_stripped", "count", "flush", "apply"):
        step = getattr(templates, name)

        def timed(*args: object, _step=step) -> object:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return _step(*args)
            finally:
                spent["wall"] += time.perf_counter() - start

        setattr(templates, name, timed)
    return spent


def scale_run(count: int, seed: int) -> None:
    """Store and link ``count`` synthetic articles; print time, memory and link quality."""
    template_time = time_templates()
    with tempfile.TemporaryDirectory() as tmp:
        db = store.open_db(Path(tmp) / "archive.db")
        baseline = peak_rss_mb()
        dedupe_seconds = dedupe_cpu = 0.0
        gold: dict[str, str] = {}
        batch: list[Article] = []
        for article, story in synthetic_articles(count, seed):
            gold[article.id] = story
            batch.append(article)
            if len(batch) == WRITER_BATCH:
                wall, cpu = store_batch(db, batch)
                dedupe_seconds, dedupe_cpu = dedupe_seconds + wall, dedupe_cpu + cpu
                batch = []
        wall, cpu = store_batch(db, batch)
        dedupe_seconds, dedupe_cpu = dedupe_seconds + wall, dedupe_cpu + cpu
        predicted = {
            r[0]: r[1] for r in db.execute("select id, coalesce(duplicate_of, id) from articles")
        }
        precision, recall, f1 = pair_scores(predicted, gold)
        stripped = db.execute(
            "select count(*) from removed_lines where reason = 'template'"
        ).fetchone()[0]
        link_wall = dedupe_seconds - template_time["wall"]
        link_cpu = dedupe_cpu - template_time["wall"]
        print(
            f"{count:>7} articles: dedupe (linking) {link_wall:6.1f} s wall, {link_cpu:6.1f} s CPU "
            f"({link_cpu / count * 1000:.2f} ms CPU/article); site templates "
            f"{template_time['wall']:5.1f} s wall; together {dedupe_seconds:6.1f} s wall, "
            f"{dedupe_cpu:6.1f} s CPU; peak RSS {peak_rss_mb():.0f} MB (process; "
            f"{baseline:.0f} MB before); links P {precision:.3f} R {recall:.3f} F1 {f1:.3f}; "
            f"template lines stripped {stripped}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bench", default=os.environ.get("ARCHIVER_BENCH"))
    parser.add_argument("--sizes", default="10000,30000,100000", help="synthetic corpus sizes")
    parser.add_argument("--seed", type=int, default=7, help="seed of the scale runs")
    parser.add_argument(
        "--seeds",
        default="1,2,3,7",
        help="seeds of the syndication corpus; each builds a different one, the mean is printed",
    )
    parser.add_argument("--skip-scale", action="store_true", help="only the quality benchmark")
    parser.add_argument("--skip-quality", action="store_true", help="only the scale runs")
    parser.add_argument("--errors", action="store_true", help="list wrong merges and splits")
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_one:
        scale_run(args.scale_one, args.seed)
        return 0
    print("LSH candidate probability by Jaccard (parameters in archiver/shingles.py):")
    print(shingles.s_curve())
    if not args.skip_quality:
        if not args.bench:
            parser.error("give --bench PATH (the folder with scrapinghub/) or set ARCHIVER_BENCH")
        bench = Path(args.bench)
        if not (bench / "scrapinghub" / "gold.jsonl").exists():
            parser.error(f"no scrapinghub/gold.jsonl in {bench}")
        scores = [quality(bench, int(seed), args.errors) for seed in args.seeds.split(",")]
        if len(scores) > 1:
            means = [sum(column) / len(scores) for column in zip(*scores, strict=True)]
            print(
                f"mean over {len(scores)} corpora: precision {means[0]:.3f}  recall "
                f"{means[1]:.3f}  F1 {means[2]:.3f}  (target F1 >= 0.95, precision >= 0.99)"
            )
    if not args.skip_scale:
        for size in (int(s) for s in args.sizes.split(",")):
            # A fresh process per size, so each peak memory figure is its own.
            subprocess.run(
                [sys.executable, __file__, "--scale-one", str(size), "--seed", str(args.seed)],
                check=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Extraction quality on the development benchmark: archiver beside the anchor extractors.

Runs the benchmark's own scorer (evaluate.py) on its pages, once for archiver
(``archiver clean --json``) and, with --anchors, for the anchor extractors, and
prints bow and sh4 precision/recall/F1 per input kind. With --metadata it also says how
often a text dump's title, date and author (found in the text alone) agree with those of the
same page's HTML (from its metadata): the benchmark has no gold metadata, and the HTML's
own is what the page says of itself. Titles agree when, lower-cased and without
punctuation, one holds the other or 60% of the dump title's words are in the HTML's;
dates when they name the same day (a page's time zone can make them a day apart);
authors when one holds the other.

    python bench/quality.py --bench PATH/TO/bench [--kinds dump,html] [--anchors] [--metadata]

PATH/TO/bench is the folder holding evaluate.py and scrapinghub/ (or set ARCHIVER_BENCH).
"""

from __future__ import annotations

import argparse
import html
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ANCHORS = "keep-all,trafilatura,readability,justext"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bench", default=os.environ.get("ARCHIVER_BENCH"), help="benchmark folder"
    )
    parser.add_argument("--kinds", default="dump,html", help="input kinds: dump, html or both")
    parser.add_argument("--anchors", action="store_true", help="also score the anchor extractors")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N pages")
    parser.add_argument(
        "--metadata", action="store_true", help="also compare dump titles and dates with the HTML's"
    )
    args = parser.parse_args()
    if not args.bench:
        parser.error("give --bench PATH (the folder with evaluate.py) or set ARCHIVER_BENCH")
    bench = Path(args.bench)
    scorer = bench / "evaluate.py"
    if not scorer.exists():
        parser.error(f"no evaluate.py in {bench}")
    command = str(Path(sys.executable).with_name("archiver")) + " clean --json"
    methods = "cmd" + ("," + ANCHORS if args.anchors else "")
    argv = [
        sys.executable,
        str(scorer),
        str(bench),
        "scrapinghub",
        methods,
        "--kinds",
        args.kinds,
        "--cmd",
        command,
    ]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    print("archiver is the 'cmd' method below", flush=True)
    status = subprocess.call(argv)
    if args.metadata:
        print_metadata_agreement(bench / "scrapinghub", args.limit)
    return status


def titles_agree(dump_title: str, page_title: str) -> bool:
    """True when a dump's title and the page's own title name the same story."""
    from archiver.lines import normalise

    ours, theirs = normalise(dump_title), normalise(html.unescape(page_title))
    if not ours or not theirs:
        return False
    shared = set(ours.split()) & set(theirs.split())
    return ours in theirs or theirs in ours or len(shared) >= 0.6 * len(set(ours.split()))


def names_agree(ours: str, theirs: str) -> bool:
    """True when one author string holds the other, whatever the case."""
    return ours.lower() in theirs.lower() or theirs.lower() in ours.lower()


def print_metadata_agreement(data: Path, limit: int = 0) -> None:
    """Print how many dumps' titles and dates agree with their HTML page's."""
    import archiver

    titles: Counter[str] = Counter()
    dates: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    dumps = sorted((data / "dumps").glob("*.txt"))
    for dump in dumps[:limit] if limit else dumps:
        page = data / "pages" / f"{dump.stem}.html"
        try:
            theirs = archiver.clean(page.read_bytes(), str(page))
            ours = archiver.clean(dump.read_bytes(), str(dump))
        except (OSError, archiver.InputError):
            continue
        if theirs.title:
            agree = ours.title and titles_agree(ours.title, theirs.title)
            titles["agree" if agree else "differ" if ours.title else "none"] += 1
        if theirs.published:
            agree = ours.published == theirs.published[:10]
            dates["agree" if agree else "differ" if ours.published else "none"] += 1
        if theirs.author:
            agree = ours.author and names_agree(ours.author, theirs.author)
            authors["agree" if agree else "differ" if ours.author else "none"] += 1
    for name, counts in (("titles", titles), ("dates", dates), ("authors", authors)):
        print(
            f"dump {name} vs the HTML page's: {counts['agree']} of {counts.total()} agree, "
            f"{counts['differ']} differ, {counts['none']} not found"
        )


if __name__ == "__main__":
    sys.exit(main())

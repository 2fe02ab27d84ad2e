"""Extraction quality on the development benchmark: archiver beside the anchor extractors.

Runs the benchmark's own scorer (evaluate.py) on its pages, once for archiver
(``archiver clean --json``) and, with --anchors, for the anchor extractors, and
prints bow and sh4 precision/recall/F1 per input kind. With --titles it also says how
often a text dump's title (found by the stripper) agrees with the title of the same
page's HTML (from its metadata): the benchmark has no gold titles, and the HTML's own
title is what the page calls itself. Titles agree when, lower-cased and without
punctuation, one holds the other or 60% of the dump title's words are in the HTML's.

    python bench/quality.py --bench PATH/TO/bench [--kinds dump,html] [--anchors] [--titles]

PATH/TO/bench is the folder holding evaluate.py and scrapinghub/ (or set ARCHIVER_BENCH).
"""

from __future__ import annotations

import argparse
import html
import os
import subprocess
import sys
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
        "--titles", action="store_true", help="also compare dump titles with the HTML's"
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
    if args.titles:
        print_title_agreement(bench / "scrapinghub", args.limit)
    return status


def titles_agree(dump_title: str, page_title: str) -> bool:
    """True when a dump's title and the page's own title name the same story."""
    from archiver.lines import normalise

    ours, theirs = normalise(dump_title), normalise(html.unescape(page_title))
    if not ours or not theirs:
        return False
    shared = set(ours.split()) & set(theirs.split())
    return ours in theirs or theirs in ours or len(shared) >= 0.6 * len(set(ours.split()))


def print_title_agreement(data: Path, limit: int = 0) -> None:
    """Print how many dumps' titles agree with their HTML page's title."""
    import archiver

    agree = differ = untitled = 0
    dumps = sorted((data / "dumps").glob("*.txt"))
    for dump in dumps[:limit] if limit else dumps:
        page = data / "pages" / f"{dump.stem}.html"
        try:
            page_title = archiver.clean(page.read_bytes(), str(page)).title
            dump_title = archiver.clean(dump.read_bytes(), str(dump)).title
        except (OSError, archiver.InputError):
            continue
        if not page_title:
            continue
        if not dump_title:
            untitled += 1
        elif titles_agree(dump_title, page_title):
            agree += 1
        else:
            differ += 1
    total = agree + differ + untitled
    print(
        f"dump titles vs the HTML page's title: {agree} of {total} agree, {differ} differ, "
        f"{untitled} without a title"
    )


if __name__ == "__main__":
    sys.exit(main())

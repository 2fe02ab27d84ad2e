"""Extraction quality on the development benchmark: archiver beside the anchor extractors.

Runs the benchmark's own scorer (evaluate.py) on its pages, once for archiver
(``archiver clean --json``) and, with --anchors, for the anchor extractors, and
prints bow and sh4 precision/recall/F1 per input kind.

    python bench/quality.py --bench PATH/TO/bench [--kinds dump,html] [--anchors]

PATH/TO/bench is the folder holding evaluate.py and scrapinghub/ (or set ARCHIVER_BENCH).
"""

from __future__ import annotations

import argparse
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
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())

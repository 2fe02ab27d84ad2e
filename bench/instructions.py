"""Instructions one input costs to extract, counted by valgrind: a figure noise does not move.

On a shared machine the time of a run drifts by a third within minutes, which hides a
change of a few percent. Callgrind counts the instructions a process executes (in user
space: the kernel's share of system calls is not in it), the same from one run to the
next (the hash seed is fixed). The extraction a worker does (pipeline.process_file,
reading included) is counted over --warm inputs, then over --warm and --count more; the
difference over --count is the figure. The warm inputs are a pass over every development
page's copy, so that the verdicts kept for a site's chrome lines are in place as in a long
run. The corpus is bench/throughput.py's (same seed, same copies), of one --kind.

To compare two commits, run the script of each in a worktree of it: the children import
archiver from the tree the script is in.

    python bench/instructions.py --bench PATH/TO/bench [--kind dump] [--warm 200] [--count 200]

PATH/TO/bench is the folder holding scrapinghub/ (or set ARCHIVER_BENCH). Needs valgrind
(Debian: apt-get install valgrind); callgrind runs some fifty times slower than Python.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import throughput

ROOT = Path(__file__).resolve().parents[1]


def count_instructions(corpus: Path, warm: int, count: int) -> int:
    """Instructions callgrind counts for a child that extracts warm + count inputs."""
    argv = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(corpus), str(warm), str(count),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    child = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", child.stderr)
    if child.returncode != 0 or found is None:
        raise SystemExit(f"callgrind failed (exit {child.returncode}):\n{child.stderr[-2000:]}")
    return int(found.group(1))


def child(corpus: str, warm: int, count: int) -> None:
    """In the child: extract the first warm + count inputs of the corpus, in order."""
    from archiver import pipeline, sources
    from archiver import workers as archiver_workers

    archiver_workers.warm_up()
    for path in list(sources.iter_raw_files([corpus]))[: warm + count]:
        pipeline.process_file(path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bench", default=os.environ.get("ARCHIVER_BENCH"))
    parser.add_argument("--kind", choices=["dump", "html"], default="dump")
    parser.add_argument("--warm", type=int, default=200, help="inputs extracted first (200)")
    parser.add_argument("--count", type=int, default=200, help="inputs counted (200)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return 0
    if not args.bench:
        parser.error("give --bench PATH (the folder with scrapinghub/) or set ARCHIVER_BENCH")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    if args.count < 1 or args.warm < 0:
        parser.error("--count must be 1 or more and --warm 0 or more")
    pages = throughput.load_sources(Path(args.bench), args.kind)
    with tempfile.TemporaryDirectory(prefix="archiver-instructions-") as folder:
        corpus = Path(folder)
        total = args.warm + args.count
        throughput.write_corpus(pages, corpus, total, args.seed, args.kind, throughput.DUPLICATES)
        before = count_instructions(corpus, args.warm, 0)
        after = count_instructions(corpus, args.warm, args.count)
    per_input = (after - before) / args.count
    print(
        f"{args.kind}: {per_input / 1e6:.2f} million instructions an input to extract "
        f"(inputs {args.warm + 1}-{total} of the corpus, after {args.warm}; {ROOT})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m archiver`` and the ``archiver`` command: the command line, started safely.

The command line's modules (trafilatura, NumPy, SQLite) take a few tenths of a second to
import; a Ctrl-C meanwhile must end the command quietly, as it does once it runs.
"""

import sys


def run() -> None:
    """Import the command line and run it; a Ctrl-C during the import exits quietly (130)."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        sys.exit(130)
    main()


if __name__ == "__main__":
    run()

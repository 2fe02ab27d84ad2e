"""Imported by the worker pool's fork server: load the heavy parts once, for every worker.

The workers are forked from the fork server, so what it loaded (trafilatura, lxml, the
language model) is shared with them page by page until written to, instead of being
loaded again by each worker.
"""

import gc

from . import extract  # noqa: F401  (what a task runs: stripping, metadata, storage rows)
from .workers import warm_up

warm_up()
# Keep the collector from writing to the shared objects' headers (each write would copy
# a shared page into the worker that made it).
gc.freeze()

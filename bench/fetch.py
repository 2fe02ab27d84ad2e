"""Fetcher overhead: archiving N pages from a local server against plain httpx GETs.

    python bench/fetch.py [--pages 300]

Serves small HTML pages on 127.0.0.1 and prints, within one run, the time of plain
sequential httpx GETs of the pages, the time of ``archiver.fetch`` (delay 0, so one
request at a time on the single host) writing WARC and the ``fetches`` table, their
ratio, and the peak memory of capping a 30 MB body at 20 MiB.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from archiver import fetch

BIG = 30 * 1024 * 1024
PAGE = (
    b"<html><body>"
    + b"<p>A paragraph of an article, long enough to be text.</p>" * 40
    + b"</body></html>"
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        size = BIG if self.path == "/big" else len(PAGE)
        self.send_response(404 if self.path == "/robots.txt" else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            if self.path == "/big":
                for _ in range(size // (1024 * 1024)):
                    self.wfile.write(b"x" * 1024 * 1024)
            else:
                self.wfile.write(PAGE)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = [f"{base}/page/{n}" for n in range(args.pages)]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        started = time.perf_counter()
        with httpx.Client() as client:
            for url in urls:
                client.get(url).raise_for_status()
        plain = time.perf_counter() - started
        options = fetch.FetchOptions(out_dir=tmp / "raw", delay=0)
        started = time.perf_counter()
        summary = fetch.fetch(urls, tmp / "archive.db", options)
        archived = time.perf_counter() - started
        warc_bytes = sum(p.stat().st_size for p in (tmp / "raw").glob("*.warc.gz"))
        print(f"pages: {args.pages} ({len(PAGE)} bytes each); {summary.line()}")
        print(f"plain httpx GETs:      {plain:6.2f} s  {args.pages / plain:6.0f} pages/s")
        print(f"archiver fetch:        {archived:6.2f} s  {args.pages / archived:6.0f} pages/s")
        print(f"ratio fetch / plain:   {archived / plain:6.2f}")
        print(f"WARC bytes per page:   {warc_bytes / args.pages:6.0f}")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        fetch.fetch([f"{base}/big"], tmp / "archive.db", options)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"peak RSS before / after a 30 MB body capped at 20 MiB: {before:.0f} / {after:.0f} MB"
        )
    server.shutdown()


if __name__ == "__main__":
    main()

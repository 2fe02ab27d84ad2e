"""Fetch URLs politely and archive the responses as WARC files under raw/.

Each URL is normalised, checked against robots.txt and fetched with httpx: one request
in flight per host, a pause between requests to a host, a global cap on concurrent
requests, retries with exponential backoff, redirects followed by hand (http and https
only, at most ten, loops detected) and a cap on the body. A fetched HTML page is written
as request, response and metadata records into a rotating ``.warc.gz`` file that is
never rewritten; every URL's outcome goes into the archive's ``fetches`` table, so a
later run skips what is done and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urljoin

import httpx
import sqlite_utils

from . import store, warc
from .robots import (
    ALLOW_ALL,
    HostGate,
    RobotsCache,
    RobotsPolicy,
    Stopped,
    parse_retry_after,
    parse_robots,
    path_of,
)
from .urls import UrlRefused, check_scheme, host_of, interleave_hosts, normalize_url, url_key

try:
    __version__ = version("archiver")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0"

DEFAULT_USER_AGENT = f"archiver/{__version__} (news article archiver; honours robots.txt)"
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_WARC_BYTES = 100 * 1000 * 1000
HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# Redirect bodies are read (to keep the connection reusable) but never archived.
MAX_REDIRECT_BODY = 64 * 1024
# A site's Crawl-delay may slow the fetcher down, but not to a crawl.
MAX_CRAWL_DELAY = 30.0

FETCHED, NOT_ARCHIVED, ROBOTS = "fetched", "not archived", "skipped by robots"
FAILED, ALREADY = "failed", "already fetched"
# Outcomes that count as done: a later run does not fetch these URLs again.
DONE_OUTCOMES = (FETCHED, NOT_ARCHIVED, ROBOTS)

FETCH_COLUMNS: dict[str, type] = {
    "url": str,
    "final_url": str,
    "status": int,
    "content_type": str,
    "bytes": int,
    "fetched_at": str,
    "warc_file": str,
    "error": str,
    "outcome": str,
}


@dataclass(frozen=True)
class FetchOptions:
    """How politely, how patiently and where to fetch."""

    out_dir: Path = Path("raw")
    delay: float = 1.0
    concurrency: int = 4
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    max_retry_after: float = 120.0
    max_bytes: int = DEFAULT_MAX_BYTES
    warc_max_bytes: int = DEFAULT_WARC_BYTES
    max_redirects: int = 10
    user_agent: str = DEFAULT_USER_AGENT
    all_types: bool = False
    refetch: bool = False


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one URL, as stored in ``fetches``."""

    url: str
    outcome: str
    final_url: str | None = None
    status: int | None = None
    content_type: str | None = None
    bytes: int | None = None
    fetched_at: str | None = None
    warc_file: str | None = None
    error: str | None = None

    @property
    def reason(self) -> str | None:
        """The short reason of a failure or skip: ``timeout``, ``redirect loop``..."""
        return self.error.split(":", 1)[0] if self.error else None

    @property
    def host(self) -> str:
        """The host the URL is on (empty for a URL without one)."""
        return host_of(self.url) if "://" in self.url else ""


@dataclass(frozen=True)
class FetchSummary:
    """Counts of one fetch run and the WARC files it wrote."""

    fetched: int
    not_archived: int
    robots: int
    already: int
    failed: tuple[tuple[str, int], ...]
    warc_files: tuple[str, ...]

    @property
    def failed_count(self) -> int:
        """How many URLs failed, whatever the reason."""
        return sum(count for _, count in self.failed)

    def line(self) -> str:
        """The one-line summary printed at the end of a run."""
        text = (
            f"{self.fetched} fetched, {self.not_archived} not archived (not HTML), "
            f"{self.robots} skipped by robots.txt, {self.already} already fetched, "
            f"{self.failed_count} failed"
        )
        if self.failed:
            text += " (" + ", ".join(f"{reason}: {count}" for reason, count in self.failed) + ")"
        return text


class FetchError(Exception):
    """A URL that could not be fetched; the message starts with a short reason."""

    def __init__(self, reason: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.status = status  # the HTTP status of a response given up on (429, 5xx)


@dataclass(frozen=True)
class Capture:
    """What a worker brings back for one URL: its result and the exchange to archive."""

    result: FetchResult
    exchange: warc.Exchange | None = None
    redirects: tuple[str, ...] = ()


class Fetcher:
    """Fetches single URLs (robots, retries, redirects) for the worker threads of a run."""

    def __init__(self, options: FetchOptions, stop: threading.Event) -> None:
        self.options = options
        self.stop = stop
        self.gate = HostGate(options.delay, stop)
        self.robots = RobotsCache(self._load_robots)
        timeout = httpx.Timeout(options.timeout)
        limits = httpx.Limits(max_connections=max(options.concurrency, 1))
        self.client = httpx.Client(
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
            headers={"User-Agent": options.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    def fetch(self, url: str) -> Capture:
        """Fetch one normalised URL, following redirects; never raises but Stopped."""
        started = store.now()
        chain: list[str] = []
        current = url
        try:
            while True:
                policy = self.robots.policy(current)
                if policy.disallow_all and policy.source:
                    # Not the site's wish but a failure to learn it: the next run tries again.
                    error = f"robots.txt unreachable: {policy.source}"
                    return Capture(
                        FetchResult(url, FAILED, current, fetched_at=started, error=error)
                    )
                if not policy.allows(path_of(current)):
                    error = f"robots.txt: {policy.blocking_rule(path_of(current))} ({current})"
                    return Capture(
                        FetchResult(url, ROBOTS, current, fetched_at=started, error=error)
                    )
                exchange = self.exchange(current, archive_body=True)
                location = exchange.header("location")
                if exchange.status not in REDIRECT_STATUSES or not location:
                    break
                chain.append(current)
                current = self._redirect_target(current, location, chain)
        except FetchError as exc:
            # A response given up on was the URL's answer; other failures had none.
            final = current if exc.status is not None else (chain[-1] if chain else None)
            return Capture(
                FetchResult(url, FAILED, final, exc.status, fetched_at=started, error=str(exc))
            )
        status, content_type = exchange.status, exchange.content_type
        result = FetchResult(
            url, FETCHED, current, status, content_type, len(exchange.body), started
        )
        if not 200 <= exchange.status < 300:
            error = f"http {exchange.status}: {exchange.reason_phrase or 'error'} at {current}"
            return Capture(replace(result, outcome=FAILED, bytes=None, error=error))
        if not self._archivable(exchange):
            declared = exchange.header("content-length")
            size = int(declared) if declared and declared.isdigit() else None
            return Capture(replace(result, outcome=NOT_ARCHIVED, bytes=size))
        return Capture(result, exchange, tuple(chain))

    def _redirect_target(self, current: str, location: str, chain: list[str]) -> str:
        target = urljoin(current, location)
        try:
            check_scheme(target)
            target = normalize_url(target)
        except UrlRefused as exc:
            raise FetchError(f"redirect to {exc.reason}", f"{current} -> {location}") from None
        if target in chain:
            raise FetchError("redirect loop", " -> ".join([*chain, target]))
        if len(chain) > self.options.max_redirects:
            raise FetchError(
                "too many redirects", f"more than {self.options.max_redirects} from {chain[0]}"
            )
        return target

    def _archivable(self, exchange: warc.Exchange) -> bool:
        return self.options.all_types or exchange.content_type in HTML_TYPES

    def exchange(self, url: str, archive_body: bool, body_cap: int | None = None) -> warc.Exchange:
        """One GET with retries on connection errors, timeouts, 429 and 5xx."""
        host = host_of(url)
        options = self.options
        for attempt in range(options.retries + 1):
            retry_after: float | None = None
            try:
                with self.gate.slot(host):
                    exchange = self._attempt(url, archive_body, body_cap)
            except httpx.TimeoutException as exc:
                error = FetchError("timeout", f"no answer within {options.timeout:g} s ({url})")
                error.__cause__ = exc
            except httpx.TransportError as exc:
                error = FetchError("connection error", f"{exc or type(exc).__name__} ({url})")
            else:
                if exchange.status != 429 and exchange.status < 500:
                    return exchange
                error = FetchError(
                    f"http {exchange.status}",
                    f"{exchange.reason_phrase or 'error'} at {url}",
                    exchange.status,
                )
                retry_after = parse_retry_after(exchange.header("retry-after"))
                if retry_after is not None and retry_after > options.max_retry_after:
                    raise FetchError(
                        f"http {exchange.status}",
                        f"Retry-After of {retry_after:g} s is longer than "
                        f"{options.max_retry_after:g} s ({url})",
                        exchange.status,
                    )
            if attempt == options.retries:
                raise error
            self.gate.hold(host, max(options.backoff * 2**attempt, retry_after or 0.0))
        raise AssertionError("unreachable")

    def _attempt(self, url: str, archive_body: bool, body_cap: int | None) -> warc.Exchange:
        started = dt.datetime.now(dt.UTC)
        clock = time.monotonic()
        with self.client.stream("GET", url) as response:
            status = response.status_code
            ip = _server_ip(response)
            content_type = (response.headers.get("content-type") or "").split(";")[0].strip()
            if status in REDIRECT_STATUSES:
                cap = MAX_REDIRECT_BODY
            elif body_cap is not None:
                cap = body_cap
            elif (
                archive_body
                and 200 <= status < 300
                and (self.options.all_types or content_type.lower() in HTML_TYPES)
            ):
                cap = self.options.max_bytes
            else:
                cap = 0
            body, truncated = _read_capped(response, cap, self.stop)
            request = response.request
            return warc.Exchange(
                url=url,
                request_target=request.url.raw_path.decode("ascii"),
                request_headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
                ),
                http_version=response.http_version,
                status=status,
                reason_phrase=response.reason_phrase,
                headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ),
                body=body,
                truncated=truncated,
                started=started,
                elapsed=time.monotonic() - clock,
                ip=ip,
            )

    def _load_robots(self, robots_address: str) -> RobotsPolicy:
        """Fetch and parse one robots.txt (RFC 9309 §2.3: 4xx allows all, 5xx forbids all)."""
        current = robots_address
        try:
            for _ in range(5):
                exchange = self.exchange(current, archive_body=False, body_cap=512 * 1024)
                location = exchange.header("location")
                if exchange.status in REDIRECT_STATUSES and location:
                    current = urljoin(current, location)
                    check_scheme(current)
                    continue
                break
            else:
                return ALLOW_ALL
        except (FetchError, UrlRefused) as exc:
            return RobotsPolicy(disallow_all=True, source=str(exc))
        if 400 <= exchange.status < 500:
            return ALLOW_ALL
        if exchange.status >= 300:
            return RobotsPolicy(disallow_all=True, source=f"http {exchange.status} for {current}")
        policy = parse_robots(exchange.body.decode("utf-8", "replace"), self.options.user_agent)
        if policy.crawl_delay:
            self.gate.set_delay(host_of(robots_address), min(policy.crawl_delay, MAX_CRAWL_DELAY))
        return policy


def _read_capped(response: httpx.Response, cap: int, stop: threading.Event) -> tuple[bytes, bool]:
    """Read the body as sent (still content-encoded) up to ``cap`` bytes; True if cut."""
    if cap <= 0:
        return b"", False
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        if stop.is_set():  # an interrupted run does not wait for a big body to finish
            raise Stopped
        if size + len(chunk) >= cap:
            chunks.append(chunk[: cap - size])
            # Anything past the cap is not downloaded: closing drops the connection.
            more = size + len(chunk) > cap or _has_more(response)
            return b"".join(chunks), more
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _has_more(response: httpx.Response) -> bool:
    declared = response.headers.get("content-length")
    return (
        declared is None or not declared.isdigit() or int(declared) > response.num_bytes_downloaded
    )


def _server_ip(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # the address is a nicety; no transport must fail a fetch over it
        return None
    return str(address[0]) if address else None


def open_fetch_db(path: str | Path) -> sqlite_utils.Database:
    """Open the archive and create the ``fetches`` table if it is missing."""
    db = store.open_db(path)
    table = db.table("fetches")
    if not table.exists():
        table.create(FETCH_COLUMNS, pk="url")
        table.create_index(["outcome"])
    return db


def captures_to_ingest(db_path: str | os.PathLike[str], this_run: Iterable[str] = ()) -> list[str]:
    """WARC files to ingest after a fetch: this run's, and every earlier one not ingested.

    An interrupted ``fetch --ingest`` run leaves captures that the run resuming it no
    longer fetches: they are ingested then. A file no longer on disk is left out.
    """
    found = dict.fromkeys(this_run)
    try:
        db = store.open_archive_read_only(db_path)
    except store.NotAnArchive:
        return list(found)
    with contextlib.closing(db.conn):
        try:
            rows = db.execute(
                """select distinct warc_file from fetches
                   where warc_file is not null
                     and warc_file not in (select path from raw_files where status = 'ok')
                   order by fetched_at"""
            ).fetchall()
        except sqlite3.OperationalError:  # no fetches table: nothing fetched yet
            rows = []
    found.update(dict.fromkeys(row[0] for row in rows))
    return [path for path in found if os.path.isfile(path)]


def save_result(db: sqlite_utils.Database, result: FetchResult) -> None:
    """Insert or replace the ``fetches`` row of one URL."""
    row = {name: getattr(result, name) for name in FETCH_COLUMNS}
    db.table("fetches").upsert(row, pk="url")


def iter_fetch(
    urls: Iterable[str], db_path: str | Path, options: FetchOptions | None = None
) -> Iterator[FetchResult]:
    """Fetch URLs and archive them, yielding each URL's result once it is stored.

    Yields exactly one result per URL of ``unique_urls(urls)``. Closing the generator
    early (or an interrupt) stops the run; what was stored stays, the rest is fetched
    by the next run.
    """
    options = options or FetchOptions()
    db = open_fetch_db(db_path)
    stop = threading.Event()
    fetcher: Fetcher | None = None
    warcs = warc.WarcFiles(
        Path(options.out_dir), options.warc_max_bytes, options.user_agent, __version__
    )
    pool: ThreadPoolExecutor | None = None
    try:
        jobs: list[str] = []
        seen: set[str] = set()
        for raw in urls:
            key = url_key(raw)
            if key in seen:
                continue
            seen.add(key)
            try:
                normalize_url(raw)
            except UrlRefused as exc:
                result = FetchResult(key, FAILED, fetched_at=store.now(), error=str(exc))
                save_result(db, result)
                yield result
                continue
            if not options.refetch and _is_done(db, key):
                yield FetchResult(key, ALREADY)
                continue
            jobs.append(key)
        if not jobs:
            return
        fetcher = Fetcher(options, stop)
        pool = ThreadPoolExecutor(max_workers=max(options.concurrency, 1))
        futures = [pool.submit(_fetch_one, fetcher, url) for url in interleave_hosts(jobs)]
        for future in as_completed(futures):
            try:
                capture = future.result()
            except Stopped:
                continue
            result = capture.result
            if capture.exchange is not None:
                result = replace(
                    result,
                    warc_file=warcs.write(capture.exchange, capture.result.url, capture.redirects),
                )
            save_result(db, result)
            yield result
    finally:
        stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if fetcher is not None:
            fetcher.close()
        warcs.close()
        db.close()


def _fetch_one(fetcher: Fetcher, url: str) -> Capture:
    try:
        return fetcher.fetch(url)
    except Stopped:
        raise
    except Exception as exc:  # a bug must cost one URL, not the run
        error = f"internal error: {type(exc).__name__}: {exc}"
        return Capture(FetchResult(url, FAILED, fetched_at=store.now(), error=error))


def _is_done(db: sqlite_utils.Database, url: str) -> bool:
    placeholders = ", ".join("?" for _ in DONE_OUTCOMES)
    row = db.execute(
        f"select 1 from fetches where url = ? and outcome in ({placeholders})",
        [url, *DONE_OUTCOMES],
    ).fetchone()
    return row is not None


def summarise(results: Iterable[FetchResult]) -> FetchSummary:
    """Count the results of a run by outcome, and failures by reason."""
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    warc_files: dict[str, None] = {}
    for result in results:
        outcomes[result.outcome] += 1
        if result.outcome == FAILED:
            reasons[result.reason or "error"] += 1
        if result.warc_file:
            warc_files[result.warc_file] = None
    return FetchSummary(
        fetched=outcomes[FETCHED],
        not_archived=outcomes[NOT_ARCHIVED],
        robots=outcomes[ROBOTS],
        already=outcomes[ALREADY],
        failed=tuple(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        warc_files=tuple(warc_files),
    )


def fetch(
    urls: Iterable[str], db: str | Path = "archive.db", options: FetchOptions | None = None
) -> FetchSummary:
    """Fetch URLs into WARC files and the ``fetches`` table; returns the run's counts."""
    return summarise(iter_fetch(urls, db, options))

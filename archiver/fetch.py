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

import datetime as dt
import io
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
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import store
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

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Exchange:
    """One HTTP request as sent and its response as received."""

    url: str
    request_target: str
    request_headers: tuple[tuple[str, str], ...]
    http_version: str
    status: int
    reason_phrase: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool
    started: dt.datetime
    elapsed: float
    ip: str | None

    def header(self, name: str) -> str | None:
        """The first response header called ``name`` (any case), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def content_type(self) -> str | None:
        """The media type of the response, without parameters, in lower case."""
        value = self.header("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None


@dataclass(frozen=True)
class Capture:
    """What a worker brings back for one URL: its result and the exchange to archive."""

    result: FetchResult
    exchange: Exchange | None = None
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
            final = chain[-1] if chain else None
            return Capture(FetchResult(url, FAILED, final, fetched_at=started, error=str(exc)))
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

    def _archivable(self, exchange: Exchange) -> bool:
        return self.options.all_types or exchange.content_type in HTML_TYPES

    def exchange(self, url: str, archive_body: bool, body_cap: int | None = None) -> Exchange:
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
                    f"http {exchange.status}", f"{exchange.reason_phrase or 'error'} at {url}"
                )
                retry_after = parse_retry_after(exchange.header("retry-after"))
                if retry_after is not None and retry_after > options.max_retry_after:
                    raise FetchError(
                        f"http {exchange.status}",
                        f"Retry-After of {retry_after:g} s is longer than "
                        f"{options.max_retry_after:g} s ({url})",
                    )
            if attempt == options.retries:
                raise error
            self.gate.hold(host, max(options.backoff * 2**attempt, retry_after or 0.0))
        raise AssertionError("unreachable")

    def _attempt(self, url: str, archive_body: bool, body_cap: int | None) -> Exchange:
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
            return Exchange(
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


class WarcFiles:
    """Rotating ``.warc.gz`` files of one run: each new, none ever reopened or rewritten."""

    def __init__(self, out_dir: Path, max_bytes: int, user_agent: str) -> None:
        self.out_dir = out_dir
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        self.counter = 0
        self.paths: list[Path] = []
        self._handle: io.BufferedWriter | None = None
        self._size = 0

    def write(self, capture: Capture) -> str:
        """Append one capture's records; returns the path of the WARC file holding them."""
        data = capture_records(capture)
        if self._handle is None or (self._size and self._size + len(data) > self.max_bytes):
            self._open_next()
        assert self._handle is not None
        # One write of whole gzip members, so a crash never leaves half a record behind.
        self._handle.write(data)
        self._handle.flush()
        self._size += len(data)
        return str(self.paths[-1])

    def _open_next(self) -> None:
        self.close()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        while True:
            path = self.out_dir / f"archiver-{self.stamp}-{self.counter:05d}.warc.gz"
            self.counter += 1
            try:
                handle = open(path, "xb")  # noqa: SIM115 - kept open across writes
            except FileExistsError:
                continue
            break
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
        info = {
            "software": f"archiver/{__version__} (warcio, httpx)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "http-header-user-agent": self.user_agent,
            "robots": "obey",
        }
        writer.write_record(writer.create_warcinfo_record(path.name, info))
        handle.write(buffer.getvalue())
        self._handle, self._size = handle, buffer.tell()
        self.paths.append(path)

    def close(self) -> None:
        """Close the current file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def capture_records(capture: Capture) -> bytes:
    """The request, response and metadata records of one capture, gzipped, as bytes."""
    exchange = capture.exchange
    assert exchange is not None
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="1.1")
    date = exchange.started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    common = {"WARC-Date": date}
    if exchange.ip:
        common["WARC-IP-Address"] = exchange.ip
    response_headers = dict(common)
    if exchange.truncated:
        response_headers["WARC-Truncated"] = "length"
    # httpx hands over the body de-chunked: keep the header, under a name that says so.
    headers = [
        (f"X-Archive-Orig-{k}" if k.lower() == "transfer-encoding" else k, v)
        for k, v in exchange.headers
    ]
    response = writer.create_warc_record(
        exchange.url,
        "response",
        payload=io.BytesIO(exchange.body),
        length=len(exchange.body),
        warc_headers_dict=response_headers,
        http_headers=StatusAndHeaders(
            f"{exchange.status} {exchange.reason_phrase}".strip(),
            headers,
            protocol=exchange.http_version,
        ),
    )
    request = writer.create_warc_record(
        exchange.url,
        "request",
        warc_headers_dict=dict(common),
        http_headers=StatusAndHeaders(
            f"GET {exchange.request_target} {exchange.http_version}",
            list(exchange.request_headers),
            is_http_request=True,
        ),
    )
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request.rec_headers.add_header("WARC-Concurrent-To", response_id)
    fields = [
        f"fetchTimeMs: {round(exchange.elapsed * 1000)}",
        *(f"via: {hop}" for hop in capture.redirects),
        f"requestedURL: {capture.result.url}",
    ]
    if exchange.truncated:
        fields.append(f"truncatedAtBytes: {len(exchange.body)}")
    payload = ("\r\n".join(fields) + "\r\n").encode("utf-8")
    metadata = writer.create_warc_record(
        exchange.url,
        "metadata",
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_headers_dict={**common, "WARC-Concurrent-To": response_id},
        warc_content_type="application/warc-fields",
    )
    for record in (request, response, metadata):
        writer.write_record(record)
    return buffer.getvalue()


def open_fetch_db(path: str | Path) -> sqlite_utils.Database:
    """Open the archive and create the ``fetches`` table if it is missing."""
    db = store.open_db(path)
    table = db.table("fetches")
    if not table.exists():
        table.create(FETCH_COLUMNS, pk="url")
        table.create_index(["outcome"])
    return db


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
    warcs = WarcFiles(Path(options.out_dir), options.warc_max_bytes, options.user_agent)
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
                result = replace(result, warc_file=warcs.write(capture))
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

"""WARC and ARC captures: each HTML response record becomes one document.

Reading: records are read one at a time with warcio, so a capture of any size streams; each
record's payload is capped like a single file. Revisits and non-HTML responses are
skipped and counted; request, metadata and warcinfo records carry no page.

Writing: the fetcher's exchanges become request, response and metadata records in
rotating ``.warc.gz`` files that are never reopened.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import os
import sys
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from . import sources
from .models import InputError, RawDoc, counted

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Enough of a file to tell a WARC or ARC capture from other inputs.
SNIFF_BYTES = 64


@dataclass(frozen=True)
class RecordFailure:
    """A record of a capture that could not be read, with the reason."""

    key: str
    url: str | None
    error: str


@dataclass(frozen=True)
class Skipped:
    """A record that holds no HTML page (a revisit, an image, a PDF)."""

    key: str
    why: str


def read_unless_capture(path: Path, max_bytes: int = sources.DEFAULT_MAX_BYTES) -> bytes | None:
    """A raw file's bytes (see :func:`sources.read_bytes`), or None when it is a capture.

    A page or a dump is opened and read once: opening it apart to tell it from a capture
    cost as much as reading it (a dump fits in the first read's buffer).
    """
    return sources.read_bytes_unless(path, _starts_a_capture, max_bytes)


def is_capture_data(data: bytes) -> bool:
    """True for the bytes of a WARC or ARC capture, gzipped or not."""
    return _starts_a_capture(io.BytesIO(data))


def _starts_a_capture(stream: BinaryIO) -> bool:
    return _head(stream).startswith((b"WARC/", ARC_START))


# An ARC file opens with its own description record.
ARC_START = b"filedesc://"


def _head(stream: BinaryIO) -> bytes:
    """The first bytes of a stream, inflated when it is gzipped (empty when that fails)."""
    head = stream.read(SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        # Inflated from the stream: the first compressed bytes alone inflate to nothing yet.
        stream.seek(0)
        try:
            with gzip.GzipFile(fileobj=stream) as inflated:
                head = inflated.read(SNIFF_BYTES)
        except (OSError, EOFError, zlib.error):
            return b""
    return head


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def iter_records(
    path: Path,
    sha256: str,
    max_bytes: int = sources.DEFAULT_MAX_BYTES,
    named_as: Path | None = None,
) -> Iterator[RawDoc | RecordFailure | Skipped]:
    """Yield a RawDoc per HTML response record, and a RecordFailure or Skipped per other.

    A capture that cannot be read at all (truncated or damaged) ends with one
    RecordFailure naming the offset where reading stopped. The documents carry
    ``named_as`` as their path when given: the path the archive knows the capture by.
    """
    name = path if named_as is None else named_as
    with path.open("rb") as handle:
        # warcio gives an ARC record a new random WARC-Record-ID at every read: there
        # the record's number names it, so that its article keeps one id.
        try:
            arc = _head(handle).startswith(ARC_START)
            handle.seek(0)
        except OSError:  # warcio's first read says what failed, as for any capture
            arc = False
        archive = ArchiveIterator(handle, arc2warc=True)
        records = iter(archive)
        number, cut, last = 0, False, 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                if not cut and _cut_in_headers(handle, last):
                    yield RecordFailure(
                        f"record-{number + 1}", None, f"capture cut short after record {number}"
                    )
                return
            except Exception as exc:  # warcio raises many types on a damaged capture
                # Its own errors say what it read; others are its internals tripping on
                # a record it cannot make sense of (a response without a target URI).
                if isinstance(exc, ArchiveLoadFailed):
                    reason = str(exc)
                elif isinstance(exc, (AttributeError, KeyError, IndexError, TypeError, ValueError)):
                    reason = "malformed headers"
                else:  # reading itself failed (an I/O error on a network disk, say)
                    reason = f"{type(exc).__name__}: {exc}"
                yield RecordFailure(
                    f"record-{number + 1}",
                    None,
                    f"damaged capture: record {number + 1} cannot be read ({reason})",
                )
                return
            number += 1
            # Where this record begins (warcio's offset of the record it yields): a cut
            # can only come after the last one read.
            offset = getattr(archive, "offset", 0)
            last = offset if isinstance(offset, int) else 0
            # get_record_offset() would consume the payload: number records instead.
            key = (None if arc else record.rec_headers.get_header("WARC-Record-ID")) or (
                f"record-{number}"
            )
            url = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type == "revisit":
                yield Skipped(key, "revisit")
                continue
            if record.rec_type != "response":
                continue
            content_type = ""
            if record.http_headers is not None:
                content_type = record.http_headers.get_header("Content-Type") or ""
            if not content_type.lower().startswith(HTML_TYPES):
                yield Skipped(key, f"not HTML ({content_type.split(';')[0] or 'no type'})")
                continue
            try:
                yield _record_doc(record, name, sha256, key, url, content_type, max_bytes)
            except InputError as exc:
                cut = isinstance(exc, _Truncated)  # said once: the capture ends there
                yield RecordFailure(key, url, str(exc))


class _Truncated(InputError):
    """A record whose payload ends before its Content-Length: the capture was cut short."""


def _cut_in_headers(handle: BinaryIO, last: int) -> bool:
    """True for a WARC file that ends inside a record's headers, after offset ``last``.

    warcio ends its iteration quietly there; a whole record ends with a blank line. Also
    true for a gzipped capture cut inside a member.
    """
    handle.seek(0)
    start = handle.read(5)
    if start.startswith(b"\x1f\x8b"):
        return _gzip_cut_short(handle, last)
    if start != b"WARC/":
        return False
    size = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, size - 4))
    return handle.read(4) != b"\r\n\r\n"


def _gzip_cut_short(handle: BinaryIO, last: int) -> bool:
    """True for gzip data that ends inside a member (warcio stops there without a word).

    Only the members from ``last`` on are inflated again: the record read last and what
    follows it, not the whole capture.
    """
    handle.seek(last)
    try:
        with gzip.GzipFile(fileobj=handle) as inflated:
            while inflated.read(1 << 20):
                pass
    except EOFError:
        return True
    except (OSError, zlib.error):
        return False  # damaged otherwise: warcio says so when it reads it
    return False


def _record_doc(
    record: ArcWarcRecord,
    path: Path,
    sha256: str,
    key: str,
    url: str | None,
    content_type: str,
    max_bytes: int,
) -> RawDoc:
    stream = record.content_stream()
    try:
        data = stream.read(min(max_bytes, sys.maxsize - 1) + 1)
    except Exception as exc:  # warcio surfaces zlib/chunking errors from the payload
        raise InputError(f"damaged record payload: {exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"record too large (over {sources.size_text(max_bytes)})")
    # The payload ended before the record's Content-Length: the capture was cut short.
    missing = getattr(record.raw_stream, "limit", 0)
    if isinstance(missing, int) and missing > 0:
        raise _Truncated(f"truncated record ({missing} of its {record.length} bytes missing)")
    text, encoding, warnings = sources.decode_bytes(data, declared=_charset(content_type))
    return RawDoc(
        path=str(path),
        sha256=sha256,
        size=len(data),
        format="html",
        encoding=encoding,
        text=text,
        record=key,
        # The record's own bytes, not the capture's, key its article: a capture that
        # grows (a crawl still writing it) keeps the ids of the pages it held.
        record_sha256=hashlib.sha256(data).hexdigest(),
        url=url,
        captured_at=record.rec_headers.get_header("WARC-Date"),
        warnings=warnings,
    )


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


# Writing: the fetcher's captures, as standard WARC 1.1 that other tools read.


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


class WarcFiles:
    """Rotating ``.warc.gz`` files of one run: each new, none ever reopened or rewritten."""

    def __init__(self, out_dir: Path, max_bytes: int, user_agent: str, version: str) -> None:
        self.out_dir = out_dir
        self.version = version
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        self.counter = 0
        self.paths: list[Path] = []
        self._handle: io.BufferedWriter | None = None
        self._size = 0

    def write(self, exchange: Exchange, requested_url: str, redirects: Sequence[str] = ()) -> str:
        """Append one exchange's records; returns the path of the WARC file holding them."""
        data = exchange_records(exchange, requested_url, redirects)
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
            "software": f"archiver/{self.version} (warcio, httpx)",
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


def exchange_records(
    exchange: Exchange, requested_url: str, redirects: Sequence[str] = ()
) -> bytes:
    """The request, response and metadata records of one exchange, gzipped, as bytes."""
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
            f"GET {exchange.request_target} {_request_version(exchange.http_version)}",
            list(exchange.request_headers),
            is_http_request=True,
        ),
    )
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request.rec_headers.add_header("WARC-Concurrent-To", response_id)
    fields = [
        f"fetchTimeMs: {round(exchange.elapsed * 1000)}",
        *(f"via: {hop}" for hop in redirects),
        f"requestedURL: {requested_url}",
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


def _request_version(answered: str) -> str:
    """The HTTP version a request was sent in, from the version of its answer.

    httpx sends HTTP/1.1 (HTTP/2 only once negotiated); a server may answer in HTTP/1.0.
    """
    return answered if answered.upper().startswith("HTTP/2") else "HTTP/1.1"


def skipped_records(skipped: Counter[str]) -> str:
    """What the records of a capture without a page were: '2 records: not HTML (image/png)'."""
    if not skipped:
        return "no response records"
    kinds = ", ".join(f"{n} {why}" if n > 1 else why for why, n in skipped.most_common(3))
    more = ", ..." if len(skipped) > 3 else ""
    return f"{counted(sum(skipped.values()), 'record')}: {kinds}{more}"

"""WARC and ARC captures: each HTML response record becomes one document.

Records are read one at a time with warcio, so a capture of any size streams; each
record's payload is capped like a single file. Revisits and non-HTML responses are
skipped and counted; request, metadata and warcinfo records carry no page.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from . import sources
from .models import InputError, RawDoc

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


def is_capture(path: Path) -> bool:
    """True when a file is a WARC or ARC capture, gzipped or not, judged by its content."""
    try:
        # Only regular files: a FIFO or a device must not block or stream forever here.
        with sources.open_regular(path) as handle:
            head = handle.read(SNIFF_BYTES)
            if head[:2] == b"\x1f\x8b":
                handle.seek(0)
                with gzip.GzipFile(fileobj=handle) as inflated:
                    head = inflated.read(SNIFF_BYTES)
    except (InputError, OSError, EOFError, zlib.error):
        return False
    return head.startswith((b"WARC/", b"filedesc://"))


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
    path: Path, sha256: str, max_bytes: int = sources.DEFAULT_MAX_BYTES
) -> Iterator[RawDoc | RecordFailure | Skipped]:
    """Yield a RawDoc per HTML response record, and a RecordFailure or Skipped per other.

    A capture that cannot be read at all (truncated or damaged) ends with one
    RecordFailure naming the offset where reading stopped.
    """
    with path.open("rb") as handle:
        records = iter(ArchiveIterator(handle, arc2warc=True))
        number = 0
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except Exception as exc:  # warcio raises many types on a damaged capture
                yield RecordFailure(
                    f"record-{number + 1}", None, f"damaged capture after record {number}: {exc}"
                )
                return
            number += 1
            # get_record_offset() would consume the payload: number records instead.
            key = record.rec_headers.get_header("WARC-Record-ID") or f"record-{number}"
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
                yield _record_doc(record, path, sha256, key, url, content_type, max_bytes)
            except InputError as exc:
                yield RecordFailure(key, url, str(exc))


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
        data = stream.read(max_bytes + 1)
    except Exception as exc:  # warcio surfaces zlib/chunking errors from the payload
        raise InputError(f"damaged record payload: {exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"record too large (over {max_bytes // (1024 * 1024)} MB)")
    # The payload ended before the record's Content-Length: the capture was cut short.
    missing = getattr(record.raw_stream, "limit", 0)
    if isinstance(missing, int) and missing > 0:
        raise InputError(f"truncated record ({missing} of its {record.length} bytes missing)")
    text, encoding, warnings = sources.decode_bytes(data, declared=_charset(content_type))
    return RawDoc(
        path=str(path),
        sha256=sha256,
        size=len(data),
        format="html",
        encoding=encoding,
        text=text,
        record=key,
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

"""Typed records that pass between the ingest stages.

Every stage takes and returns these frozen dataclasses, never loose dicts, so a
stage's contract is visible in its signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

#: Bumped whenever extraction or stripping changes what an input yields.
EXTRACTOR_VERSION = "0.1.1"


class InputError(Exception):
    """A raw input that cannot be ingested; the message is shown to the user as is."""


@dataclass(frozen=True)
class RawDoc:
    """One decoded raw input: a text dump (or, later, one HTML page or WARC record)."""

    path: str
    sha256: str
    size: int
    format: str
    encoding: str
    text: str
    record: str = ""  # distinguishes several documents inside one raw file
    # The sha256 of the document's own bytes, when it is one of several in a raw file (a
    # WARC record): its key then stays the same when the file around it grows.
    record_sha256: str = ""
    url: str | None = None
    captured_at: str | None = None  # WARC-Date of a captured record
    warnings: tuple[str, ...] = ()

    @property
    def doc_key(self) -> str:
        """Content-derived key: identical bytes give the same key wherever they live."""
        return f"{self.record_sha256 or self.sha256}:{self.record}"


@dataclass(frozen=True)
class RemovedLine:
    """A line of the raw text that was judged chrome, with the rule that said so."""

    line_no: int
    text: str
    reason: str
    stage: str = "text"  # "html": an element removed before extraction (line_no in the source)

    def __init__(self, line_no: int, text: str, reason: str, stage: str = "text") -> None:
        # Written out: the generated __init__ of a frozen dataclass sets each field through
        # object.__setattr__, three times slower, and a page removes a hundred lines or more.
        fields = self.__dict__
        fields["line_no"] = line_no
        fields["text"] = text
        fields["reason"] = reason
        fields["stage"] = stage


@dataclass(frozen=True)
class Metadata:
    """What the metadata stage learned about an article; None where unknown."""

    title: str | None = None
    published: str | None = None
    source: str | None = None
    dateline: str | None = None
    author: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Article:
    """A cleaned article, ready to store."""

    id: str
    raw_path: str
    raw_sha256: str
    title: str | None
    text: str
    published: str | None
    source: str | None
    dateline: str | None
    author: str | None
    language: str | None
    removed: tuple[RemovedLine, ...] = field(default_factory=tuple)
    url: str | None = None
    site: str | None = None
    captured_at: str | None = None
    extractor: str = "text-dump"
    extractor_version: str = EXTRACTOR_VERSION
    #: The raw line number of each paragraph of ``text``, when the stripper knows them
    #: (text dumps); what a later removal (a site template) records as its line.
    body_lines: tuple[int, ...] = ()

    @property
    def word_count(self) -> int:
        """Number of whitespace-separated words in the body."""
        return len(self.text.split())

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any], tuple[tuple[Any, ...], ...]]]:
        # Every worker's articles are pickled to the writer, each with a hundred removed
        # lines or more: sent as four columns instead of as objects, they pickle in half
        # the time (unpickling, which builds the objects again, costs the same).
        fields = dict(self.__dict__)
        removed = fields.pop("removed")
        columns = tuple(
            zip(*[(r.line_no, r.text, r.reason, r.stage) for r in removed], strict=True)
        )
        return (_unpickle_article, (fields, columns))


def _unpickle_article(fields: dict[str, Any], columns: tuple[tuple[Any, ...], ...]) -> Article:
    """An article from what :meth:`Article.__reduce__` sent."""
    article = object.__new__(Article)
    article.__dict__.update(fields, removed=tuple(map(RemovedLine, *columns)) if columns else ())
    return article


def counted(count: int, noun: str) -> str:
    """A count with its noun, singular or plural: '1 article', '2 articles'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def article_id(doc_key: str) -> str:
    """Stable article id derived from the raw content (and record within it)."""
    return hashlib.sha256(doc_key.encode("utf-8")).hexdigest()[:16]

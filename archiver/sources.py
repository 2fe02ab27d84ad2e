"""Read and decode raw inputs: find the files, read their bytes safely, decode the text.

Raw inputs are never modified; everything here only reads.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import hashlib
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .models import InputError, RawDoc

#: Inputs larger than this (after gunzip) are refused rather than read into memory.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024

# Magic numbers of common binary formats, so the error names what the file is.
BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"%PDF-", "PDF document"),
    (b"\x7fELF", "ELF executable"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"BZh", "bzip2 archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"SQLite format 3\x00", "SQLite database"),
)

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Share of invalid bytes up to which a mostly-UTF-8 file is decoded with replacement
# characters (a stray byte in a long page, a download cut inside a character) instead of
# guessing a legacy encoding. It is also needed that the valid multibyte characters are
# at least as many as the invalid bytes: legacy text read as UTF-8 has almost none
# (an accented cp1252 or cp1251 letter is followed by a letter, not a continuation byte).
MAX_INVALID_UTF8_SHARE = 0.01

# Legacy encodings in order of how common they are on the web, to break near-ties.
LEGACY_PREFERENCE: tuple[str, ...] = (
    "cp1252", "cp1251", "shift_jis", "cp932", "gb18030", "gbk", "big5", "euc_kr", "euc_jp",
    "cp1250", "iso8859_2", "koi8_r", "cp1256", "cp1253", "cp1254", "cp1255", "cp874", "latin_1",
)  # fmt: skip
LEGACY_CHAOS_MARGIN = 0.1

# Share of control characters above which decoded "text" is really binary.
MAX_CONTROL_SHARE = 0.01


#: What SQLite keeps beside a database: its write-ahead log, shared memory and journal.
DATABASE_COMPANIONS = ("-wal", "-shm", "-journal")


#: The file archiver keeps in every folder it writes clean files into: such a folder is
#: output of an archive (this one, or another, or a --clean-dir used before), never input.
CLEAN_MARKER = ".archiver-clean"


#: What a SQLite database file starts with, and the names such files usually have.
SQLITE_HEADER = b"SQLite format 3\x00"
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def is_database(path: Path) -> bool:
    """True for a SQLite database named as one (``*.db``), or a file SQLite keeps beside it.

    Met in a folder's walk, another archive's database (or any program's) is no page:
    it is passed over, as the archive's own is. Named as an input, it fails as binary.
    """
    name = path.name
    for companion in DATABASE_COMPANIONS:
        if name.endswith(companion):
            return is_database(path.with_name(name[: -len(companion)]))
    if not name.lower().endswith(DATABASE_SUFFIXES):
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def is_clean_folder(path: Path) -> bool:
    """True for a folder archiver writes clean files into (it holds CLEAN_MARKER)."""
    try:
        return (path / CLEAN_MARKER).is_file()
    except OSError:  # a folder that cannot be entered: the walk finds nothing there either
        return False


def archive_paths(
    db: str | os.PathLike[str], clean_dir: str | os.PathLike[str] | None
) -> tuple[Path, ...]:
    """The archive's own files and clean folder, which are output, never raw input."""
    db = Path(db)
    own = [db, *(db.with_name(db.name + suffix) for suffix in DATABASE_COMPANIONS)]
    return (*own, Path(clean_dir)) if clean_dir is not None else tuple(own)


def iter_raw_files(
    paths: Iterable[str | os.PathLike[str]], skip: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Path]:
    """Yield every file under the given files and folders, recursively, in a stable order.

    Paths that do not exist are yielded too, so that the reader reports them.
    Symbolic links to folders are not followed (a link loop cannot trap the walk),
    and hidden files and folders are skipped, as are the files and folders in ``skip``
    (the archive's own, see :func:`archive_paths`: ``archiver ingest .`` must not read
    the database it writes, nor its clean files as new pages), every SQLite database
    (:func:`is_database`), and every folder of clean
    files archiver wrote (it holds CLEAN_MARKER), whichever archive it belongs to, with
    the files in it, even named one by one.
    """
    skipped = _matcher(skip)
    for path in _distinct_inputs(paths):
        if skipped(path) or (not path.is_dir() and is_clean_folder(path.parent)):
            continue
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                if CLEAN_MARKER in files:  # another clean folder of an archive: output
                    dirs[:] = []
                    continue
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith(".") and not skipped(Path(root, d))
                )
                for name in sorted(files):
                    found = Path(root, name)
                    if not name.startswith(".") and not skipped(found) and not is_database(found):
                        yield found
        else:
            yield path


def given_paths(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
    """The paths given, as a list: one path given alone (a str, a Path) is one path.

    Iterated, a string would be its characters, "raw/" the paths r, a, w and / (the whole
    file system); bytes name no path here.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if isinstance(paths, (bytes, bytearray)):
        raise TypeError("give paths as str or pathlib.Path, not bytes")
    found = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"give paths as str or pathlib.Path, not {type(path).__name__}")
        if not os.fspath(path):  # Path("") is "."; an unset variable must not mean it
            raise ValueError("an empty path names no file or folder (give '.' for this one)")
        found.append(Path(path))
    return found


def _distinct_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The given paths, each once, without those a given folder's walk yields anyway.

    A path named twice (``raw raw/``), or a file or folder inside a folder also given
    (``raw raw/a.txt``), would be read twice and counted twice in the summary. Only
    what the walk reaches is left out: not below a hidden name or a linked folder.
    """
    given = list(dict.fromkeys(given_paths(paths)))
    folders = [Path(os.path.abspath(p)) for p in given if p.is_dir()]
    return [p for p in given if not any(_walk_reaches(folder, p) for folder in folders)]


def _walk_reaches(folder: Path, given: Path) -> bool:
    """True when walking ``folder`` (absolute) yields ``given`` (or walks it, a folder)."""
    # Compared as absolute paths, links not resolved: "." holds "raw/a.txt", not "/srv/x".
    path = Path(os.path.abspath(given))
    depth = len(folder.parts)
    if path == folder or path.parts[:depth] != folder.parts:
        return False
    below = path.parts[depth:]
    if any(part.startswith(".") for part in below) or not os.path.lexists(path):
        return False  # hidden, or missing: given, it is reported
    # Each folder on the way must be a real one: the walk does not follow links.
    if any(Path(*path.parts[: depth + i]).is_symlink() for i in range(1, len(below))):
        return False
    return not (path.is_symlink() and path.is_dir())


def _matcher(skip: Iterable[str | os.PathLike[str]]) -> Callable[[Path], bool]:
    """A test for the paths in ``skip``, however spelled (relative, through a link)."""
    wanted: dict[str, set[str]] = {}
    for path in skip:
        wanted.setdefault(Path(path).name, set()).add(os.path.realpath(path))

    def skipped(path: Path) -> bool:
        # Only a path with a skipped name is resolved: one system call per folder level.
        found = wanted.get(path.name)
        return found is not None and os.path.realpath(path) in found

    return skipped


def skipped_inputs(
    paths: Iterable[str | os.PathLike[str]], skip: Iterable[str | os.PathLike[str]]
) -> list[tuple[Path, str]]:
    """The given paths themselves that :func:`iter_raw_files` skips, each with why."""
    skipped = _matcher(skip)
    found = []
    for path in given_paths(paths):
        if skipped(path):
            found.append((path, "the archive's own output, not raw input"))
        elif path.is_dir() and is_clean_folder(path):
            found.append((path, "a folder of clean files archiver wrote, not raw input"))
        elif not path.is_dir() and is_clean_folder(path.parent):
            found.append((path, "in a folder of clean files archiver wrote, not raw input"))
    return found


def count_raw_files(
    paths: Iterable[str | os.PathLike[str]], skip: Iterable[str | os.PathLike[str]] = ()
) -> int:
    """How many files :func:`iter_raw_files` yields for these paths, holding none of them."""
    return sum(1 for _ in iter_raw_files(paths, skip))


#: What a file that grows while it is read is read on by, at a time.
READ_CHUNK = 1024 * 1024


def read_bytes(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a file's bytes as stored, refusing files over max_bytes and non-regular files."""
    data = read_bytes_unless(path, lambda handle: False, max_bytes)
    assert data is not None  # nothing is skipped
    return data


def read_bytes_unless(
    path: Path, skip: Callable[[io.BufferedReader], bool], max_bytes: int = DEFAULT_MAX_BYTES
) -> bytes | None:
    """Read a file's bytes as :func:`read_bytes` does, or None when ``skip(handle)`` says so.

    ``skip`` looks at the start of the opened file (a capture is read record by record
    instead): a file is opened once, whether it is then read or skipped.
    """
    try:
        with open_regular(path) as handle:
            if skip(handle):
                return None
            handle.seek(0)  # within what a sniff buffered, no system call
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise InputError(
                    f"file too large ({size_text(size)}; the limit is {size_text(max_bytes)})"
                )
            # What fstat says is there, and one byte more to see a file grown since; not
            # max_bytes: a read allocates what it is asked for first.
            data = handle.read(size + 1)
            while len(data) > size and len(data) <= max_bytes:  # still growing
                more = handle.read(min(max_bytes + 1 - len(data), READ_CHUNK))
                if not more:
                    break
                data += more
    except OSError as exc:
        raise InputError(os_error_reason(path, exc)) from None
    if len(data) > max_bytes:
        raise InputError(f"file too large (over {size_text(max_bytes)})")
    return data


def open_regular(path: Path) -> io.BufferedReader:
    """Open a regular file for reading; raise InputError for a FIFO, device, socket or folder.

    The file is opened non-blocking and checked with fstat on the open descriptor, so a
    FIFO with no writer cannot hang the run and a path swapped after a check cannot slip
    through; reads of a regular file are unaffected by O_NONBLOCK.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError("is a folder")
        if not stat.S_ISREG(mode):
            raise InputError(f"not a regular file ({_file_kind(mode)})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_name(path: str | os.PathLike[str]) -> None:
    """Raise InputError when a raw file's name cannot be stored as it is."""
    if path_text(path) != os.fspath(path):
        # The name could be opened, but not stored: SQLite text must be valid UTF-8, and
        # an escaped name would no longer lead back to the raw file.
        raise InputError("file name is not valid UTF-8; rename the file to ingest it")


def path_text(path: str | os.PathLike[str]) -> str:
    """A path as storable text: bytes of a name that are not UTF-8 shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def os_error_reason(path: Path, exc: OSError) -> str:
    """A one-line reason for an operating-system error met while opening or reading a file."""
    if exc.errno == errno.ENOENT:
        return "no such file (a broken symbolic link)" if path.is_symlink() else "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a folder"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot read: {exc.strerror or exc}"


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def inflate(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes themselves, or their gunzipped content when they are gzip data."""
    return gunzip_capped(data, max_bytes) if data[:2] == b"\x1f\x8b" else data


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Inflate gzip data, refusing output over max_bytes (a gzip bomb) and truncated streams."""
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while chunk := stream.read(1024 * 1024):
                out.write(chunk)
                if out.tell() > max_bytes:
                    raise InputError(f"gzip inflates past the {size_text(max_bytes)} limit")
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"damaged gzip data: {exc}") from None
    return out.getvalue()


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str, tuple[str, ...]]:
    """Decode raw bytes to text; return (text, encoding, warnings) or raise InputError.

    Order: byte-order mark, then strict UTF-8, then UTF-8 with a few stray bytes,
    then the declared charset (HTTP header, else an HTML meta tag) if the bytes
    decode cleanly with it, then a detected legacy encoding (cp1251, Shift-JIS, ...).
    The bytes win over a declaration: a page saved as UTF-8 that still declares
    ISO-8859-1 is read as UTF-8.
    """
    if not data.strip():
        raise InputError("empty file")
    for signature, kind in BINARY_SIGNATURES:
        if data.startswith(signature):
            raise InputError(f"binary file ({kind}), not text")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"invalid {encoding} after its byte-order mark: {exc.reason}"
                ) from None
            return _checked_text(text), encoding, ()
    if b"\x00" in data[:4096] and data.count(b"\x00") > len(data) // 100:
        raise InputError("binary file (NUL bytes), not text")
    try:
        return _checked_text(data.decode("utf-8")), "utf-8", ()
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    if invalid <= max(1, len(data) * MAX_INVALID_UTF8_SHARE) and _valid_non_ascii(text) >= invalid:
        note = f"invalid UTF-8: {invalid} byte(s) replaced with U+FFFD"
        return _checked_text(text), "utf-8", (note,)
    declared = declared or meta_charset(data)
    if declared:
        try:
            return _checked_text(data.decode(declared)), codecs.lookup(declared).name, ()
        except (LookupError, UnicodeDecodeError):
            pass  # unknown or wrong declaration: detect instead
    return _decode_legacy(data)


_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in a meta tag near its top, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def read_raw(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> RawDoc:
    """Read and decode one raw file into a RawDoc, or raise InputError with the reason."""
    check_name(path)
    return decode_raw(str(path), read_bytes(path, max_bytes), max_bytes)


def decode_raw(path: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> RawDoc:
    """Decode the stored bytes of one raw input into a RawDoc, or raise InputError."""
    text, encoding, warnings = decode_bytes(inflate(data, max_bytes))
    if is_json(text):  # also one holding a page's HTML as a string, which reads as HTML
        # Metadata a scraper saved beside its pages: stored as a page, it would become an
        # article of keys and braces, and a near-duplicate of the story it describes.
        raise InputError("JSON data, not a page or a text dump")
    return RawDoc(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        format=detect_format(text),
        encoding=encoding,
        text=text,
        warnings=warnings,
    )


def is_json(text: str) -> bool:
    """True for a text that is one JSON object or array (and nothing else)."""
    stripped = text.strip()
    if (stripped[:1], stripped[-1:]) not in (("{", "}"), ("[", "]")):
        return False
    try:
        json.loads(stripped)
    except ValueError:  # a dump that opens with "[Updated]", say
        return False
    return True


def detect_format(text: str) -> str:
    """Name the input format from its content, not its file name: 'html' or 'text'."""
    head = text[:2048].lstrip("\ufeff \t\r\n").lower()
    if head.startswith(("<!doctype html", "<html", "<?xml")) or "<html" in head[:512]:
        return "html"
    if head.startswith("<") and any(tag in head for tag in ("<head", "<body", "<div", "<meta")):
        return "html"
    return "text"


def _decode_legacy(data: bytes) -> tuple[str, str, tuple[str, ...]]:
    # charset_normalizer comes with trafilatura; it ranks candidate code pages by
    # how plausible the decoded text is, which beats a fixed fallback list.
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if m.encoding]
    if not matches:
        raise InputError("not text in any known encoding")
    least_chaos = min(m.chaos for m in matches)
    plausible = [m for m in matches if m.chaos <= least_chaos + LEGACY_CHAOS_MARGIN]
    # Among equally plausible code pages, the one most used on the web wins: a French
    # page is far more likely cp1252 than a Baltic code page that decodes it too.
    plausible.sort(
        key=lambda m: (
            LEGACY_PREFERENCE.index(m.encoding)
            if m.encoding in LEGACY_PREFERENCE
            else len(LEGACY_PREFERENCE)
        )
    )
    best = plausible[0]
    return _checked_text(str(best)), best.encoding, ()


def _valid_non_ascii(text: str) -> int:
    # A legacy-encoded file decodes to no valid multibyte characters at all, while a
    # UTF-8 file with one stray byte still has its accents and quotes intact.
    return len(_VALID_NON_ASCII.findall(text))


# Control characters that text does not hold (tab, line ends and form feed excepted).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20)])
_VALID_NON_ASCII = re.compile(r"[^\x00-\x7f\ufffd]")


def _checked_text(text: str) -> str:
    sample = text[:65536]
    if sample:
        # Counted by deleting bytes in C (ten times faster than a regex's list of them):
        # in UTF-8 a control character is one byte, and no other character holds one.
        data = sample.encode("utf-8", "surrogatepass")
        controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
        if controls / len(sample) > MAX_CONTROL_SHARE:
            raise InputError("binary file (control characters), not text")
    text = text.replace("\x00", "")
    if not text.strip():
        raise InputError("empty file")  # a byte-order mark, NULs or spaces only
    return text


def size_text(n: int) -> str:
    """A size for a message: in MiB, or in bytes where MiB would read 0.0."""
    if n < 100 * 1024:
        return "1 byte" if n == 1 else f"{n:,} bytes"
    return f"{n / (1024 * 1024):.1f} MiB"


def names_a_file(text: str) -> bool:
    """True for a string that is a file's path, not a page: one short line naming a file."""
    if len(text) > 4096 or "\n" in text or not text.strip():
        return False
    try:
        return os.path.isfile(text)
    except (OSError, ValueError):  # a NUL character, a name too long
        return False

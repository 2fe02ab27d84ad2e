"""URL checks and normalisation before fetching: only absolute http(s) URLs, one spelling each.

Two spellings of one page (``HTTP://Example.org:80/a#top`` and
``http://example.org/a?utm_source=feed``) normalise to the same URL, so the
already-fetched check sees them as one.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

FETCHED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only track where a reader came from; they never change the page.
TRACKING_PARAMETER_PREFIXES = ("utm_",)
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "igshid",
        "mkt_tok",
    }
)

# Characters left as they are when quoting a path or query (RFC 3986 reserved and unreserved,
# and "%" so that existing escapes stay untouched).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?%:@!$&'()*+,;=-._~"


class UrlRefused(ValueError):
    """A URL the fetcher will not fetch, with a short reason and a readable detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter name is a tracking parameter (``utm_source``, ``fbclid``...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PARAMETER_PREFIXES)


def check_scheme(url: str) -> None:
    """Raise UrlRefused unless ``url`` is an absolute http or https URL."""
    try:
        scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    except ValueError as exc:  # an unclosed or invalid [IPv6] host, a bad port
        raise UrlRefused("invalid URL", f"{url}: {exc}") from None
    if not scheme:
        raise UrlRefused("invalid URL", f"{url!r} is not an absolute http:// or https:// URL")
    if scheme not in FETCHED_SCHEMES:
        raise UrlRefused(
            "unsupported scheme", f"{scheme}: URLs are not fetched (only http and https): {url}"
        )


def normalize_url(url: str) -> str:
    """The canonical spelling of an http(s) URL; raises UrlRefused for anything else.

    Lower-cases scheme and host, drops a default port, the fragment and tracking
    parameters, and percent-encodes characters that may not appear in a URL.
    """
    text = url.strip()
    if not text:
        raise UrlRefused("invalid URL", "empty URL")
    check_scheme(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("invalid URL", f"{text}: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        raise UrlRefused("invalid URL", f"no host in {text}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise UrlRefused("invalid URL", f"bad host name in {text}") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        netloc = f"{userinfo}@{netloc}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    kept = [
        quote(piece, safe=_QUERY_SAFE)
        for piece in parts.query.split("&")
        if piece and not is_tracking_parameter(unquote_plus(piece.split("=", 1)[0]))
    ]
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))


def web_url(value: str | None) -> str | None:
    """The value if it is an absolute http(s) URL, else None.

    A page declares its own URL: a relative one says nothing, and a ``javascript:`` one
    would become a link that runs it on the article's page in Datasette.
    """
    if not value:
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in FETCHED_SCHEMES and parts.netloc else None


def host_of(url: str) -> str:
    """The host name of ``url`` (lower case), the unit of politeness; '' if it has none."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed URL, refused when it is fetched
        return ""


_INLINE_COMMENT = re.compile(r"\s+#.*$", re.S)


def read_url_list(lines: Iterable[str]) -> list[str]:
    """The URLs of a list file: one a line; blank lines and ``#`` comments ignored.

    A line is one URL, spaces included (fetched as %20, as a browser does): cutting it
    at a space would fetch another page without a word. A comment after a URL follows a
    space. A byte order mark (a list saved by Notepad or Excel) is no part of the URL.
    """
    urls = []
    for line in lines:
        text = _INLINE_COMMENT.sub("", line.lstrip("\ufeff")).strip()
        if text and not text.startswith("#"):
            urls.append(text)
    return urls


def read_url_file(path: str) -> list[str]:
    """The URLs listed in a UTF-8 file (``-`` for standard input)."""
    if path == "-":
        return read_url_list(sys.stdin)
    with open(path, encoding="utf-8-sig") as handle:
        return read_url_list(handle)


def url_key(url: str) -> str:
    """The key a URL is recorded under: its normal form, or as given if it is refused."""
    try:
        return normalize_url(url)
    except UrlRefused:
        return url.strip()


def unique_urls(urls: Iterable[str]) -> list[str]:
    """The URLs of a run, one per normal form, in first-seen order."""
    return list(dict.fromkeys(url_key(url) for url in urls))


def interleave_hosts(urls: Sequence[str]) -> list[str]:
    """URLs in round-robin order by host, so that workers rarely wait on the same host."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault(host_of(url), []).append(url)
    queues = list(by_host.values())
    ordered: list[str] = []
    for index in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[index] for q in queues if index < len(q))
    return ordered

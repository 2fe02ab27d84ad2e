"""Politeness: robots.txt (RFC 9309) rules cached per site, and a gate that paces each host.

The parser follows RFC 9309 rather than ``urllib.robotparser``, which ignores the ``*``
and ``$`` wildcards that most news sites use: the group whose user-agent names the
crawler's product token applies (else the ``*`` group), and among the rules matching a
path the longest wins, ``Allow`` winning a tie. ``Crawl-delay`` (not in the RFC, but
widely used) is read as well, so a site can slow the fetcher down but never speed it up.

The gate lets one request at a time go to a host, with a pause after each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

# RFC 9309 §2.5: a crawler must parse at least 500 KiB of a robots.txt.
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(frozen=True)
class RobotsRule:
    """One ``Allow`` or ``Disallow`` line of the group that applies."""

    allow: bool
    pattern: str

    def length(self) -> int:
        """The rule's specificity: the length of its pattern (RFC 9309 §2.2.2)."""
        return len(self.pattern)

    def matches(self, path: str) -> bool:
        """Whether the rule's pattern matches the start of ``path`` (path and query)."""
        return _pattern_regex(self.pattern).match(path) is not None


@dataclass(frozen=True)
class RobotsPolicy:
    """What a site's robots.txt says to this crawler."""

    rules: tuple[RobotsRule, ...] = ()
    crawl_delay: float | None = None
    disallow_all: bool = False
    # Why every path is refused, when the file could not be read.
    source: str = ""

    def allows(self, path: str) -> bool:
        """Whether ``path`` (the URL's path and query) may be fetched."""
        if self.disallow_all:
            return False
        if path in ("/robots.txt", ""):
            return True
        best: RobotsRule | None = None
        for rule in self.rules:
            if not rule.matches(path):
                continue
            if (
                best is None
                or rule.length() > best.length()
                or (rule.length() == best.length() and rule.allow and not best.allow)
            ):
                best = rule
        return best is None or best.allow

    def blocking_rule(self, path: str) -> str:
        """A readable explanation of why ``path`` is not allowed."""
        if self.disallow_all:
            return self.source or "Disallow: /"
        for rule in sorted(self.rules, key=RobotsRule.length, reverse=True):
            if rule.matches(path) and not rule.allow:
                return f"Disallow: {rule.pattern}"
        return f"Disallow: {path}"


ALLOW_ALL = RobotsPolicy()


def product_token(user_agent: str) -> str:
    """The crawler's product token, matched against ``User-agent`` lines: ``archiver``."""
    token = re.split(r"[/\s]", user_agent.strip(), maxsplit=1)[0]
    return token.lower() or "*"


def parse_robots(text: str, user_agent: str) -> RobotsPolicy:
    """The rules of a robots.txt that apply to ``user_agent``."""
    token = product_token(user_agent)
    groups: list[tuple[list[str], list[RobotsRule], list[float]]] = []
    in_agents = False
    for raw_line in text[:MAX_ROBOTS_BYTES].splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key in ("user-agent", "useragent"):
            if not in_agents:
                groups.append(([], [], []))
                in_agents = True
            groups[-1][0].append(value.split("/", 1)[0].strip().lower())
            continue
        in_agents = False
        if not groups:
            continue  # rules before any user-agent line belong to no group
        if key in ("allow", "disallow") and value:
            groups[-1][1].append(RobotsRule(allow=key == "allow", pattern=value))
        elif key in ("crawl-delay", "crawldelay"):
            with contextlib.suppress(ValueError):
                groups[-1][2].append(float(value))
    chosen = [g for g in groups if token in g[0]] or [g for g in groups if "*" in g[0]]
    rules = tuple(rule for g in chosen for rule in g[1])
    delays = [delay for g in chosen for delay in g[2] if delay >= 0]
    return RobotsPolicy(rules=rules, crawl_delay=max(delays) if delays else None)


def robots_url(url: str) -> str:
    """The robots.txt address of the site (scheme, host and port) of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def path_of(url: str) -> str:
    """The part of ``url`` that robots.txt rules are matched against: path and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class RobotsCache:
    """robots.txt policies cached per site for one run; each site's file is loaded once.

    ``load(robots_url)`` fetches and parses one robots.txt; threads asking for the
    same site while it loads wait for that one load instead of fetching it again.
    """

    def __init__(self, load: Callable[[str], RobotsPolicy]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._site_locks: dict[str, threading.Lock] = {}
        self._policies: dict[str, RobotsPolicy] = {}

    def policy(self, url: str) -> RobotsPolicy:
        """The policy of the site of ``url``, loading its robots.txt on first use."""
        site = robots_url(url)
        with self._lock:
            site_lock = self._site_locks.setdefault(site, threading.Lock())
        with site_lock:
            if site not in self._policies:
                self._policies[site] = self._load(site)
            return self._policies[site]


class Stopped(Exception):
    """The run is being stopped; the URL in hand is left for the next run."""


class HostGate:
    """One request in flight per host, and a pause after each before the next starts."""

    def __init__(self, delay: float, stop: threading.Event) -> None:
        self._default_delay = delay
        self._stop = stop
        self._cond = threading.Condition()
        self._busy: set[str] = set()
        self._ready_at: dict[str, float] = {}
        self._delays: dict[str, float] = {}

    def set_delay(self, host: str, delay: float) -> None:
        """Use a longer pause for one host (a robots.txt Crawl-delay)."""
        with self._cond:
            self._delays[host] = max(delay, self._default_delay)

    def hold(self, host: str, seconds: float) -> None:
        """Let no request start on ``host`` for ``seconds`` (backoff, Retry-After)."""
        with self._cond:
            until = time.monotonic() + seconds
            self._ready_at[host] = max(self._ready_at.get(host, 0.0), until)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for the host to be free and rested, hold it for one request, then rest it."""
        with self._cond:
            while True:
                if self._stop.is_set():
                    raise Stopped
                wait = self._ready_at.get(host, 0.0) - time.monotonic()
                if host not in self._busy and wait <= 0:
                    self._busy.add(host)
                    break
                # Wake at least every half second to notice a stop.
                self._cond.wait(timeout=min(max(wait, 0.01), 0.5))
        try:
            yield
        finally:
            with self._cond:
                self._busy.discard(host)
                pause = self._delays.get(host, self._default_delay)
                self._ready_at[host] = max(self._ready_at.get(host, 0.0), time.monotonic() + pause)
                self._cond.notify_all()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    regex = _REGEX_CACHE.get(pattern)
    if regex is None:
        anchored = pattern.endswith("$")
        body = pattern[:-1] if anchored else pattern
        source = ".*".join(re.escape(piece) for piece in body.split("*"))
        regex = re.compile(source + ("$" if anchored else ""), re.DOTALL)
        _REGEX_CACHE[pattern] = regex
    return regex

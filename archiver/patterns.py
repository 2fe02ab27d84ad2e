"""Line patterns compiled for speed: how the chrome rules of :mod:`archiver.rules` are run.

Every line of every page is judged by a few dozen regexes, the costliest part of
stripping a page not met before. Three things make that cheap without changing any
answer: patterns that can only match at a line's start are joined into one regex tried
once; patterns searched anywhere run on the case-folded line without IGNORECASE; and a
pattern whose every match holds one of a few literal strings is only searched in a line
that holds one of them (a substring test costs a fraction of a regex search).
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the parser re itself uses (private: see required_literals)
from dataclasses import dataclass

# A pattern anchored at the end matches within this many characters of it.
TAIL_CHARS = 100
# A pattern that requires one of more literals than this is searched without testing for
# them first: a substring test a literal costs more than a search that fails early.
MAX_REQUIRED_LITERALS = 8


@dataclass(frozen=True)
class RuleSet:
    """Line patterns compiled for speed; the leftmost match wins, then the earlier pattern.

    Patterns that can only match at the start of a line are joined into one regex tried
    once at position 0; patterns that end at the line's end are tried on its tail only;
    the few others are searched one by one. One regex of all of them would try every
    alternative at every position of every line, several times slower. The searched
    patterns run on the lower-cased line without IGNORECASE where that means the same
    (see :func:`fold_case` and :func:`fold_text`), and only on a line that holds one of
    their required literals (see :func:`required_literals`).
    """

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    anchored: re.Pattern[str]
    tails: tuple[int, ...]
    free: tuple[int, ...]
    folded: tuple[re.Pattern[str] | None, ...] = ()
    required: tuple[tuple[str, ...] | None, ...] = ()

    def reason(self, text: str) -> str | None:
        """The reason of the leftmost match, the first pattern in order among equals."""
        match = self.anchored.match(text)
        if match and match.lastgroup:
            # Only a pattern earlier in order that also matches at the start can beat it.
            first = int(match.lastgroup[1:])
            earlier = (i for i in (*self.tails, *self.free) if i < first)
            first = min([first, *(i for i in earlier if self.patterns[i][1].match(text))])
            return self.patterns[first][0]
        lowered = fold_text(text)
        best: tuple[int, int] | None = None
        offset = 0
        if len(text) > TAIL_CHARS:  # start the tail at a word, so \b means what it says
            offset = len(text) - len(text[-TAIL_CHARS:].split(" ", 1)[-1])
        # A match on the tail lies in it: its required literals are looked for there alone,
        # not in the whole of a long paragraph.
        tail = lowered[offset:] if offset else lowered
        for i in self.tails:
            found = self._search(i, text, lowered, offset, tail)
            if found and (best is None or (found.start(), i) < best):
                best = (found.start(), i)
        for i in self.free:
            found = self._search(i, text, lowered, 0, lowered)
            if found and (best is None or (found.start(), i) < best):
                best = (found.start(), i)
        return self.patterns[best[1]][0] if best else None

    def _search(
        self, i: int, text: str, lowered: str, start: int, searched: str
    ) -> re.Match[str] | None:
        folded = self.folded[i] if self.folded else None
        if folded is None:
            return self.patterns[i][1].search(text, start)
        required = self.required[i] if self.required else None
        if required is not None and not any(map(searched.__contains__, required)):
            return None
        return folded.search(lowered, start)


# Letters IGNORECASE takes for an ASCII letter that lower() leaves alone (dotless i, long
# s) or makes two characters of (dotted capital I): folded by hand first.
_FOLD_FIRST = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})


def fold_text(text: str) -> str:
    """The text lower-cased for the folded patterns: a character for a character, and an
    ASCII letter wherever IGNORECASE would see one."""
    # Looking for the three letters first: str.translate with a table is twenty times
    # slower than a search, and a curly quote makes most lines of a page non-ASCII.
    if not text.isascii() and ("İ" in text or "ı" in text or "ſ" in text):
        text = text.translate(_FOLD_FIRST)
    return text.lower()


def fold_case(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The pattern compiled without IGNORECASE, to search :func:`fold_text`, or None.

    Python's re is two to three times slower when it ignores case. A pattern with
    an upper-case letter outside an escape ([A-Z]) or inline flags of its own
    would mean something else, and is not folded.
    """
    source = pattern.pattern
    if not pattern.flags & re.IGNORECASE or re.search(r"\(\?[-aiLmsux]", source):
        return None
    if any(ch.isupper() for ch in re.sub(r"\\.", "", source)):
        return None
    return re.compile(source, pattern.flags & ~re.IGNORECASE)


def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which every match of the pattern holds, or None when none is known.

    Read from the parsed pattern: a run of literal characters is required where it
    stands in sequence; a group or a repeat of at least one requires what its content
    requires; alternatives require one of what each requires. Of several requirements
    of a sequence, the one whose shortest string is longest is kept (the most telling).
    Only for a pattern without IGNORECASE, whose literals are then matched as they are;
    and None for more than MAX_REQUIRED_LITERALS of them.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        found = _sequence_literals(sre_parse.parse(pattern.pattern, pattern.flags))
    except (AttributeError, IndexError, TypeError, ValueError):
        # The parser is re's private module: should its output change shape, a pattern
        # is simply searched in every line, as without this filter.
        return None
    if not found or len(found) > MAX_REQUIRED_LITERALS:
        return None
    return tuple(sorted(found))


def _sequence_literals(items: sre_parse.SubPattern | list) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(found: frozenset[str] | None) -> None:
        nonlocal best
        if found and (best is None or min(map(len, found)) > min(map(len, best))):
            best = found

    for op, value in items:
        if op is sre_parse.LITERAL:
            run.append(chr(value))
            continue
        consider(frozenset(["".join(run)]) if run else None)
        run = []
        consider(_item_literals(op, value))
    consider(frozenset(["".join(run)]) if run else None)
    return best


def _item_literals(op: object, value: object) -> frozenset[str] | None:
    if op is sre_parse.SUBPATTERN:
        if value[1] & re.IGNORECASE:  # type: ignore[index]  # (?i:...): any case matches
            return None
        return _sequence_literals(value[-1])  # type: ignore[index]
    if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT) and value[0] >= 1:  # type: ignore[index]
        return _sequence_literals(value[2])  # type: ignore[index]
    if op is sre_parse.BRANCH:
        branches = [_sequence_literals(branch) for branch in value[1]]  # type: ignore[index]
        if all(branches):
            return frozenset().union(*branches)  # type: ignore[arg-type]
    return None  # a class, a wildcard, an assertion, a back reference: nothing required


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (split on | outside groups and classes)."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def combine(patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> RuleSet:
    """Compile (reason, pattern) pairs into a :class:`RuleSet`."""
    anchored, tails, free = [], [], []
    for i, (_, p) in enumerate(patterns):
        alternatives = _alternatives(p.pattern)
        if all(a.startswith("^") for a in alternatives):
            anchored.append(i)
        elif all(a.endswith("$") and not a.endswith("\\$") for a in alternatives):
            tails.append(i)
        else:
            free.append(i)
    # Each pattern becomes the named group r<index>; the outer group closes last, so
    # lastgroup is that name even when the pattern has groups of its own.
    joined = "|".join(f"(?P<r{i}>{patterns[i][1].pattern})" for i in anchored) or "(?!)"
    folded = tuple(fold_case(p) for _, p in patterns)
    required = tuple(required_literals(f) if f is not None else None for f in folded)
    return RuleSet(
        patterns, re.compile(joined, re.IGNORECASE), tuple(tails), tuple(free), folded, required
    )

"""Mentions of runs in text: which runs a journal entry names, and links to them.

A mention is a run's full id, or its name (3 characters or more), standing as
a whole word. Build :class:`RunMentions` once for a store's runs and scan many
texts with it; a lookup is one pass over the text's words, whatever the
number of runs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

__all__ = ["RunMentions", "find_mentions", "link_mentions"]

# A word: letters, digits and _ joined by single dots or hyphens, so that a
# mention may end a sentence ("lr-0.01.") but not start a longer word
# ("lr-0.012", "x-lr-0.01").
_WORD = re.compile(r"\w+(?:[.-]\w+)*")
_BOUNDED = re.compile(r"\w(?:.*\w)?", re.DOTALL)
# Inline constructs whose text must stay as written: code spans, autolinks,
# HTML tags, links and images with their destination, link reference
# definitions and bare URLs.
_KEEP = re.compile(
    r"(?<!`)(?P<ticks>`+)(?!`)[\s\S]+?(?<!`)(?P=ticks)(?!`)"
    r"|<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>"
    r"|<[^\s<>@]+@[^\s<>]+>"
    r"|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"
    r"|^ {0,3}\[[^\]\n]+\]:.*"
    r"|!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
    r"(?:\((?:<[^<>\n]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)|\[[^\[\]]*\])?"
    r"|(?:https?|ftp)://[^\s<>]*|(?<![\w.])www\.[^\s<>]*",
    re.MULTILINE,
)
_URL_ESCAPES = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}

Span = tuple[int, int]


class RunMentions:
    """Finds mentions of runs in text; build it once to scan many entries.

    A run is mentioned by its full id, or by its name when the name is at least
    3 characters long, as a whole word: not inside a longer word, where dots and
    hyphens between letters or digits join words (``lr-0.01`` is found in "run
    lr-0.01 was best." but not in "lr-0.012"). Matching is case-sensitive; where
    mentions overlap, the longest wins. A name several runs share mentions all
    of them; an id wins over another run's name that equals it. :meth:`find`
    counts mentions anywhere in the text, code included (``runlab show ID`` in
    a code block still concerns that run); :meth:`link` leaves code as written.

    Limits: names that begin or end with a character other than a letter, digit
    or underscore are never found. Cost is one pass over the text's words with
    dictionary look-ups, whatever the number of runs.
    """

    def __init__(self, runs: Mapping[str, str | None]) -> None:
        keys: dict[str, list[str]] = {}
        for run_id, name in runs.items():
            if name is not None and len(name) >= 3:
                keys.setdefault(name, []).append(run_id)
        keys.update({run_id: [run_id] for run_id in runs})
        self._runs: dict[str, tuple[str, ...]] = {}
        self._lengths: dict[str, list[int]] = {}
        for key, ids in keys.items():
            self._add_key(key, tuple(ids))

    def _add_key(self, key: str, ids: tuple[str, ...]) -> None:
        """Index ``key`` by its first word and its length in words."""
        if not _BOUNDED.fullmatch(key):
            return
        words = _WORD.findall(key)
        self._runs[key] = ids
        lengths = self._lengths.setdefault(words[0], [])
        if len(words) not in lengths:
            lengths.append(len(words))
            lengths.sort(reverse=True)

    def spans(self, text: str) -> list[tuple[int, int, tuple[str, ...]]]:
        """Return ``(start, end, run ids)`` of each mention, in text order."""
        words = list(_WORD.finditer(text))
        found: list[tuple[int, int, tuple[str, ...]]] = []
        taken = 0
        for i, word in enumerate(words):
            if word.start() < taken:
                continue
            # Lengths are tried longest first, so the longest mention wins.
            for length in self._lengths.get(word.group(), ()):
                if i + length > len(words):
                    continue
                end = words[i + length - 1].end()
                ids = self._runs.get(text[word.start() : end])
                if ids:
                    found.append((word.start(), end, ids))
                    taken = end
                    break
        return found

    def find(self, text: str) -> list[str]:
        """Return the ids of the runs ``text`` mentions, in order of first mention."""
        ids = (run_id for _, _, run_ids in self.spans(text) for run_id in run_ids)
        return list(dict.fromkeys(ids))

    def link(self, text: str, href: Callable[[str], str]) -> str:
        """Return ``text`` with each mention made a Markdown link to ``href(run id)``.

        Mentions stay as written inside code spans, fenced and indented code
        blocks, autolinks, bare URLs, HTML tags, and the text or destination of
        links, images and reference definitions (so ``[alpha]`` stays too). A
        name several runs share is not linked: the link could not say which.

        Limits: a backslash-escaped backtick still opens a code span here, and
        link text spanning nested brackets deeper than one level is not seen
        as a link.
        """
        kept = _kept_spans(text)
        starts = [start for start, _ in kept]
        pieces, done = [], 0
        for start, end, ids in self.spans(text):
            if len(ids) != 1 or _overlaps(kept, starts, start, end):
                continue
            label = re.sub(r"([\[\]])", r"\\\1", text[start:end])
            pieces += [text[done:start], f"[{label}]({_escape_url(href(ids[0]))})"]
            done = end
        return "".join([*pieces, text[done:]])


def find_mentions(text: str, runs: Mapping[str, str | None]) -> list[str]:
    """Return the ids of runs (id -> name) that ``text`` mentions; see RunMentions."""
    return RunMentions(runs).find(text)


def link_mentions(
    text: str, runs: Mapping[str, str | None], href: Callable[[str], str]
) -> str:
    """Return ``text`` with mentions of ``runs`` made links; see RunMentions.link."""
    return RunMentions(runs).link(text, href)


def _kept_spans(text: str) -> list[Span]:
    """Character spans of ``text`` where no link may be added, in order."""
    # Lines end as Markdown ends them, so they number as markdown-it numbers them.
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z", text)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans: list[Span] = []
    for first, last, is_code in _line_blocks(text, lines):
        start, end = offsets[first], offsets[last]
        if is_code:
            spans.append((start, end))
        else:
            spans += [
                (start + m.start(), start + m.end())
                for m in _KEEP.finditer(text[start:end])
            ]
    return spans


def _line_blocks(text: str, lines: Sequence[str]) -> Iterator[tuple[int, int, bool]]:
    """Split lines into runs ``(first, last + 1, is code)``.

    Prose runs also end at blank lines: no code span or link crosses one.
    """
    from markdown_it import MarkdownIt

    code = [False] * len(lines)
    for token in MarkdownIt("commonmark", {"html": False}).parse(text):
        if token.type in ("fence", "code_block") and token.map:
            for number in range(token.map[0], min(token.map[1], len(lines))):
                code[number] = True
    first = 0
    for number in range(1, len(lines) + 1):
        breaks = number == len(lines) or code[number] != code[first]
        if breaks or (not code[first] and not lines[number].strip()):
            yield first, number, code[first]
            first = number


def _overlaps(
    spans: Sequence[Span], starts: Sequence[int], start: int, end: int
) -> bool:
    at = bisect.bisect_right(starts, start) - 1
    before = at >= 0 and spans[at][1] > start
    after = at + 1 < len(spans) and spans[at + 1][0] < end
    return before or after


def _escape_url(url: str) -> str:
    return "".join(_URL_ESCAPES.get(char, char) for char in url)

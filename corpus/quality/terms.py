"""Word lists of the keyword and URL rules: inline or from text files next to the rule YAML,
with weights, compiled into one matcher per list."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.config import ConfigError

# --------------------------------------------------------------------------- word lists

_TERMS_CACHE: dict[str, Terms] = {}
_WEIGHT_LINE = re.compile(r"^\[weight\s*[= ]\s*([0-9.]+)\]$")


@dataclass(frozen=True)
class Terms:
    """A list of terms with weights: literals (lowercased) and regular expressions."""

    literals: tuple[tuple[str, float], ...]
    patterns: tuple[tuple[str, float], ...]
    origin: str

    def __len__(self) -> int:
        return len(self.literals) + len(self.patterns)

    def entries(self) -> list[str]:
        return [t for t, _ in self.literals] + [f"re:{p}" for p, _ in self.patterns]


def load_terms(value: Any, base_dir: Path, where: str) -> Terms:
    """Terms from an inline list (`[a, b, "re:..."]`), an inline mapping (`{term: weight}`) or a
    path to a text file relative to `base_dir`.

    File format: one term per line (a line ends at a line feed; U+2028 and the like are part
    of a term), UTF-8; blank lines and lines starting with `#` are ignored;
    `[weight N]` sets the weight of the terms after it (default 1); `re:PATTERN` is a regular
    expression, anything else a literal. Matching is against lowercased text, so literals are
    lowercased here and patterns should be written in lower case. A pattern that starts with a
    literal is scanned fast (put a lookbehind after it: `口交(?<![门路]口交)`, not
    `(?<![门路])口交`). Files are read once per process (cached by path).
    """
    if isinstance(value, str):
        path = (base_dir / value).resolve()
        key = str(path)
        if key not in _TERMS_CACHE:
            try:
                lines = path.read_text(encoding="utf-8").split("\n")
            except OSError as e:
                raise ConfigError(f"{where}: cannot read word list {value!r} ({path}): "
                                  f"{e.strerror}") from None
            items: list[tuple[str, float]] = []
            weight = 1.0
            for lineno, raw in enumerate(lines, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("[weight"):
                    m = _WEIGHT_LINE.match(line)
                    try:
                        weight = float(m.group(1)) if m else -1.0
                    except ValueError:
                        weight = -1.0
                    if weight < 0:
                        raise ConfigError(f"{where}: {path}:{lineno}: bad weight line {line!r} "
                                          f"(expected [weight N])")
                    continue
                items.append((line, weight))
            _TERMS_CACHE[key] = _make_terms(items, f"{path}", where)
        return _TERMS_CACHE[key]
    if isinstance(value, Mapping):
        items = []
        for term, weight in value.items():
            if not isinstance(term, str) or not term or isinstance(weight, bool) \
                    or not isinstance(weight, (int, float)) or weight < 0:
                raise ConfigError(f"{where}: expected term: weight (a number >= 0), "
                                  f"got {term!r}: {weight!r}")
            items.append((term, float(weight)))
        return _make_terms(items, "inline", where)
    if isinstance(value, (list, tuple)):
        for term in value:
            if not isinstance(term, str) or not term.strip():
                raise ConfigError(f"{where}: expected a list of non-empty strings, got {term!r}")
        return _make_terms([(t.strip(), 1.0) for t in value], "inline", where)
    raise ConfigError(f"{where}: expected a list of terms or a path to a word list, got {value!r}")


def _make_terms(items: Iterable[tuple[str, float]], origin: str, where: str) -> Terms:
    literals: dict[str, float] = {}
    patterns: list[tuple[str, float]] = []
    for term, weight in items:
        if term.startswith("re:"):
            pattern = term[3:]
            try:
                re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"{where}: bad regular expression {pattern!r} in {origin}: {e}") \
                    from None
            patterns.append((pattern, weight))
        else:
            literals[term.lower()] = weight
    return Terms(tuple(literals.items()), tuple(patterns), origin)


def _trie_regex(words: Iterable[str]) -> str:
    """A regular expression matching any of `words`, longest first, as a trie of alternations
    (Python's `re` tries alternatives in order and has no trie of its own)."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body   # greedy: the longer term first

    return build(trie)


_SPECIAL = set("\\^$.|?*+()[]{}")


def _required_literal(pattern: str) -> str:
    """The longest run of plain characters every match of `pattern` must contain ("" when the
    pattern has a top-level alternation or no such run). Used to skip a regex cheaply on texts
    that cannot match it; a heuristic that only ever errs towards "" (always run)."""
    runs, run = [], []
    depth = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            runs.append("".join(run)); run = []
            i += 2
            continue
        if ch == "[":
            runs.append("".join(run)); run = []
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "(":
            runs.append("".join(run)); run = []
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return ""
        elif ch in "?*{":
            if run and depth == 0:
                run.pop()   # the quantified character may be absent
            runs.append("".join(run)); run = []
            if ch == "{":
                close = pattern.find("}", i)
                i = close if close > 0 else i
        elif ch in _SPECIAL:
            runs.append("".join(run)); run = []
        elif depth == 0:
            run.append(ch)
        i += 1
    runs.append("".join(run))
    return max(runs, key=len)


class Matcher:
    """Weighted counting of term hits. Literals: one trie regex (non-overlapping, leftmost,
    longest first; `re` scans fast because every branch starts with a literal). Regular
    expressions: each its own scan, skipped when the text lacks the literal every match needs;
    their hits are counted independently of the literals'."""

    def __init__(self, terms: Terms):
        self.weights = dict(terms.literals)
        self.literal_regex = (re.compile(_trie_regex(sorted(self.weights, key=len, reverse=True)))
                              if self.weights else None)
        self.patterns = [(re.compile(p), _required_literal(p), w) for p, w in terms.patterns]

    def matches(self, text: str) -> list[str]:
        out = self.literal_regex.findall(text) if self.literal_regex else []
        for regex, need, _ in self.patterns:
            if need in text:
                out += [m.group() for m in regex.finditer(text)]
        return out

    def count(self, text: str) -> tuple[int, float]:
        """(hits, weighted hits)."""
        hits = 0
        score = 0.0
        if self.literal_regex is not None:
            found = self.literal_regex.findall(text)
            if found:
                hits = len(found)
                score = sum(map(self.weights.__getitem__, found))
        for regex, need, weight in self.patterns:
            if need in text:
                n = sum(1 for _ in regex.finditer(text))
                hits += n
                score += n * weight
        return hits, score

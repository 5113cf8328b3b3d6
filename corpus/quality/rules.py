"""Rule-based quality filtering: the rules engine and its rules (pure Python, no Spark).

A `RuleSet` (one YAML file per language under `rules/`) is an ordered list of `Rule`s. Each rule
is one decision with one name, which is also the drop reason. Judging a document is two steps:

1. `Rule.signals(doc)` measures numbers (`dict[str, float]`) for **every** rule, so the
   signals of a dropped document are complete and thresholds can be re-tuned later without
   recomputing anything;
2. `Rule.check(signals)` compares them with the rule's thresholds: `None` keeps the document,
   a short detail (`"cjk_share 0.12 < 0.30"`) drops it. The drop reason is the first failing
   rule in the declared order.

`Doc` holds one document with lazily cached views (lines, paragraphs, words, code points and
character classes, n-gram hashes), so work shared by several rules is done once per document.
Rules never edit text: C4's line-level rules, for instance, become document signals (how much
of the document C4 would keep) and the document-level decision C4 takes on what is left.

Words. For space-separated languages `Doc.words` are runs of letters and digits (an apostrophe
inside a word is kept: "don't"); punctuation is never a word. Chinese has no spaces, so the zh
rules measure characters instead: lengths count non-space characters, n-gram repetition runs
over the sequence of CJK ideographs (`unit: cjk`). jieba is not used by any rule: character
statistics are faster and need no dictionary, and no zh rule needs word boundaries.

YAML (see `rules/zh.yaml`)::

    langs: [zh]                 # languages this set serves (default: the file name)
    rules:                      # ordered; key = rule name = drop reason
      min_length: {min_chars: 100}
      dup_lines: {max_frac: 0.3, max_char_frac: 0.2}
      line_punct: false         # a rule can be listed and switched off
    overrides:                  # per document `source`: parameter changes, or false
      forums:
        min_length: {min_chars: 10}

Unknown rules or parameters, wrong types and out-of-range values raise `ConfigError` naming the
file, the rule key and the value. Word lists (keyword rules, URL block lists) are given inline or
as a path to a text file relative to the YAML file (format: `load_terms`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

from corpus.config import RULES_DIR, ConfigError, load_yaml

__all__ = [
    "RULES",
    "Doc",
    "Param",
    "Rule",
    "RuleSet",
    "load_rulesets",
    "load_terms",
    "pick_ruleset",
]

# ------------------------------------------------------------------------ character classes

SPACE, CJK, LETTER, DIGIT, PUNCT, SYMBOL, OTHER = range(7)
N_CLASSES = 7

# Han ideographs: URO, extension A, compatibility ideographs, 〇; extensions B.. (planes 2, 3).
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x3007, 0x3007))
_CJK_ASTRAL = (0x20000, 0x3FFFF)

_table: np.ndarray | None = None


def _class_of(ch: str) -> int:
    cp = ord(ch)
    if ch.isspace():
        return SPACE
    if any(lo <= cp <= hi for lo, hi in _CJK_RANGES) or _CJK_ASTRAL[0] <= cp <= _CJK_ASTRAL[1]:
        return CJK
    cat = unicodedata.category(ch)
    if cat[0] == "L" or cat[0] == "M":   # marks belong to the letters they sit on
        return LETTER
    if cat[0] == "N":
        return DIGIT
    if cat[0] == "P":
        return PUNCT
    if cat[0] == "S":
        return SYMBOL
    return OTHER                          # controls, format chars, private use, unassigned


_MAJOR = {"L": LETTER, "M": LETTER, "N": DIGIT, "P": PUNCT, "S": SYMBOL}


def _class_table() -> np.ndarray:
    """Class of every BMP code point (built once per process, ~60 ms)."""
    global _table
    if _table is None:
        chars = [chr(cp) for cp in range(0x10000)]
        table = np.fromiter((_MAJOR.get(unicodedata.category(c)[0], OTHER) for c in chars),
                            np.uint8, 0x10000)
        for lo, hi in _CJK_RANGES:
            table[lo:hi + 1] = CJK
        table[np.fromiter(map(str.isspace, chars), bool, 0x10000)] = SPACE
        _table = table
    return _table


def _classes(cps: np.ndarray) -> np.ndarray:
    table = _class_table()
    cls = table[np.minimum(cps, 0xFFFF)]
    astral = np.flatnonzero(cps > 0xFFFF)
    for i in astral:  # rare: emoji, historic scripts, CJK extensions B..
        cls[i] = _class_of(chr(int(cps[i])))
    return cls


# ------------------------------------------------------------------------------ the document

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_ALPHA_TOKEN = re.compile(r"(?<!\S)\S*?[^\W\d_]")   # whitespace tokens holding a letter
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v\u3000]*\n")
_MIX1 = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)
_POLY = np.uint64(0x100000001B3)
_POLY_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))


class Doc:
    """One document being judged; every view is computed on first use and then cached.

    - `text`, `lang`, `url`, `title`, `source`: as given (`Doc.from_row` takes a document row).
    - `lines`: the lines (split on "\\n"), stripped, empty ones left out.
    - `paragraphs`: blocks separated by blank lines, stripped, empty ones left out.
    - `words`: runs of letters/digits (see the module docstring); `word_tokens`: whitespace tokens.
    - `codepoints`, `classes`, `class_counts`: code points, their class (SPACE, CJK, LETTER,
      DIGIT, PUNCT, SYMBOL, OTHER) and the count per class; `n_chars`: non-space characters.
    - `cjk`: the CJK ideographs of the text, in order (code points).
    - `lower`: lowercased text; `keyword_text`: lowercased title + text (what keyword rules scan).
    """

    def __init__(self, text: str, lang: str | None = None, url: str | None = None,
                 title: str | None = None, source: str | None = None):
        self.text = text or ""
        self.lang = lang
        self.url = url
        self.title = title
        self.source = source
        self._memo: dict = {}

    @classmethod
    def from_row(cls, row: Mapping) -> Doc:
        return cls(row.get("text") or "", row.get("lang"), row.get("url"), row.get("title"),
                   row.get("source"))

    def memo(self, key, compute):
        """Cache for parameterised computations shared by rules (`key` must include params)."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    # -- text views
    @cached_property
    def lines(self) -> list[str]:
        return [s for s in (line.strip() for line in self.text.split("\n")) if s]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [s for s in (p.strip() for p in _PARAGRAPH_BREAK.split(self.text)) if s]

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def keyword_text(self) -> str:
        return f"{self.title.lower()}\n{self.lower}" if self.title else self.lower

    @cached_property
    def words(self) -> list[str]:
        return _WORD.findall(self.text)

    @cached_property
    def word_tokens(self) -> int:
        """Number of whitespace-separated tokens."""
        return len(self.text.split())

    # -- characters
    @cached_property
    def codepoints(self) -> np.ndarray:
        return np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    @cached_property
    def classes(self) -> np.ndarray:
        return _classes(self.codepoints)

    @cached_property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.classes, minlength=N_CLASSES)

    @cached_property
    def n_chars(self) -> int:
        return int(len(self.text) - self.class_counts[SPACE])

    @cached_property
    def cjk(self) -> np.ndarray:
        return self.codepoints[self.classes == CJK]

    # -- repetition
    @cached_property
    def line_dups(self) -> tuple[int, int, int]:
        """(duplicate lines, their characters, all line characters); a line is a duplicate
        when an identical line came before it."""
        return _dups(self.lines)

    @cached_property
    def paragraph_dups(self) -> tuple[int, int, int]:
        return _dups(self.paragraphs)

    def ngrams(self, unit: str) -> _NGrams:
        return self.memo(("ngrams", unit), lambda: _NGrams(self, unit))


def _dups(items: list[str]) -> tuple[int, int, int]:
    seen: set[str] = set()
    n = chars = total = 0
    for item in items:
        size = len(item)
        total += size
        if item in seen:
            n += 1
            chars += size
        else:
            seen.add(item)
    return n, chars, total


class _NGrams:
    """n-gram statistics over a document's units (`words`, or `cjk` ideographs).

    The hash of the n-gram at position i is sum(x[i+k] * P^k) mod 2^64, computed for any i and n
    from one prefix sum (S[i+n] - S[i]) * P^-i (P odd, so invertible mod 2^64). A repeated
    (n+1)-gram starts with a repeated n-gram, so after one full sort for the smallest n only the
    positions inside groups of repeated n-grams are sorted again for larger n. Characters are
    the characters of the units (spaces and punctuation excluded).
    """

    def __init__(self, doc: Doc, unit: str):
        if unit == "words":
            words = doc.words
            vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}   # deterministic ids
            ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.uint64, count=len(words))
            self.lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            self.cum_len = np.concatenate(([0], np.cumsum(self.lengths)))
        else:
            ids = doc.cjk.astype(np.uint64)
            self.lengths = None  # every unit is one character
        m = self.n_units = len(ids)
        self.total_chars = int(self.cum_len[-1]) if self.lengths is not None else m
        with np.errstate(over="ignore"):
            x = (ids ^ _MIX2) * _MIX1
            powers = np.empty(m + 1, dtype=np.uint64)
            powers[0] = 1
            if m:
                powers[1:] = _POLY
                np.multiply.accumulate(powers, out=powers)
            self._prefix = np.concatenate((np.zeros(1, np.uint64), np.cumsum(x * powers[:m])))
            inverse = np.empty(m + 1, dtype=np.uint64)
            inverse[0] = 1
            if m:
                inverse[1:] = _POLY_INV
                np.multiply.accumulate(inverse, out=inverse)
            self._inverse = inverse
        # n -> positions inside groups of repeated n-grams (ascending)
        self._repeated: dict[int, np.ndarray] = {}
        # n -> None (no n-gram repeats) or (cand, order, same): the sorted n-grams
        self._groups: dict[int, tuple | None] = {}

    def _hash(self, pos: np.ndarray, n: int) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (self._prefix[pos + n] - self._prefix[pos]) * self._inverse[pos]

    def _sorted(self, n: int) -> tuple | None:
        """The n-grams sorted by hash, then position: (cand, order, same) where cand are the
        start positions considered, order sorts them and same[i] says sorted n-gram i+1 equals
        n-gram i; None when no n-gram repeats."""
        if n in self._groups:
            return self._groups[n]
        last = self.n_units - n  # the last start position
        smaller = [k for k in self._repeated if k < n]
        if smaller:   # every occurrence of a repeated n-gram starts a repeated k-gram
            cand = self._repeated[max(smaller)]
            cand = cand[cand <= last]
        else:
            cand = np.arange(max(last + 1, 0), dtype=np.int64)
        result = None
        if len(cand) >= 2:
            bits = len(cand).bit_length()
            low = np.uint64((1 << bits) - 1)
            keys = np.sort((self._hash(cand, n) & ~low) | np.arange(len(cand), dtype=np.uint64))
            hashes = keys & ~low
            same = hashes[1:] == hashes[:-1]
            if same.any():
                order = (keys & low).astype(np.int64)   # index into cand; ascending in a group
                result = (cand, order, same)
                in_group = np.concatenate((same, [False]))
                in_group[1:] |= same
                self._repeated[n] = np.sort(cand[order[in_group]])
        if result is None:
            self._repeated[n] = np.zeros(0, dtype=np.int64)
        self._groups[n] = result
        return result

    def top_char_frac(self, n: int) -> float:
        """Share of unit characters in the occurrences of the most frequent n-gram (ties: the
        earliest; with no repeated n-gram, the first n-gram of the document, once)."""
        if self.n_units < n or self.total_chars == 0:
            return 0.0
        groups = self._sorted(n)
        count, pos = 1, 0
        if groups is not None:
            cand, order, same = groups
            starts = np.flatnonzero(np.concatenate(([True], ~same)))
            counts = np.diff(np.concatenate((starts, [len(order)])))
            count = int(counts.max())
            pos = int(cand[order[starts[counts == count]]].min())
        chars = n if self.lengths is None else int(self.cum_len[pos + n] - self.cum_len[pos])
        return count * chars / self.total_chars

    def dup_char_frac(self, n: int) -> float:
        """Share of unit characters covered by repeated n-grams (occurrences after the first
        of an n-gram; overlapping repeats count each character once)."""
        if self.n_units < n or self.total_chars == 0:
            return 0.0
        groups = self._sorted(n)
        if groups is None:
            return 0.0
        cand, order, same = groups
        repeats = cand[order[1:][same]]            # all but the earliest of each group
        size = self.n_units + 1
        cover = np.cumsum(np.bincount(repeats, minlength=size)
                          - np.bincount(repeats + n, minlength=size))[:-1] > 0
        chars = int(cover.sum()) if self.lengths is None else int(self.lengths[cover].sum())
        return chars / self.total_chars

    def stats(self, n: int) -> tuple[float, float]:
        """(top n-gram char fraction, repeated n-gram char fraction)."""
        return self.top_char_frac(n), self.dup_char_frac(n)


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

    File format: one term per line, UTF-8; blank lines and lines starting with `#` are ignored;
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
                lines = path.read_text(encoding="utf-8").splitlines()
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


class _Matcher:
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


# --------------------------------------------------------------------------------- params

@dataclass(frozen=True)
class Param:
    """A rule parameter: kind, default, bounds. Kinds: int, float, bool, str (one of `choices`
    when given), regex, strs (a string or list of strings -> tuple), terms (a word list, see
    `load_terms`), ngram_fracs (mapping n -> fraction). `null` switches a threshold off where
    the parameter is `nullable`."""

    kind: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    nullable: bool = False
    required: bool = False
    help: str = ""

    def parse(self, value: Any, where: str, base_dir: Path) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{where}: a value is required, got null")
        kind = self.kind
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (kind == "int" and not float(value).is_integer()) \
                    or (isinstance(value, float) and not math.isfinite(value)):
                raise ConfigError(f"{where}: expected {'an integer' if kind == 'int' else 'a number'}"
                                  f"{self._range()}, got {value!r}")
            value = int(value) if kind == "int" else float(value)
            self._check_range(value, where)
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            return value
        if kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                expected = f"one of {', '.join(self.choices)}" if self.choices else "a string"
                raise ConfigError(f"{where}: expected {expected}, got {value!r}")
            return value
        if kind == "regex":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: expected a regular expression, got {value!r}")
            try:
                re.compile(value)
            except re.error as e:
                raise ConfigError(f"{where}: bad regular expression {value!r}: {e}") from None
            return value
        if kind == "strs":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)) or not items \
                    or not all(isinstance(s, str) and s for s in items):
                raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")
            return tuple(items)
        if kind == "terms":
            return load_terms(value, base_dir, where)
        if kind == "ngram_fracs":
            if not isinstance(value, Mapping) or not value:
                raise ConfigError(f"{where}: expected a mapping n: fraction, got {value!r}")
            out = {}
            for n, frac in value.items():
                if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 50:
                    raise ConfigError(f"{where}: n-gram size must be an integer 1..50, got {n!r}")
                if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1:
                    raise ConfigError(f"{where}.{n}: expected a number between 0 and 1, got {frac!r}")
                out[n] = float(frac)
            return dict(sorted(out.items()))
        raise AssertionError(kind)

    def _range(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f" between {self.lo:g} and {self.hi:g}"
        if self.lo is not None:
            return f" >= {self.lo:g}"
        if self.hi is not None:
            return f" <= {self.hi:g}"
        return ""

    def _check_range(self, value: float, where: str) -> None:
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ConfigError(f"{where}: expected a number{self._range()}, got {value!r}")


def frac(default: float | None, help: str = "") -> Param:
    """A fraction threshold in [0, 1]; null switches it off."""
    return Param("float", default, lo=0.0, hi=1.0, nullable=True, help=help)


# ---------------------------------------------------------------------------------- rules

RULES: dict[str, type[Rule]] = {}


class Rule:
    """One decision. Subclasses declare `name` (the drop reason and YAML key) and `params`
    (name -> Param); parameter values become attributes. `signals(doc)` measures, `check`
    decides: None keeps, a short detail drops."""

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            RULES[cls.name] = cls

    def __init__(self, **values):
        for key, param in self.params.items():
            setattr(self, key, values.get(key, param.default))
        self.config = {k: values.get(k, p.default) for k, p in self.params.items()}

    @classmethod
    def from_config(cls, raw: Any, where: str, base_dir: Path, base: Mapping | None = None) -> Rule:
        """Build from a YAML value (mapping of params, or null for defaults); `base` holds the
        already parsed values an override starts from."""
        if raw is None or raw is True:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: expected a mapping of parameters (or false), got {raw!r}")
        values = dict(base or {})
        for key, value in raw.items():
            if key not in cls.params:
                known = ", ".join(cls.params) or "none"
                raise ConfigError(f"{where}: unknown parameter {key!r} (known: {known})")
            values[key] = cls.params[key].parse(value, f"{where}.{key}", base_dir)
        for key, param in cls.params.items():
            if key not in values:
                if param.required:
                    raise ConfigError(f"{where}: parameter {key!r} is required")
                values[key] = param.default
        return cls(**values)

    @classmethod
    def create(cls, base_dir: str | Path = RULES_DIR, **params) -> Rule:
        """A rule from Python, validated like YAML (`MinLength.create(min_chars=50)`)."""
        return cls.from_config(params, cls.name or cls.__name__, Path(base_dir))

    def signals(self, doc: Doc) -> dict[str, float]:
        raise NotImplementedError

    def check(self, s: Mapping[str, float]) -> str | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def _below(s: Mapping[str, float], key: str, limit, fmt: str = ".2f") -> str | None:
    if limit is not None and s[key] < limit:
        return f"{key} {s[key]:{fmt}} < {limit:{fmt}}"
    return None


def _above(s: Mapping[str, float], key: str, limit, fmt: str = ".2f") -> str | None:
    if limit is not None and s[key] > limit:
        return f"{key} {s[key]:{fmt}} > {limit:{fmt}}"
    return None


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


# -- URL block list ---------------------------------------------------------------------

class BlockedUrl(Rule):
    """The URL's host is (a subdomain of) a blocked domain, or the lowercased URL contains a
    blocked pattern. Signal `url_blocked`: 1-based index of the first matching entry (domains
    first, then patterns), 0 when none matches."""

    name = "blocked_url"
    params: ClassVar[dict[str, Param]] = {
        "domains": Param("terms", default=(), help="domains; subdomains match too"),
        "patterns": Param("terms", default=(), help="URL substrings or re: regexes"),
    }

    def __init__(self, **values):
        super().__init__(**values)
        self._entries: list[str] = []
        self._domains: dict[str, int] = {}
        for d, _ in self._literals(self.domains):
            d = d.strip(".").removeprefix("www.")
            if d and d not in self._domains:
                self._entries.append(d)
                self._domains[d] = len(self._entries)
        self._substrings: list[tuple[str, int]] = []
        for p, _ in self._literals(self.patterns):
            self._entries.append(p)
            self._substrings.append((p, len(self._entries)))
        self._regexes: list[tuple[re.Pattern, int]] = []
        for p, _ in (self.patterns.patterns if isinstance(self.patterns, Terms) else ()):
            self._entries.append(f"re:{p}")
            self._regexes.append((re.compile(p), len(self._entries)))

    @staticmethod
    def _literals(terms) -> tuple:
        return terms.literals if isinstance(terms, Terms) else tuple((t.lower(), 1.0) for t in terms)

    def signals(self, doc):
        return {"url_blocked": float(self._match(doc.url))}

    def _match(self, url: str | None) -> int:
        if not url:
            return 0
        low = url.lower()
        if self._domains:
            try:
                host = urlsplit(low).hostname or ""
            except ValueError:
                host = ""
            labels = host.split(".")
            for i in range(len(labels) - 1):
                hit = self._domains.get(".".join(labels[i:]))
                if hit:
                    return hit
        for sub, idx in self._substrings:
            if sub in low:
                return idx
        for regex, idx in self._regexes:
            if regex.search(low):
                return idx
        return 0

    def check(self, s):
        idx = int(s["url_blocked"])
        if idx:
            return f"url matches {self._entries[idx - 1]!r}"
        return None


# -- keyword density ----------------------------------------------------------------------

class KeywordDensity(Rule):
    """Weighted hits of a word list in the lowercased title + text, per 1,000 non-space
    characters. Drops when hits >= `min_hits` and hits per 1,000 chars > `max_per_1k`
    (`min_hits` keeps one stray mention in a short text from deciding alone).
    Signals: `<name>_hits` (weighted), `<name>_per_1k`."""

    params: ClassVar[dict[str, Param]] = {
        "terms": Param("terms", required=True, help="word list: path or inline"),
        "max_per_1k": Param("float", 3.0, lo=0.0, help="weighted hits per 1,000 chars"),
        "min_hits": Param("float", 2.0, lo=0.0, help="weighted hits needed before dropping"),
        "scan_title": Param("bool", True, help="scan the title too"),
    }

    def __init__(self, **values):
        super().__init__(**values)
        self._matcher = _Matcher(self.terms) if isinstance(self.terms, Terms) else None
        self._hits_key = f"{self.name}_hits"
        self._density_key = f"{self.name}_per_1k"

    def signals(self, doc):
        text = doc.keyword_text if self.scan_title else doc.lower
        _, score = self._matcher.count(text) if self._matcher else (0, 0.0)
        chars = doc.n_chars + (len("".join(doc.title.split())) if self.scan_title and doc.title else 0)
        return {self._hits_key: score, self._density_key: _ratio(1000.0 * score, chars)}

    def matches(self, doc: Doc) -> list[str]:
        """The matched strings, in order (for inspecting a drop; not used to judge)."""
        text = doc.keyword_text if self.scan_title else doc.lower
        return self._matcher.matches(text) if self._matcher else []

    def check(self, s):
        hits, density = s[self._hits_key], s[self._density_key]
        if hits >= self.min_hits and density > self.max_per_1k:
            return f"{self._density_key} {density:.1f} > {self.max_per_1k:g} ({hits:g} weighted hits)"
        return None


class Gambling(KeywordDensity):
    name = "gambling"


class Porn(KeywordDensity):
    name = "porn"


class AdsSpam(KeywordDensity):
    name = "ads_spam"


# -- length and composition ----------------------------------------------------------------

class MinLength(Rule):
    """Too little text: fewer than `min_chars` non-space characters (signal `chars`)."""

    name = "min_length"
    params: ClassVar[dict[str, Param]] = {"min_chars": Param("int", 100, lo=0)}

    def signals(self, doc):
        return {"chars": float(doc.n_chars)}

    def check(self, s):
        return _below(s, "chars", self.min_chars, ".0f")


class WordCount(Rule):
    """Gopher: between 50 and 100,000 words (signal `words`)."""

    name = "word_count"
    params: ClassVar[dict[str, Param]] = {
        "min_words": Param("int", 50, lo=0, nullable=True),
        "max_words": Param("int", 100_000, lo=0, nullable=True)}

    def signals(self, doc):
        return {"words": float(len(doc.words))}

    def check(self, s):
        return _below(s, "words", self.min_words, ".0f") or _above(s, "words", self.max_words, ".0f")


class MeanWordLength(Rule):
    """Gopher: mean word length in characters between 3 and 10 (signal `mean_word_len`)."""

    name = "mean_word_length"
    params: ClassVar[dict[str, Param]] = {
        "min": Param("float", 3.0, lo=0, nullable=True),
        "max": Param("float", 10.0, lo=0, nullable=True)}

    def signals(self, doc):
        words = doc.words
        return {"mean_word_len": _ratio(sum(map(len, words)), len(words))}

    def check(self, s):
        return _below(s, "mean_word_len", self.min) or _above(s, "mean_word_len", self.max)


class SymbolRatio(Rule):
    """Gopher: '#' and ellipses ('...', '…') per word, each at most 0.1 (signals `hash_ratio`,
    `ellipsis_ratio`)."""

    name = "symbol_ratio"
    params: ClassVar[dict[str, Param]] = {"max": Param("float", 0.1, lo=0, nullable=True)}

    def signals(self, doc):
        n = len(doc.words)
        text = doc.text
        return {"hash_ratio": _ratio(text.count("#"), n),
                "ellipsis_ratio": _ratio(text.count("...") + text.count("…"), n)}

    def check(self, s):
        return _above(s, "hash_ratio", self.max) or _above(s, "ellipsis_ratio", self.max)


BULLETS = ("•", "●", "○", "◦", "▪", "▫", "■", "□", "◆", "◇", "►", "▸", "▶", "▹", "★", "☆",
           "·", "・", "‣", "⁃", "✓", "✔", "√", "-", "–", "*", "+")


class BulletLines(Rule):
    """Gopher: at most 90% of lines start with a bullet (signal `bullet_line_frac`)."""

    name = "bullet_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.9), "bullets": Param("strs", BULLETS)}

    def signals(self, doc):
        lines = doc.lines
        return {"bullet_line_frac": _ratio(sum(map(self._starts, lines)), len(lines))}

    def _starts(self, line: str) -> bool:
        return line.startswith(self.bullets)

    def check(self, s):
        return _above(s, "bullet_line_frac", self.max_frac)


class EllipsisLines(Rule):
    """Gopher: at most 30% of lines end with an ellipsis (signal `ellipsis_line_frac`)."""

    name = "ellipsis_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "marks": Param("strs", ("...", "…"))}

    def signals(self, doc):
        lines = doc.lines
        marks = self.marks
        return {"ellipsis_line_frac": _ratio(sum(1 for s in lines if s.endswith(marks)), len(lines))}

    def check(self, s):
        return _above(s, "ellipsis_line_frac", self.max_frac)


class AlphaWords(Rule):
    """Gopher: at least 80% of (whitespace-separated) words contain a letter (signal
    `alpha_word_frac`). Punctuation glued to a word does not make it a separate non-word, as it
    would with a tokenizer that splits punctuation off."""

    name = "alpha_words"
    params: ClassVar[dict[str, Param]] = {"min_frac": frac(0.8)}

    def signals(self, doc):
        return {"alpha_word_frac": _ratio(len(_ALPHA_TOKEN.findall(doc.text)), doc.word_tokens)}

    def check(self, s):
        return _below(s, "alpha_word_frac", self.min_frac)


class StopWords(Rule):
    """Gopher: at least 2 distinct of the stop words the, be, to, of, and, that, have, with
    (signal `stop_words`, distinct stop words present)."""

    name = "stop_words"
    params: ClassVar[dict[str, Param]] = {
        "min_count": Param("int", 2, lo=0),
        "words": Param("strs", ("the", "be", "to", "of", "and", "that", "have", "with"))}

    def __init__(self, **values):
        super().__init__(**values)
        self._stop = frozenset(w.lower() for w in self.words)

    def signals(self, doc):
        present = {w.lower() for w in set(doc.words)} & self._stop
        return {"stop_words": float(len(present))}

    def check(self, s):
        return _below(s, "stop_words", self.min_count, ".0f")


class CjkShare(Rule):
    """Share of CJK ideographs among non-space characters (signal `cjk_share`)."""

    name = "cjk_share"
    params: ClassVar[dict[str, Param]] = {"min": frac(0.3)}

    def signals(self, doc):
        return {"cjk_share": _ratio(float(doc.class_counts[CJK]), doc.n_chars)}

    def check(self, s):
        return _below(s, "cjk_share", self.min)


class PunctShare(Rule):
    """Share of punctuation, symbols and other non-text characters (controls, private use,
    unassigned) among non-space characters (signal `punct_share`)."""

    name = "punct_share"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.3)}

    def signals(self, doc):
        c = doc.class_counts
        return {"punct_share": _ratio(float(c[PUNCT] + c[SYMBOL] + c[OTHER]), doc.n_chars)}

    def check(self, s):
        return _above(s, "punct_share", self.max)


class DigitShare(Rule):
    """Share of digits among non-space characters (signal `digit_share`)."""

    name = "digit_share"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.35)}

    def signals(self, doc):
        return {"digit_share": _ratio(float(doc.class_counts[DIGIT]), doc.n_chars)}

    def check(self, s):
        return _above(s, "digit_share", self.max)


class MeanLineLength(Rule):
    """Mean length of the non-empty lines in characters (signal `mean_line_len`)."""

    name = "mean_line_length"
    params: ClassVar[dict[str, Param]] = {"min_chars": Param("float", 10.0, lo=0, nullable=True)}

    def signals(self, doc):
        lines = doc.lines
        return {"mean_line_len": _ratio(doc.line_dups[2], len(lines))}

    def check(self, s):
        return _below(s, "mean_line_len", self.min_chars, ".1f")


# -- lines ----------------------------------------------------------------------------------

class LinePunct(Rule):
    """FineWeb: share of lines ending in terminal punctuation, at least 0.12 (signal
    `line_punct_frac`); `marks` are the line endings that count. Documents with fewer than
    `min_lines` lines are not judged (signal `lines` is kept): on one or two lines the share is
    all or nothing, and a one-paragraph text cut off by its source ("…［详细］") is not a list."""

    name = "line_punct"
    params: ClassVar[dict[str, Param]] = {
        "min_frac": frac(0.12), "marks": Param("strs", (".", "'", '"', "!", "?")),
        "min_lines": Param("int", 0, lo=0),
        "ignore_suffix": Param("regex", None, nullable=True,
                               help="regex of trailing link marks to look past")}

    def __init__(self, **values):
        super().__init__(**values)
        if self.ignore_suffix:
            self._suffix = re.compile(self.ignore_suffix)
            self._suffix_ends = tuple("]］】)）>》")

    def _ends(self, line: str) -> bool:
        if line.endswith(self.marks):
            return True
        if self.ignore_suffix and line.endswith(self._suffix_ends):
            return self._suffix.sub("", line).endswith(self.marks)
        return False

    def signals(self, doc):
        lines = doc.lines
        ends = self._ends
        return {"line_punct_frac": _ratio(sum(1 for s in lines if ends(s)), len(lines)),
                "lines": float(len(lines))}

    def check(self, s):
        if s["lines"] < self.min_lines:
            return None
        return _below(s, "line_punct_frac", self.min_frac)


class ShortLines(Rule):
    """FineWeb: share of lines at most `max_len` characters long, below 0.67 (signal
    `short_line_frac`)."""

    name = "short_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.67), "max_len": Param("int", 30, lo=1)}

    def signals(self, doc):
        lines = doc.lines
        n = self.max_len
        return {"short_line_frac": _ratio(sum(1 for s in lines if len(s) <= n), len(lines))}

    def check(self, s):
        return _above(s, "short_line_frac", self.max_frac)


class CharDupRatio(Rule):
    """FineWeb: characters in duplicated lines over all characters but newlines, below 0.01
    (signal `char_dup_ratio`)."""

    name = "char_dup_ratio"
    params: ClassVar[dict[str, Param]] = {"max": frac(0.01)}

    def signals(self, doc):
        return {"char_dup_ratio": _ratio(doc.line_dups[1], len(doc.text) - doc.text.count("\n"))}

    def check(self, s):
        return _above(s, "char_dup_ratio", self.max, ".3f")


class ListRatio(Rule):
    """FineWeb: newlines per word at most 0.3 (signal `newline_word_ratio`)."""

    name = "list_ratio"
    params: ClassVar[dict[str, Param]] = {"max": Param("float", 0.3, lo=0, nullable=True)}

    def signals(self, doc):
        return {"newline_word_ratio": _ratio(doc.text.count("\n"), len(doc.words))}

    def check(self, s):
        return _above(s, "newline_word_ratio", self.max)


# -- repetition (Gopher) ---------------------------------------------------------------------

class DupLines(Rule):
    """Gopher: duplicate lines at most 30% of lines and 20% of line characters (signals
    `dup_line_frac`, `dup_line_char_frac`)."""

    name = "dup_lines"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "max_char_frac": frac(0.2)}

    def signals(self, doc):
        n, chars, total = doc.line_dups
        return {"dup_line_frac": _ratio(n, len(doc.lines)), "dup_line_char_frac": _ratio(chars, total)}

    def check(self, s):
        return _above(s, "dup_line_frac", self.max_frac) or \
            _above(s, "dup_line_char_frac", self.max_char_frac)


class DupParagraphs(Rule):
    """Gopher: duplicate paragraphs (blocks between blank lines) at most 30% of paragraphs and
    20% of paragraph characters (signals `dup_para_frac`, `dup_para_char_frac`)."""

    name = "dup_paragraphs"
    params: ClassVar[dict[str, Param]] = {"max_frac": frac(0.3), "max_char_frac": frac(0.2)}

    def signals(self, doc):
        n, chars, total = doc.paragraph_dups
        return {"dup_para_frac": _ratio(n, len(doc.paragraphs)),
                "dup_para_char_frac": _ratio(chars, total)}

    def check(self, s):
        return _above(s, "dup_para_frac", self.max_frac) or \
            _above(s, "dup_para_char_frac", self.max_char_frac)


UNITS = ("words", "cjk")


class _NgramFractions(Rule):
    """Shared by the Gopher n-gram rules: one signal `<kind>_<n>gram_char_frac` per n, judged
    against `max_frac[n]`. Documents with fewer than `min_units` units are not judged (the
    signals are still kept): on a dozen characters one repeated pair is already a large share."""

    kind: ClassVar[str]

    def signals(self, doc):
        ng = doc.ngrams(self.unit)
        measure = ng.top_char_frac if self.kind == "top" else ng.dup_char_frac
        out = {f"{self.kind}_{n}gram_char_frac": measure(n) for n in self.max_frac}
        out[f"{self.unit}_units"] = float(ng.n_units)
        return out

    def check(self, s):
        if s[f"{self.unit}_units"] < self.min_units:
            return None
        for n, limit in self.max_frac.items():
            detail = _above(s, f"{self.kind}_{n}gram_char_frac", limit)
            if detail:
                return detail
        return None


class TopNgrams(_NgramFractions):
    """Gopher: the most frequent n-gram covers at most this share of the characters, per n
    (signals `top_<n>gram_char_frac`). `unit`: words, or cjk (ideographs, for Chinese)."""

    name = "top_ngrams"
    kind = "top"
    params: ClassVar[dict[str, Param]] = {
        "max_frac": Param("ngram_fracs", {2: 0.20, 3: 0.18, 4: 0.16}),
        "unit": Param("str", "words", choices=UNITS),
        "min_units": Param("int", 0, lo=0)}


class DupNgrams(_NgramFractions):
    """Gopher: characters covered by repeated n-grams at most this share, per n (signals
    `dup_<n>gram_char_frac`). See `TopNgrams` for `unit`."""

    name = "dup_ngrams"
    kind = "dup"
    params: ClassVar[dict[str, Param]] = {
        "max_frac": Param("ngram_fracs", {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11,
                                          10: 0.10}),
        "unit": Param("str", "words", choices=UNITS),
        "min_units": Param("int", 0, lo=0)}


# -- C4 ----------------------------------------------------------------------------------------

C4_END = (".", "?", "!", '"', "'", "”", "’")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
             "use cookies")
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


@dataclass(frozen=True)
class _C4Scan:
    lines: int           # non-empty lines
    kept: int            # lines C4 keeps
    sentences: int       # sentences in the kept lines
    lorem_ipsum: bool
    curly_bracket: bool


def _c4_scan(doc: Doc) -> _C4Scan:
    """C4's line pass (T5 paper, section 2.2, and the TFDS reference code): a line is kept when,
    after removing Wikipedia citation marks, it ends in terminal punctuation (not an ellipsis),
    has at least 3 words, no word over 1,000 characters, and does not mention "javascript" or a
    cookie/terms-of-use phrase. "lorem ipsum" or "{" in a line that reached those last checks
    condemns the page. We extend the terminal marks with curly quotes (”’)."""
    kept = sentences = 0
    lorem = curly = False
    lines = doc.lines
    for line in lines:
        if "[" in line:
            line = _CITATION.sub("", line).rstrip()
        if not line.endswith(C4_END) or line.endswith("..."):
            continue
        words = line.split()
        if len(words) < 3 or max(map(len, words)) > 1000:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            lorem = True
        if "javascript" in low:
            continue
        if "{" in line:
            curly = True
        if any(p in low for p in C4_POLICY):
            continue
        kept += 1
        sentences += max(1, len(_SENTENCE_END.findall(line)))
    return _C4Scan(len(lines), kept, sentences, lorem, curly)


class LoremIpsum(Rule):
    """C4: "lorem ipsum" placeholder text (signal `lorem_ipsum`, 0/1)."""

    name = "lorem_ipsum"
    params: ClassVar[dict[str, Param]] = {}

    def signals(self, doc):
        return {"lorem_ipsum": float(doc.memo("c4", lambda: _c4_scan(doc)).lorem_ipsum)}

    def check(self, s):
        return "contains 'lorem ipsum'" if s["lorem_ipsum"] else None


class CurlyBracket(Rule):
    """C4: a curly bracket, a sign of code (signal `curly_bracket`, 0/1)."""

    name = "curly_bracket"
    params: ClassVar[dict[str, Param]] = {}

    def signals(self, doc):
        return {"curly_bracket": float(doc.memo("c4", lambda: _c4_scan(doc)).curly_bracket)}

    def check(self, s):
        return "contains '{'" if s["curly_bracket"] else None


class TooFewSentences(Rule):
    """C4: at least 5 sentences in the lines C4 keeps (signals `c4_sentences`,
    `c4_line_keep_frac`). C4 also deletes the lines it does not keep; we never edit text, so
    `min_line_keep_frac` (off by default) can drop documents that are mostly such lines."""

    name = "too_few_sentences"
    params: ClassVar[dict[str, Param]] = {
        "min_sentences": Param("int", 5, lo=0),
        "min_line_keep_frac": frac(None)}

    def signals(self, doc):
        scan = doc.memo("c4", lambda: _c4_scan(doc))
        return {"c4_sentences": float(scan.sentences), "c4_line_keep_frac": _ratio(scan.kept, scan.lines)}

    def check(self, s):
        return _below(s, "c4_sentences", self.min_sentences, ".0f") or \
            _below(s, "c4_line_keep_frac", self.min_line_keep_frac)


# ------------------------------------------------------------------------------- rule sets

RULESET_KEYS = ("langs", "rules", "overrides", "description")


class RuleSet:
    """Ordered rules for one language (and per-source variants of them)."""

    def __init__(self, rules: list[Rule], overrides: Mapping[str, list[Rule]] | None = None,
                 langs: Iterable[str] = (), origin: str = "<inline>"):
        self.rules = list(rules)
        self.overrides = dict(overrides or {})
        self.langs = tuple(langs)
        self.origin = origin

    @property
    def reasons(self) -> list[str]:
        """Every reason this set can give, base rules first."""
        names = [r.name for r in self.rules]
        for rules in self.overrides.values():
            names += [r.name for r in rules if r.name not in names]
        return names

    def rules_for(self, source: str | None) -> list[Rule]:
        return self.overrides.get(source, self.rules) if source else self.rules

    # -- loading
    @classmethod
    def from_yaml(cls, path: str | Path) -> RuleSet:
        path = Path(path)
        return cls.from_dict(load_yaml(path), str(path), path.parent, default_lang=path.stem)

    @classmethod
    def from_dict(cls, data: Any, origin: str = "<inline>", base_dir: str | Path = RULES_DIR,
                  default_lang: str | None = None) -> RuleSet:
        base_dir = Path(base_dir)
        if not isinstance(data, Mapping):
            raise ConfigError(f"{origin}: top level must be a mapping, got {type(data).__name__}")
        for key in data:
            if key not in RULESET_KEYS:
                raise ConfigError(f"{origin}: unknown key {key!r} (known: {', '.join(RULESET_KEYS)})")
        langs = data.get("langs", [default_lang] if default_lang else [])
        if isinstance(langs, str):
            langs = [langs]
        if not isinstance(langs, list) or not all(isinstance(x, str) and x for x in langs):
            raise ConfigError(f"{origin}: langs: expected a list of language codes, got {langs!r}")
        rules_cfg = data.get("rules")
        if not isinstance(rules_cfg, Mapping) or not rules_cfg:
            raise ConfigError(f"{origin}: rules: expected a mapping of rule name -> parameters, "
                              f"got {rules_cfg!r}")
        parsed: dict[str, tuple[type[Rule], dict] | None] = {}
        for name, raw in rules_cfg.items():
            where = f"{origin}: rules.{name}"
            rule_cls = RULES.get(name)
            if rule_cls is None:
                raise ConfigError(f"{where}: unknown rule {name!r} (known: {', '.join(sorted(RULES))})")
            if raw is False:
                parsed[name] = None
                continue
            rule = rule_cls.from_config(raw, where, base_dir)
            parsed[name] = (rule_cls, rule.config)
        rules = [rule_cls(**values) for rule_cls, values in filter(None, parsed.values())]

        overrides_cfg = data.get("overrides") or {}
        if not isinstance(overrides_cfg, Mapping):
            raise ConfigError(f"{origin}: overrides: expected a mapping of source -> rule changes, "
                              f"got {overrides_cfg!r}")
        overrides: dict[str, list[Rule]] = {}
        for source, changes in overrides_cfg.items():
            if not isinstance(changes, Mapping):
                raise ConfigError(f"{origin}: overrides.{source}: expected a mapping of rule -> "
                                  f"parameters (or false), got {changes!r}")
            variant = dict(parsed)
            for name, raw in changes.items():
                where = f"{origin}: overrides.{source}.{name}"
                if name not in parsed:
                    raise ConfigError(f"{where}: rule {name!r} is not in this file's rules "
                                      f"(overrides change listed rules only)")
                if raw is False:
                    variant[name] = None
                    continue
                rule_cls = RULES[name]
                base = parsed[name][1] if parsed[name] else None
                rule = rule_cls.from_config(raw, where, base_dir, base=base)
                variant[name] = (rule_cls, rule.config)
            overrides[str(source)] = [c(**v) for c, v in filter(None, variant.values())]
        return cls(rules, overrides, langs, origin)

    # -- judging
    def apply(self, doc: Doc | Mapping) -> tuple[str | None, str | None, dict[str, float]]:
        """(reason, detail, signals): the first failing rule in order (None, None when all
        pass) and the signals of every rule."""
        if not isinstance(doc, Doc):
            doc = Doc.from_row(doc)
        rules = self.rules_for(doc.source)
        signals: dict[str, float] = {}
        for rule in rules:
            signals.update(rule.signals(doc))
        for rule in rules:
            detail = rule.check(signals)
            if detail is not None:
                return rule.name, detail, signals
        return None, None, signals

    def explain(self, doc: Doc | Mapping) -> list[tuple[str, str]]:
        """Every failing rule, in order, with its detail (for notebooks and tuning)."""
        if not isinstance(doc, Doc):
            doc = Doc.from_row(doc)
        rules = self.rules_for(doc.source)
        signals: dict[str, float] = {}
        for rule in rules:
            signals.update(rule.signals(doc))
        return [(r.name, d) for r in rules if (d := r.check(signals)) is not None]

    def __repr__(self) -> str:
        return f"RuleSet({self.origin}, langs={list(self.langs)}, rules={[r.name for r in self.rules]})"


def load_rulesets(rules_dir: str | Path = RULES_DIR) -> dict[str, RuleSet]:
    """Every rule set in `rules_dir` (YAML files with a `rules:` key; other YAML files such as
    pipeline.yaml are skipped), keyed by each language it serves; `default.yaml` is under
    "default" and serves every other language."""
    rules_dir = Path(rules_dir)
    out: dict[str, RuleSet] = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        data = load_yaml(path)
        if not isinstance(data, Mapping) or "rules" not in data:
            continue
        ruleset = RuleSet.from_dict(data, str(path), path.parent, default_lang=path.stem)
        for lang in ruleset.langs or (path.stem,):
            lang = lang.lower()
            if lang in out:
                raise ConfigError(f"{path}: language {lang!r} is already served by {out[lang].origin}")
            out[lang] = ruleset
    if "default" not in out:
        raise ConfigError(f"{rules_dir}: no default rule set (default.yaml)")
    return out


def pick_ruleset(rulesets: Mapping[str, RuleSet], lang: str | None) -> RuleSet:
    """The rule set for a language code: exact ("zh-hant"), then the primary subtag ("zh"),
    then "default"."""
    if lang:
        lang = lang.lower().replace("_", "-")
        if lang in rulesets:
            return rulesets[lang]
        primary = lang.split("-", 1)[0]
        if primary in rulesets:
            return rulesets[primary]
    return rulesets["default"]

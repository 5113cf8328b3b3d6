"""One document as the quality rules see it: lazily cached views (lines, paragraphs, words,
code points and their character classes, n-gram hashes), so that work shared by several rules
is done once per document."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import cached_property

import numpy as np

from corpus.text import cjk

# ------------------------------------------------------------------------ character classes

SPACE, CJK, LETTER, DIGIT, PUNCT, SYMBOL, OTHER = range(7)
N_CLASSES = 7

# Han ideographs: URO, extension A, compatibility ideographs, 〇; extensions B.. (planes 2, 3).
_CJK_RANGES = tuple(cjk.ranges(*cjk.HAN_BMP, "ideographic_zero"))
(_CJK_ASTRAL,) = cjk.ranges(*cjk.span("plane2_han", "plane3_rest"))

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
ALPHA_TOKEN = re.compile(r"(?<!\S)\S*?[^\W\d_]")   # whitespace tokens holding a letter
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

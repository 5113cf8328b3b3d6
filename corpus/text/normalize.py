"""Text normalization, the first step of the `clean` stage: one pure function per document.

`Normalizer(cfg)(text)` returns the normalized text and counts for the signals column. The
steps run in this order, each switched by a key of `clean.normalize` (defaults: `rules/pipeline.yaml`):

1. `fix_mojibake` — repair UTF-8 text that was decoded as cp1252/Latin-1 ("ä¸­æ–‡" -> "中文",
   "cafÃ©" -> "café"), only where certain. A candidate is a run of characters that are,
   byte for byte, UTF-8 sequences seen through cp1252/Latin-1: a lead (Â-ß, à-ï, ð-ô) followed
   by the right number of continuation characters (the cp1252/Latin-1 images of bytes
   0x80-0xBF). The run is replaced only if its bytes decode as strict UTF-8 into characters that
   are not controls, and it is unambiguous: it decodes to two or more characters, or to one
   character at U+0800 or above (CJK, kana, emoji...: three or four bytes, which no real text
   spells as a letter followed by two or three symbols), or it starts with Ã or Â (the images
   of U+00C0-U+00FF and U+0080-U+00BF: "Ã©", "Â£", "Â " never occur in real text). A single
   accented capital followed by a symbol ("CAFÉ»") is left alone. Other mojibake (UTF-8 read
   as GBK, GBK read as Latin-1) cannot be undone with certainty — the wrong decoder has already
   replaced bytes — and is left for the quality rules.
2. `unicode` — CR LF / CR / U+2028 / U+2029 become LF; lone surrogates, C0/C1 controls other
   than TAB and LF, DEL, zero-width and other invisible format characters (U+00AD soft hyphen,
   U+180E, U+200B-U+200F, U+202A-U+202E, U+2060-U+2064, U+2066-U+2069, U+FEFF) and the
   noncharacters U+FDD0-U+FDEF, U+FFFE, U+FFFF are dropped; then NFC. (NFC, not NFKC: NFKC
   would turn the full-width CJK punctuation ，。！？ into ASCII.) U+FFFD is kept: it is evidence
   of a decoding loss the quality rules count.
3. `fullwidth_ascii` — full-width digits and Latin letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A)
   and the ideographic space U+3000 become their ASCII forms. CJK punctuation (，。！？：；（）)
   and other full-width symbols stay as they are.
4. `t2s` — traditional to simplified Chinese with OpenCC (`t2s_config`, default `t2s`), only
   for texts that contain Han characters. Off by default.
5. `whitespace` — runs of spaces (ASCII, no-break and the other Unicode spaces) become one
   space; spaces and tabs at both ends of every line are stripped; tabs inside a line are kept.
6. `boilerplate` — whole lines of at most `boilerplate_max_chars` characters that match one of
   the patterns of `boilerplate_file` (lists `boilerplate_lists`; a relative path is taken from
   the project directory, the one holding rules/) are removed. Patterns are
   regular expressions searched case-insensitively within the (whitespace-normalized) line;
   `^` and `$` anchor at the line's ends. They are compiled into one regex for the whole text.
7. `whitespace` again — three or more newlines become two; the text is stripped at both ends.

Counts returned (floats): `chars_removed` (input length minus output length),
`mojibake_fixed` (repaired runs), `control_chars` (characters dropped by step 2),
`fullwidth_chars` (characters converted by step 3), `t2s_chars` (characters changed by step 4),
`boilerplate_lines` (lines removed by step 6).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from corpus.config import ConfigError, load_yaml, project_path, section
from corpus.text import cjk


# --- 1. mojibake ---------------------------------------------------------------------------

# cp1252's images of the bytes 0x80-0x9F (the five undefined ones decode as the C1 control of
# the same value, as Latin-1 does); Latin-1's images are the C1 controls themselves.
_CP1252_HIGH = {chr(b): b for b in range(0x80, 0x100)}  # Latin-1
for _b in range(0x80, 0xA0):
    try:
        _CP1252_HIGH[bytes([_b]).decode("cp1252")] = _b
    except UnicodeDecodeError:
        pass
_TO_LATIN1 = str.maketrans({c: chr(b) for c, b in _CP1252_HIGH.items() if ord(c) > 0xFF})
_CONT = "[" + "".join(re.escape(c) for c, b in _CP1252_HIGH.items() if b < 0xC0) + "]"
# Broad candidates (a lead, one to three continuations, repeated); `repair` checks the exact
# UTF-8 structure by decoding. Leads and continuations are disjoint sets, so runs split cleanly.
# (Starting with a character class lets the regex engine skip quickly to a lead.)
_LEAD = "[\u00c2-\u00f4]"
_MOJIBAKE = re.compile(f"{_LEAD}{_CONT}{{1,3}}(?:{_LEAD}{_CONT}{{1,3}})*")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fix_mojibake(text: str) -> tuple[str, int]:
    """`text` with certain cp1252/Latin-1-decoded UTF-8 runs repaired, and how many runs."""
    fixed = 0

    def repair(m: re.Match) -> str:
        nonlocal fixed
        run = m.group()
        try:
            out = run.translate(_TO_LATIN1).encode("latin-1").decode("utf-8")
        except UnicodeError:
            return run
        if _CONTROLS.search(out):
            return run
        if len(out) >= 2 or ord(out) >= 0x800 or run[0] in "\u00c3\u00c2":
            fixed += 1
            return out
        return run

    text = _MOJIBAKE.sub(repair, text)
    return text, fixed


# --- which steps a text needs: one vectorised pass --------------------------------------

_F_MOJI, _F_INVALID, _F_WIDE, _F_HAN, _F_SPACE = 1, 2, 4, 8, 16
_FLAGS = np.zeros(0x10001, dtype=np.uint8)  # index 0x10000 stands for every astral code point
_FLAGS[0xC2:0xF5] |= _F_MOJI
for _lo, _hi in [(0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x180E, 0x180E),
                 (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069),
                 (0xD800, 0xDFFF), (0xFDD0, 0xFDEF), (0xFEFF, 0xFEFF), (0xFFFE, 0xFFFF)]:
    _FLAGS[_lo:_hi + 1] |= _F_INVALID  # \r and U+2028/9 included: newlines to unify
for _lo, _hi in [(0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A), (0x3000, 0x3000)]:
    _FLAGS[_lo:_hi + 1] |= _F_WIDE
for _lo, _hi in [*cjk.ranges(*cjk.HAN_BMP), (0x10000, 0x10000)]:
    _FLAGS[_lo:_hi + 1] |= _F_HAN
for _lo, _hi in [(0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x202F, 0x202F),
                 (0x205F, 0x205F), (0x3000, 0x3000)]:
    _FLAGS[_lo:_hi + 1] |= _F_SPACE
_ASCII_CONTROLS = bytes(range(0x09)) + bytes(range(0x0B, 0x20)) + b"\x7f"


def _flags(text: str) -> int:
    """Bit set of the steps that could change `text` (a superset: the steps check again)."""
    if text.isascii():
        data = text.encode("ascii")
        return _F_INVALID if len(data.translate(None, _ASCII_CONTROLS)) != len(data) else 0
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return int(np.bitwise_or.reduce(_FLAGS[np.minimum(codes, 0x10000)]))


# --- 2. unicode ----------------------------------------------------------------------------

_NEWLINES = re.compile("\r\n?|[\u2028\u2029]")
_INVALID = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]+")


def clean_unicode(text: str, flags: int | None = None) -> tuple[str, int]:
    """Newlines unified, invalid and invisible characters dropped, NFC; and how many dropped."""
    if flags is None:
        flags = _flags(text)
    dropped = 0
    if flags & _F_INVALID:
        if "\r" in text or "\u2028" in text or "\u2029" in text:
            text = _NEWLINES.sub("\n", text)
        n = len(text)
        text = _INVALID.sub("", text)
        dropped = n - len(text)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text, dropped


# --- 3. full-width ASCII -------------------------------------------------------------------

_FULLWIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u3000]+")
_HALF = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF1A)},
                       **{chr(c): chr(c - 0xFEE0) for c in range(0xFF21, 0xFF3B)},
                       **{chr(c): chr(c - 0xFEE0) for c in range(0xFF41, 0xFF5B)},
                       "\u3000": " "})


def halfwidth(text: str) -> tuple[str, int]:
    """Full-width digits, Latin letters and U+3000 as ASCII; and how many were converted."""
    if text.isascii():
        return text, 0
    count = 0

    def convert(m: re.Match) -> str:
        nonlocal count
        count += m.end() - m.start()
        return m.group().translate(_HALF)

    return _FULLWIDTH.sub(convert, text), count


# --- 5/7. whitespace -----------------------------------------------------------------------

_ODD_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_SPACE_RUNS = re.compile("  +")
_BEFORE_NL = re.compile(r"[ \t]+\n")
_AFTER_NL = re.compile(r"\n[ \t]+")
_BLANKS = re.compile(r"\n\n\n+")


def collapse_spaces(text: str, flags: int | None = None) -> str:
    """One space for every run of spaces; no spaces or tabs at the ends of lines.

    Each regex runs only where a substring test (fast) says it has something to do.
    """
    if flags is None or flags & _F_SPACE:
        if not text.isascii():
            text = _ODD_SPACES.sub(" ", text)
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    if " \n" in text or "\t\n" in text:
        text = _BEFORE_NL.sub("\n", text)
    if "\n " in text or "\n\t" in text:
        text = _AFTER_NL.sub("\n", text)
    return text.strip(" \t")


def collapse_blank_lines(text: str) -> str:
    """At most one empty line in a row; no whitespace at the ends of the text."""
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip()


# --- 6. boilerplate ------------------------------------------------------------------------

def load_boilerplate(path: str | Path, lists: list[str]) -> list[str]:
    """The patterns of the chosen lists in the YAML file at `path`, each checked."""
    data = load_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: top level must be a mapping of list name to patterns")
    patterns = []
    for name in lists:
        if name not in data:
            raise ConfigError(f"{path}: no pattern list '{name}' (has: {', '.join(map(str, data))})")
        items = data[name] or []
        if not isinstance(items, list):
            raise ConfigError(f"{path}: '{name}' must be a list of regular expressions")
        for i, pat in enumerate(items):
            where = f"{path}: {name}[{i}]"
            if not isinstance(pat, str) or not pat:
                raise ConfigError(f"{where}: must be a non-empty string, got {pat!r}")
            try:
                rx = re.compile(pat, re.IGNORECASE | re.MULTILINE)
            except re.error as e:
                raise ConfigError(f"{where}: invalid regular expression {pat!r}: {e}") from None
            if rx.groups:
                raise ConfigError(f"{where}: use (?:...) instead of capturing groups in {pat!r}")
            if rx.search("") is not None:
                raise ConfigError(f"{where}: {pat!r} matches an empty line")
            patterns.append(pat)
    return patterns


try:  # the regex parser, to find what a pattern can start with (speed only; see _first_chars)
    from re import _parser as _sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_CATEGORY_ESCAPES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D",
                     "CATEGORY_SPACE": r"\s", "CATEGORY_NOT_SPACE": r"\S",
                     "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}


def _class_item(op, av) -> str | None:
    name = str(op)
    if name == "LITERAL":
        return re.escape(chr(av))
    if name == "RANGE":
        return f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}"
    if name == "CATEGORY":
        return _CATEGORY_ESCAPES.get(str(av))
    return None  # NEGATE and anything unexpected


def _first(items) -> tuple[list[str] | None, bool]:
    """(class items covering every first character, whether the sequence can match empty)."""
    out: list[str] = []
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            return out + [re.escape(chr(av))], False
        if name == "IN":
            parts = [_class_item(o, a) for o, a in av]
            if any(p is None for p in parts):
                return None, False
            return out + parts, False
        if name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # zero-width
        if name == "SUBPATTERN":
            sub, nullable = _first(av[-1])
        elif name == "ATOMIC_GROUP":
            sub, nullable = _first(av)
        elif name == "BRANCH":
            sub, nullable = [], False
            for alt in av[1]:
                f, n = _first(alt)
                if f is None:
                    return None, False
                sub += f
                nullable = nullable or n
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            sub, n = _first(av[2])
            nullable = n or av[0] == 0
        else:
            return None, False  # ANY, NOT_LITERAL, GROUPREF, ...: no useful first set
        if sub is None:
            return None, False
        out += sub
        if not nullable:
            return out, False
    return out, True


def _first_chars(pattern: str) -> str | None:
    """A character class that every match of `pattern` starts with, or None if unknown."""
    try:
        items, nullable = _first(_sre_parse.parse(pattern, re.IGNORECASE | re.MULTILINE))
    except Exception:  # noqa: BLE001 - internal parser API: no prefilter, same results
        return None
    if items is None or nullable or not items:
        return None
    return "[" + "".join(dict.fromkeys(items)) + "]"


def _anchored(pattern: str) -> bool:
    """Whether every match of `pattern` must start at the beginning of a line."""
    try:
        items = list(_sre_parse.parse(pattern, re.IGNORECASE | re.MULTILINE))
    except Exception:  # noqa: BLE001
        return False
    return bool(items) and str(items[0][0]) == "AT" and str(items[0][1]) in (
        "AT_BEGINNING", "AT_BEGINNING_STRING")


class LinePatterns:
    """Remove the short lines of a text that one of `patterns` matches (searched in the line).

    A single regex over `"\n" + text` finds candidate lines in one pass: patterns anchored with
    `^` are tried once per line, the others at every position of it, and each group is guarded
    by a lookahead for the characters its patterns can start with, so that most positions are
    rejected by one character-class test. A candidate is confirmed by searching the line alone
    (a pattern such as `[^a]b` could otherwise match across the line's end).
    """

    def __init__(self, patterns: list[str], max_chars: int):
        flags = re.IGNORECASE | re.MULTILINE
        self.line = re.compile("|".join(f"(?:{p})" for p in patterns), flags)
        groups: dict[tuple[bool, bool], list[str]] = {}
        firsts: dict[bool, list[str]] = {True: [], False: []}
        for pat in patterns:
            anchored = _anchored(pat)
            first = _first_chars(pat)
            groups.setdefault((anchored, first is not None), []).append(pat)
            if first is not None:
                firsts[anchored].append(first[1:-1])
        tests = []
        for (anchored, guarded), pats in groups.items():
            alt = "(?:" + "|".join(pats) + ")"
            if guarded:
                alt = "(?=[" + "".join(dict.fromkeys(firsts[anchored])) + "])" + alt
            tests.append(alt if anchored else r"[^\n]*?" + alt)
        short_line = r"(?=[^\n]{1,%d}(?:\n|\Z))" % max_chars
        self.candidates = re.compile(
            r"\n" + short_line + "(?=" + "|".join(tests) + r")[^\n]*", flags)

    def remove(self, text: str) -> tuple[str, int]:
        """`text` without the matching short lines, and how many lines were removed."""
        removed = 0

        def confirm(m: re.Match) -> str:
            nonlocal removed
            if self.line.search(m.group(), 1):
                removed += 1
                return ""
            return m.group()

        return self.candidates.sub(confirm, "\n" + text)[1:], removed


def compile_boilerplate(patterns: list[str], max_chars: int) -> LinePatterns | None:
    return LinePatterns(patterns, max_chars) if patterns else None


def remove_lines(patterns: LinePatterns, text: str) -> tuple[str, int]:
    """`text` without the short lines that `patterns` match; how many were removed."""
    return patterns.remove(text)


# --- the normalizer ------------------------------------------------------------------------

class Normalizer:
    """`Normalizer(cfg)(text) -> (text, counts)`; `cfg` is the `clean.normalize` mapping."""

    def __init__(self, cfg: Mapping | None = None):
        self.cfg = c = section("clean.normalize", cfg)
        self._boilerplate = None
        if c["boilerplate"]:
            path = project_path(c["boilerplate_file"])
            patterns = load_boilerplate(path, c["boilerplate_lists"])
            try:
                self._boilerplate = compile_boilerplate(patterns, c["boilerplate_max_chars"])
            except re.error as e:
                raise ConfigError(f"{path}: patterns do not combine into one regex: {e}") from None
        self._opencc = None
        if c["t2s"]:
            self._converter()  # fail now, not on the first document, if the config is wrong

    def _converter(self):
        if self._opencc is None:
            import opencc

            try:
                self._opencc = opencc.OpenCC(self.cfg["t2s_config"])
            except Exception as e:  # noqa: BLE001 - OpenCC raises plain RuntimeError
                raise ConfigError(f"clean.normalize.t2s_config: OpenCC cannot load "
                                  f"{self.cfg['t2s_config']!r}: {e}") from None
        return self._opencc

    def __getstate__(self):  # OpenCC objects do not pickle; Spark ships this object
        state = self.__dict__.copy()
        state["_opencc"] = None
        return state

    def __call__(self, text: str) -> tuple[str, dict[str, float]]:
        c = self.cfg
        n_in = len(text)
        mojibake = control = fullwidth = t2s = lines = 0
        flags = _flags(text)
        if c["fix_mojibake"] and flags & _F_MOJI:
            text, mojibake = fix_mojibake(text)
            if mojibake:
                flags = _flags(text)
        if c["unicode"]:
            text, control = clean_unicode(text, flags)
        if c["fullwidth_ascii"] and flags & _F_WIDE:
            text, fullwidth = halfwidth(text)
        if c["t2s"] and flags & _F_HAN:
            converted = self._converter().convert(text)
            t2s = _changed(text, converted)
            text = converted
        if c["whitespace"]:
            text = collapse_spaces(text, flags)
        if self._boilerplate is not None:
            text, lines = self._boilerplate.remove(text)
        if c["whitespace"]:
            text = collapse_blank_lines(text)
        counts = {"chars_removed": n_in - len(text), "mojibake_fixed": mojibake,
                  "control_chars": control, "fullwidth_chars": fullwidth, "t2s_chars": t2s,
                  "boilerplate_lines": lines}
        return text, {k: float(v) for k, v in counts.items()}


def _changed(a: str, b: str) -> int:
    """Characters that differ between two texts (the length difference if lengths differ)."""
    if a == b:
        return 0
    if len(a) != len(b):
        return abs(len(a) - len(b))
    x = np.frombuffer(a.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    y = np.frombuffer(b.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return int(np.count_nonzero(x != y))

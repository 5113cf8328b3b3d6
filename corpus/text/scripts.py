"""Writing-system counts of a text: Han, kana, Hangul, Latin, digits, other.

One vectorised pass: the text's code points (UTF-32) index a lookup table (a sorted range
table beyond the BMP), so the cost is a few numpy operations per document, not a Python loop
per character. Whitespace is counted apart and is not part of the shares' denominator.

Ranges (the blocks that matter for a Chinese-first corpus; everything else is `other`):
  Han     CJK Unified Ideographs and Extensions A-H, compatibility ideographs, 々 〇
  kana    Hiragana, Katakana (except the middle dot ・, common in Chinese names), Katakana
          phonetic extensions, half-width katakana, Kana Supplement/Extended
  Hangul  Jamo, compatibility Jamo, Jamo extended A/B, syllables, half-width Hangul
  Latin   ASCII letters, Latin-1 letters, Latin Extended-A/B, IPA, Latin Extended Additional,
          full-width Latin letters
  digits  0-9 and full-width digits
  other   everything else that is not whitespace; `letters` counts Han, kana, Hangul, Latin
          and the other letters and marks (Unicode categories L*, M*) of the BMP.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from corpus.text import cjk

SCRIPTS = ("han", "kana", "hangul", "latin", "digits", "other")

# Per-character categories (`char_categories`): the six scripts, with `other` split into
# letters (OTHER_LETTER) and everything else (SYMBOL); whitespace and controls are SPACE.
HAN, KANA, HANGUL, LATIN, DIGIT, OTHER_LETTER, SYMBOL, SPACE = range(8)

# (first code point, category) — each range runs up to the next entry's start. SYMBOL here
# means "not one of the scripts"; letters among them are told apart below. Han, kana and
# Hangul come from corpus.text.cjk (_CJK) and are painted over this table.
_TABLE = [
    (0x00, SPACE), (0x21, SYMBOL), (0x30, DIGIT), (0x3A, SYMBOL), (0x41, LATIN),
    (0x5B, SYMBOL), (0x61, LATIN), (0x7B, SYMBOL), (0x7F, SPACE), (0xA1, SYMBOL),
    (0xAA, LATIN), (0xAB, SYMBOL), (0xBA, LATIN), (0xBB, SYMBOL), (0xC0, LATIN), (0xD7, SYMBOL),
    (0xD8, LATIN), (0xF7, SYMBOL), (0xF8, LATIN), (0x2B0, SYMBOL),
    (0x1680, SPACE), (0x1681, SYMBOL),
    (0x1E00, LATIN), (0x1F00, SYMBOL),
    (0x2000, SPACE), (0x200B, SYMBOL), (0x2028, SPACE), (0x202A, SYMBOL), (0x202F, SPACE),
    (0x2030, SYMBOL), (0x205F, SPACE), (0x2060, SYMBOL),
    (0x3000, SPACE), (0x3001, SYMBOL),
    (0xFF10, DIGIT), (0xFF1A, SYMBOL), (0xFF21, LATIN), (0xFF3B, SYMBOL), (0xFF41, LATIN),
    (0xFF5B, SYMBOL),
]
_CJK = {
    HAN: ("iteration_mark", "ideographic_zero", *cjk.HAN, "ext_g", "ext_h"),
    KANA: ("hiragana", "katakana", "katakana_marks", "katakana_phonetic", "halfwidth_katakana",
           "kana_supplement"),
    HANGUL: ("hangul_jamo", "hangul_compat_jamo", "hangul_jamo_ext_a", "hangul_syllables",
             "hangul_jamo_ext_b", "halfwidth_hangul"),
}


def _range_table() -> tuple[np.ndarray, np.ndarray]:
    """(starts, categories): _TABLE with the _CJK ranges painted over it."""
    points = [(s, c) for s, c in _TABLE]
    for cat, names in _CJK.items():
        for lo, hi in cjk.ranges(*names):
            under = next(c for s, c in reversed(sorted(points)) if s <= hi + 1)  # resumes after hi
            points = [(s, c) for s, c in points if not lo <= s <= hi + 1] + [(lo, cat), (hi + 1, under)]
    points.sort()
    starts = [s for s, c in points]
    cats = [c for s, c in points]
    keep = [i == 0 or cats[i] != cats[i - 1] for i in range(len(points))]
    return (np.array([s for s, k in zip(starts, keep) if k], dtype=np.uint32),
            np.array([c for c, k in zip(cats, keep) if k], dtype=np.uint8))


_STARTS, _CATS = _range_table()
# Basic Multilingual Plane: one lookup table (64 KiB); astral code points use the range table.
_BMP = _CATS[np.searchsorted(_STARTS, np.arange(0x10000, dtype=np.uint32), side="right") - 1]
for _c in np.flatnonzero(_BMP == SYMBOL).tolist():
    if unicodedata.category(chr(_c))[0] in "LM":
        _BMP[_c] = OTHER_LETTER
_BMP[0x85] = SPACE


def char_categories(text: str) -> np.ndarray:
    """The category (HAN, KANA, ..., SPACE) of every character of `text`, as uint8."""
    if text.isascii():
        return _BMP[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if codes.max() < 0x10000:
        return _BMP[codes]
    cats = _CATS[np.searchsorted(_STARTS, codes, side="right") - 1]
    bmp = codes < 0x10000
    cats[bmp] = _BMP[codes[bmp]]
    return cats


def script_counts(text: str) -> dict[str, int]:
    """Characters of each script in `text`, plus `letters` and `chars` (all but whitespace)."""
    if not text:
        return dict.fromkeys(SCRIPTS + ("letters", "chars"), 0)
    b = np.bincount(char_categories(text), minlength=8).tolist()
    return {"han": b[HAN], "kana": b[KANA], "hangul": b[HANGUL], "latin": b[LATIN],
            "digits": b[DIGIT], "other": b[OTHER_LETTER] + b[SYMBOL],
            "letters": b[HAN] + b[KANA] + b[HANGUL] + b[LATIN] + b[OTHER_LETTER],
            "chars": len(text) - b[SPACE]}


def script_shares(text: str) -> dict[str, float]:
    """Share of each script among the non-whitespace characters of `text` (all 0.0 if none)."""
    counts = script_counts(text)
    total = counts["chars"]
    if not total:
        return {k: 0.0 for k in SCRIPTS}
    return {k: counts[k] / total for k in SCRIPTS}

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

SCRIPTS = ("han", "kana", "hangul", "latin", "digits", "other")

# Per-character categories (`char_categories`): the six scripts, with `other` split into
# letters (OTHER_LETTER) and everything else (SYMBOL); whitespace and controls are SPACE.
HAN, KANA, HANGUL, LATIN, DIGIT, OTHER_LETTER, SYMBOL, SPACE = range(8)

# (first code point, category) — each range runs up to the next entry's start. SYMBOL here
# means "not one of the scripts"; letters among them are told apart below.
_TABLE = [
    (0x00, SPACE), (0x21, SYMBOL), (0x30, DIGIT), (0x3A, SYMBOL), (0x41, LATIN),
    (0x5B, SYMBOL), (0x61, LATIN), (0x7B, SYMBOL), (0x7F, SPACE), (0xA1, SYMBOL),
    (0xAA, LATIN), (0xAB, SYMBOL), (0xBA, LATIN), (0xBB, SYMBOL), (0xC0, LATIN), (0xD7, SYMBOL),
    (0xD8, LATIN), (0xF7, SYMBOL), (0xF8, LATIN), (0x2B0, SYMBOL),
    (0x1100, HANGUL), (0x1200, SYMBOL),
    (0x1680, SPACE), (0x1681, SYMBOL),
    (0x1E00, LATIN), (0x1F00, SYMBOL),
    (0x2000, SPACE), (0x200B, SYMBOL), (0x2028, SPACE), (0x202A, SYMBOL), (0x202F, SPACE),
    (0x2030, SYMBOL), (0x205F, SPACE), (0x2060, SYMBOL),
    (0x3000, SPACE), (0x3001, SYMBOL), (0x3005, HAN), (0x3006, SYMBOL), (0x3007, HAN),
    (0x3008, SYMBOL), (0x3041, KANA), (0x30FB, SYMBOL), (0x30FC, KANA), (0x3100, SYMBOL),
    (0x3131, HANGUL), (0x3190, SYMBOL),
    (0x31F0, KANA), (0x3200, SYMBOL),
    (0x3400, HAN), (0x4DC0, SYMBOL), (0x4E00, HAN), (0xA000, SYMBOL),
    (0xA960, HANGUL), (0xA980, SYMBOL),
    (0xAC00, HANGUL), (0xD800, SYMBOL),
    (0xF900, HAN), (0xFB00, SYMBOL),
    (0xFF10, DIGIT), (0xFF1A, SYMBOL), (0xFF21, LATIN), (0xFF3B, SYMBOL), (0xFF41, LATIN),
    (0xFF5B, SYMBOL), (0xFF66, KANA), (0xFFA0, HANGUL), (0xFFDD, SYMBOL),
    (0x1AFF0, KANA), (0x1B170, SYMBOL),
    (0x20000, HAN), (0x2FA20, SYMBOL), (0x30000, HAN), (0x323B0, SYMBOL),
]
_STARTS = np.array([s for s, _ in _TABLE], dtype=np.uint32)
_CATS = np.array([c for _, c in _TABLE], dtype=np.uint8)
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

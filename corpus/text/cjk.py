"""The one table of CJK code point ranges; every CJK character class of the project is a
union of its named pieces.

The pieces follow the Unicode blocks, cut where some user draws a line inside a block (the
unassigned first code points of Hiragana and Hangul Compatibility Jamo, the katakana middle dot
・ that Chinese names use, 々 〆 〇, the full-width forms Latin / katakana / Hangul).

    ranges("ext_a", "unified")      -> [(0x3400, 0x4DBF), (0x4E00, 0x9FFF)] (merged, sorted)
    char_class(*HAN)                -> "\\u3400-\\u4dbf..." for a regex [...]
    span("radicals", "unified")     -> the names of the pieces from one to another, in order
    mask(codepoints, *names)        -> numpy bool array
"""

from __future__ import annotations

import numpy as np

PIECES = {  # name: (first, last), in code point order
    "middle_dot": (0x00B7, 0x00B7),                # · in Chinese transliterated names
    "hangul_jamo": (0x1100, 0x11FF),
    "dashes_quotes": (0x2010, 0x2027),             # General Punctuation: dashes, quotes, …
    "radicals": (0x2E80, 0x2FDF),                  # CJK Radicals Supplement, Kangxi Radicals
    "ideographic_description": (0x2FE0, 0x2FFF),
    "ideographic_space": (0x3000, 0x3000),
    "cjk_punctuation": (0x3001, 0x3004),           # 、。〃〄
    "iteration_mark": (0x3005, 0x3005),            # 々
    "closing_mark": (0x3006, 0x3006),              # 〆
    "ideographic_zero": (0x3007, 0x3007),          # 〇
    "cjk_brackets": (0x3008, 0x3020),              # 〈〉《》「」『』【】〒 ...
    "hangzhou_numerals": (0x3021, 0x3029),
    "cjk_marks": (0x302A, 0x303F),                 # tone marks, 〰 〱-〵 ...
    "hiragana_unassigned": (0x3040, 0x3040),
    "hiragana": (0x3041, 0x309F),
    "katakana": (0x30A0, 0x30FA),
    "katakana_middle_dot": (0x30FB, 0x30FB),       # ・
    "katakana_marks": (0x30FC, 0x30FF),            # ー ヽ ヾ ヿ
    "bopomofo": (0x3100, 0x312F),
    "hangul_compat_unassigned": (0x3130, 0x3130),
    "hangul_compat_jamo": (0x3131, 0x318F),
    "kanbun": (0x3190, 0x319F),
    "bopomofo_extended": (0x31A0, 0x31BF),
    "cjk_strokes": (0x31C0, 0x31EF),
    "katakana_phonetic": (0x31F0, 0x31FF),
    "enclosed_cjk": (0x3200, 0x32FF),
    "cjk_compatibility": (0x3300, 0x33FF),
    "ext_a": (0x3400, 0x4DBF),                     # CJK Unified Ideographs Extension A
    "yijing": (0x4DC0, 0x4DFF),                    # Yijing Hexagram Symbols
    "unified": (0x4E00, 0x9FFF),                   # CJK Unified Ideographs
    "hangul_jamo_ext_a": (0xA960, 0xA97F),
    "hangul_syllables": (0xAC00, 0xD7AF),
    "hangul_jamo_ext_b": (0xD7B0, 0xD7FF),
    "compat_ideographs": (0xF900, 0xFAFF),
    "compat_forms": (0xFE30, 0xFE4F),              # vertical forms ︰-﹏
    "fullwidth_forms": (0xFF00, 0xFF65),           # ！-～, ｟｠, half-width ｡-･
    "halfwidth_katakana": (0xFF66, 0xFF9F),
    "halfwidth_hangul": (0xFFA0, 0xFFDC),
    "halfwidth_symbols": (0xFFDD, 0xFFEF),
    "kana_supplement": (0x1AFF0, 0x1B16F),         # Kana Extended-B, Supplement, Extended-A, Small Kana
    "plane2_han": (0x20000, 0x2FA1F),              # Extensions B-F, I, Compatibility Supplement
    "plane2_rest": (0x2FA20, 0x2FFFF),
    "ext_g": (0x30000, 0x3134F),
    "ext_h": (0x31350, 0x323AF),
    "plane3_rest": (0x323B0, 0x3FFFF),
}

# Han as the classifier's tokenizer and language id see it: Extension A, the URO, the
# compatibility ideographs, plane 2.
HAN_BMP = ("ext_a", "unified", "compat_ideographs")
HAN = (*HAN_BMP, "plane2_han")
# Hiragana and Katakana blocks whole, and the Katakana Phonetic Extensions.
KANA_BLOCKS = ("hiragana_unassigned", "hiragana", "katakana", "katakana_middle_dot", "katakana_marks")


def span(first: str, last: str) -> tuple[str, ...]:
    """The names of the pieces from `first` to `last` (both included), in table order."""
    names = list(PIECES)
    return tuple(names[names.index(first):names.index(last) + 1])


def ranges(*names: str) -> list[tuple[int, int]]:
    """The code point ranges of the named pieces, sorted, adjacent ones merged."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(PIECES[n] for n in names):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _esc(cp: int) -> str:
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def char_class(*names: str) -> str:
    """A regex character class body (no brackets) matching the named pieces."""
    return "".join(_esc(lo) if lo == hi else f"{_esc(lo)}-{_esc(hi)}" for lo, hi in ranges(*names))


def mask(codepoints: np.ndarray, *names: str) -> np.ndarray:
    """Whether each code point lies in one of the named pieces."""
    out = np.zeros(codepoints.shape, dtype=bool)
    for lo, hi in ranges(*names):
        out |= (codepoints >= lo) & (codepoints <= hi)
    return out

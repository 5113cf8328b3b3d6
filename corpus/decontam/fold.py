"""Folding characters before tokenization: the tables that make "ＡＢＣ", "abc", "頭髮" and
"头发" the same tokens, built once per process (about a second) and shipped with the index.

Per code point: NFKC, lower case, NFKC again, then OpenCC `t2s` character by character, then
one representative per class of variant characters. A class joins characters that OpenCC's
character dictionaries (STCharacters, TSCharacters) list as conversions of each other, so
characters that are both traditional and simplified (像/象, 瞭/了, 於/于, 座/坐, 乾/干) fold
together whichever way a text was converted; the representative is the smallest code point.
The dictionaries are read with the `opencc_dict` tool shipped in the OpenCC wheel; where it is
missing, there are no variant classes (`Tables.variant_classes` is 0, and the index version
changes with the tables' digest, so a saved index is never used with other tables).

A character whose NFKC form is several characters (ﬁ, ㎏, ⑴) expands to all of them.
Classes: CJK (Han, kana, Hangul, Bopomofo: one token each), WORD (other letters, digits and
combining marks: runs are tokens), SEP (everything else: dropped).
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash

from corpus.text import cjk

U64 = np.uint64
# CJK tokens: Han, kana, Hangul, Bopomofo (one character each)
CJK_PIECES = ("hangul_jamo", *cjk.span("iteration_mark", "ideographic_zero"), "hangzhou_numerals",
              *cjk.span("hiragana_unassigned", "hangul_compat_jamo"),
              *cjk.span("bopomofo_extended", "katakana_phonetic"), "ext_a", "unified", "hangul_jamo_ext_a",
              "hangul_syllables", "compat_ideographs", *cjk.span("plane2_han", "ext_h"))
_CJK_RANGES = cjk.ranges(*CJK_PIECES)
LAST_CJK = _CJK_RANGES[-1][1]  # the last code point of the last CJK extension block
TABLE_END = LAST_CJK + 2  # the last entry is a separator that stands for every later code point
SEP, CJK, WORD, EXPANDS = 0, 1, 2, 3
_DICTIONARIES = ("STCharacters", "TSCharacters")


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise on uint64 (wrapping arithmetic)."""
    x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


_OFFSET_WEIGHTS = mix(np.arange(1, 4097, dtype=U64) << U64(40)) | U64(1)  # odd, one per offset mod 4096


def token_hashes(char_hashes: np.ndarray, offsets: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """Hashes of tokens: mix(sum of char_hash * weight(offset in the token)), a multilinear
    hash; `char_hashes` of every character of the tokens, `firsts` where each token begins."""
    return mix(np.add.reduceat(char_hashes * _OFFSET_WEIGHTS[offsets & 4095], firsts))


@dataclass(frozen=True)
class Tables:
    fold1: np.ndarray    # int32: the folded code point, where folding gives exactly one
    start: np.ndarray    # int32: where the folded code points begin in `data`
    length: np.ndarray   # int32: how many there are
    data: np.ndarray     # int32: all folded code points
    cls: np.ndarray      # uint8: SEP, CJK or WORD of a folded code point
    char: np.ndarray     # uint64: the hash of a folded code point
    tok1: np.ndarray     # uint64: the hash of a folded code point as a one-character token
    cls_in: np.ndarray   # uint8: the class of an input code point's folded form; EXPANDS if it
                         # folds to several code points of which some are not separators (…: SEP)
    char_in: np.ndarray  # uint64: `char` of an input code point's folded form
    tok1_in: np.ndarray  # uint64: `tok1` of an input code point's folded form
    variant_classes: int

    @property
    def digest(self) -> str:
        h = xxhash.xxh3_64()
        for a in (self.length, self.data, self.cls, self.char, _OFFSET_WEIGHTS):
            h.update(a.tobytes())
        return h.hexdigest()


@functools.lru_cache(maxsize=1)
def tables() -> Tables:
    """This process's tables."""
    import opencc

    variants = variant_representatives(opencc_dictionaries())
    folded = []
    for cp in range(TABLE_END):
        ch = "\0" if 0xD800 <= cp <= 0xDFFF else chr(cp)  # lone surrogates: separators
        folded.append(unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", ch).lower()))
    is_cjk = _cjk_mask()
    length, start, codes = _pack(folded)
    han = np.flatnonzero(np.add.reduceat(is_cjk[codes], start) > 0).tolist()
    converted = opencc.OpenCC("t2s").convert("\n".join(folded[i] for i in han)).split("\n")
    if len(converted) != len(han):
        raise RuntimeError("OpenCC changed the number of lines while building the fold table")
    for i, s in zip(han, converted):
        folded[i] = "".join(variants.get(c, c) for c in s)
    length, start, codes = _pack(folded)
    data = np.where(codes < TABLE_END, codes, 0).astype(np.int32)
    fold1 = np.where(length == 1, data[np.minimum(start, data.size - 1)], 0).astype(np.int32)
    cls = np.zeros(TABLE_END, dtype=np.uint8)
    for cp in range(LAST_CJK + 1):
        ch = chr(cp)
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            cls[cp] = CJK if is_cjk[cp] else WORD
    char = mix(np.arange(1, TABLE_END + 1, dtype=U64))
    tok1 = token_hashes(char, np.zeros(TABLE_END, dtype=U64), np.arange(TABLE_END))
    n_classes = len(set(variants.values()))
    has_token = np.add.reduceat(cls[data] > 0, start) > 0  # start < data.size: every length >= 1
    cls_in = np.where(length == 1, cls[fold1], np.where(has_token, EXPANDS, SEP)).astype(np.uint8)
    return Tables(fold1, start, length, data, cls, char, tok1, cls_in, char[fold1], tok1[fold1], n_classes)


def _cjk_mask() -> np.ndarray:
    """bool per code point (all of Unicode): a CJK token character."""
    mask = np.zeros(0x110000, dtype=bool)
    for lo, hi in _CJK_RANGES:
        mask[lo:hi + 1] = True
    return mask


def _pack(folded: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(length, start, code points) of the folded strings laid end to end."""
    length = np.fromiter(map(len, folded), dtype=np.int32, count=len(folded))
    start = np.zeros(len(folded), dtype=np.int32)
    np.cumsum(length[:-1], out=start[1:])
    codes = np.frombuffer("".join(folded).encode("utf-32-le"), dtype=np.uint32)
    return length, start, codes


def opencc_dictionaries() -> list[tuple[str, list[str]]]:
    """(character, its conversions) from OpenCC's character dictionaries; [] without the tool.
    Entries end at line feeds only, as a conversion may be any character."""
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    tool = clib / "bin" / "opencc_dict"
    entries: list[tuple[str, list[str]]] = []
    if not tool.exists():
        return entries
    with tempfile.TemporaryDirectory() as tmp:
        for name in _DICTIONARIES:
            out = Path(tmp) / f"{name}.txt"
            subprocess.run([str(tool), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"), "-o", str(out),
                            "-f", "ocd2", "-t", "text"], check=True, capture_output=True)
            for line in out.read_text(encoding="utf-8").split("\n"):
                if not line:
                    continue
                key, _, values = line.partition("\t")
                entries.append((key, values.split()))
    return entries


def variant_representatives(entries: list[tuple[str, list[str]]]) -> dict[str, str]:
    """Characters of `entries` -> the smallest character of their class (union-find over
    'converts to'), for every character that is not its class's smallest."""
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        root = c
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(c, c) != root:
            parent[c], c = root, parent[c]
        return root

    for key, values in entries:
        for v in values:
            if len(key) == 1 and len(v) == 1:
                a, b = find(key), find(v)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {c: find(c) for c in parent}

"""The size of a document as the balance stage counts it.

`tokens`: a CJK character (Han, kana, Hangul) is one token, and so is every run of other
letters and digits; punctuation, symbols and whitespace are not tokens. It needs no tokenizer
(the tokenizer is trained after balancing, on its output) and is within a small factor of what
a SentencePiece model of the run gives (about 1 piece per Chinese character, 1.3 per English
word). `bytes`: UTF-8 bytes of the text. Both are counted by Arrow's C++ kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.text.cjk import HAN, KANA_BLOCKS, ranges

UNITS = ("tokens", "bytes")
_CJK = ranges(*HAN, *KANA_BLOCKS, "hangul_compat_jamo", "hangul_syllables")


def _re2_class(spans) -> str:
    return "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in spans)


_CJK_CLASS = _re2_class(_CJK)
TOKEN_RE = f"[{_CJK_CLASS}]|[^{_CJK_CLASS}\\s\\p{{P}}\\p{{S}}]+"


def sizes(texts: pa.Array, unit: str) -> np.ndarray:
    """The size of each text in `unit` (0 for null) as int64."""
    if unit == "tokens":
        out = pc.count_substring_regex(texts, TOKEN_RE)
    elif unit == "bytes":
        out = pc.binary_length(pc.cast(texts, pa.string()).cast(pa.binary()))
    else:
        raise ValueError(f"unit {unit!r}: one of {', '.join(UNITS)}")
    return pc.fill_null(out, 0).to_numpy(zero_copy_only=False).astype(np.int64)

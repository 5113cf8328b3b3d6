"""Decoding plain-text files of unknown encoding, whole or as a stream.

The codec is chosen by `corpus.ingest.charset`: byte-order mark, then strict UTF-8, then
detection mapped to the superset a reader should really use (GB2312/GBK -> GB18030).
"""

from __future__ import annotations

import io

from corpus.ingest import charset
from corpus.io import open_maybe_compressed
from corpus.text import cjk

SNIFF_BYTES = 1 << 16
# A regex character class body: CJK ideographs, radicals, kana, Hangul, CJK and full-width
# punctuation, and the marks Chinese text borrows (dashes, curly quotes, ellipsis, middle dot).
CJK_CHARS = cjk.char_class("middle_dot", "dashes_quotes", *cjk.span("radicals", "unified"), "hangul_syllables",
                           "compat_ideographs", "compat_forms", *cjk.span("fullwidth_forms", "halfwidth_symbols"))
_COMPRESSION = (".gz", ".bz2", ".xz", ".zst")

def decode_bytes(data: bytes) -> tuple[str, str, int]:
    """(text, encoding used, number of bytes replaced by U+FFFD) for a whole file's bytes."""
    text, info = charset.decode(data)
    return text, info["charset"], info["replaced_bytes"]


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def open_text(uri: str, newline: str | None = None) -> io.TextIOWrapper:
    """A streaming text reader over a (possibly compressed) file, its codec sniffed from the
    first bytes; bad bytes become U+FFFD. `newline` as for `open` ("" for the csv module).
    The codec used is the wrapper's `encoding`. Caller closes it."""
    with open_maybe_compressed(uri) as raw:
        head = raw.read(SNIFF_BYTES)
    encoding = charset.sniff(head, complete=len(head) < SNIFF_BYTES)
    return io.TextIOWrapper(
        open_maybe_compressed(uri), encoding=encoding, errors="replace", newline=newline
    )


def data_suffix(uri: str) -> str:
    """The lower-case suffix naming the data format, after any compression suffix
    ("a/b.JSONL.gz" -> ".jsonl"); "" when there is none."""
    base = uri.lower().rsplit("/", 1)[-1]
    for ext in _COMPRESSION:
        base = base.removesuffix(ext)
    return base[base.rfind("."):] if "." in base else ""


def count_lines(uri: str) -> int:
    """The lines `open_text` iterates, counted from the text with its line ends untranslated:
    each `\\n`, `\\r\\n` or lone `\\r` ends one, and text after the last end is one more."""
    n, last = 0, ""
    with open_text(uri, newline="") as f:
        for chunk in iter(lambda: f.read(1 << 20), ""):
            n += chunk.count("\n") + chunk.count("\r") - chunk.count("\r\n")
            n -= last == "\r" and chunk[0] == "\n"
            last = chunk[-1]
    return n + (last not in ("", "\n", "\r"))

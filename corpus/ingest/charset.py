"""Decoding web payloads: HTTP header charset, then HTML meta charset, then detection.

Labels are mapped to the codec a browser would really use (GB2312/GBK are decoded as GB18030,
Big5 as Big5-HKSCS, Latin-1 as Windows-1252). Every decode records the codec, where the
choice came from, and how many bytes had to be replaced.
"""

from __future__ import annotations

import codecs
import re
import threading

import cchardet

# Superset codecs: a page labelled with the key is decoded with the value.
_SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "x-gbk": "gb18030",
    "gb_2312-80": "gb18030", "euc-cn": "gb18030", "hz-gb-2312": "hz",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "cp950": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252", "us-ascii": "cp1252",
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949", "utf8": "utf-8", "unicode": "utf-8",
}
_META_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE
)
_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_SCAN_BYTES = 4096
# A declared charset that replaces more than this share of bytes is distrusted.
_MAX_DECLARED_ERRORS = 0.005


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def meta_charset(data: bytes) -> str | None:
    """The charset named by a <meta> tag in the first bytes of an HTML document."""
    m = _META_RE.search(data, 0, META_SCAN_BYTES)
    return m.group(1).decode("ascii", "replace") if m else None


def decode_counting(data: bytes, codec: str) -> tuple[str, int]:
    """Decode, replacing undecodable bytes with U+FFFD; return the text and bytes replaced."""
    try:
        return data.decode(codec), 0
    except UnicodeDecodeError:
        pass
    _counter.replaced = 0
    text = data.decode(codec, errors=_COUNTING)
    return text, _counter.replaced


_COUNTING = "corpus-count-replaced"
_counter = threading.local()


def _count_and_replace(err: UnicodeError):
    """Codec error handler: count this thread's bad bytes, substitute U+FFFD."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    _counter.replaced += err.end - err.start
    return "\ufffd", err.end


codecs.register_error(_COUNTING, _count_and_replace)


def bom_codec(head: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when `head` starts with a byte-order mark."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return None


def sniff(head: bytes, complete: bool = True) -> str:
    """The codec for data starting with `head` (`complete`: head is all of the data):
    byte-order mark, strict UTF-8, then detection; UTF-8 when nothing is known."""
    bom = bom_codec(head)
    if bom:  # codecs that consume the mark themselves, for streams
        return {"utf-8": "utf-8-sig"}.get(bom[0], bom[0][:6])
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return detect(head) or "utf-8"


def detect(data: bytes) -> str | None:
    """The codec cchardet guesses for `data`, mapped to its superset."""
    return codec_for(cchardet.detect(data[:65536]).get("encoding"))


def decode(data: bytes, declared: str | None = None, *, html: bool = False) -> tuple[str, dict]:
    """Decode `data`; returns (text, info) with info keys charset, charset_source, replaced_bytes.

    Order: byte-order mark, the declared charset (HTTP header), the HTML meta charset,
    strict UTF-8, then detection. A declared or meta charset that garbles more than 0.5% of
    the bytes loses to a detected one that does better.
    """
    bom = bom_codec(data)
    if bom:
        text, bad = decode_counting(data[bom[1]:], bom[0])
        return text, _info(bom[0], "bom", bad)
    candidates = [(codec_for(declared), "http")]
    if html:
        candidates.append((codec_for(meta_charset(data)), "meta"))
    best = None
    for codec, source in candidates:
        if codec is None:
            continue
        text, bad = decode_counting(data, codec)
        if bad <= _MAX_DECLARED_ERRORS * len(data):
            return text, _info(codec, source, bad)
        if best is None or bad < best[2]:
            best = (text, codec, bad, source)
    try:
        return data.decode("utf-8"), _info("utf-8", "utf8" if best is None else "utf8-override", 0)
    except UnicodeDecodeError:
        pass
    codec = detect(data)
    if codec is not None and (best is None or codec != best[1]):
        text, bad = decode_counting(data, codec)
        if best is None or bad < best[2]:
            return text, _info(codec, "detected", bad)
    if best is not None:
        return best[0], _info(best[1], best[3], best[2])
    text, bad = decode_counting(data, "utf-8")
    return text, _info("utf-8", "fallback", bad)


def _info(codec: str, source: str, replaced: int) -> dict:
    return {"charset": codec, "charset_source": source, "replaced_bytes": replaced}

"""Decoding web payloads: HTTP header charset, then HTML meta charset, then detection.

Labels are mapped to the codec a browser would really use (GB2312/GBK are decoded as GB18030,
Big5 as Big5-HKSCS, Latin-1 as Windows-1252, Shift_JIS as CP932, EUC-KR as CP949, ISO-2022-JP
as ISO-2022-JP-2). Every decode records the codec, where the
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
    "iso-2022-jp": "iso2022_jp_2", "iso2022_jp": "iso2022_jp_2", "csiso2022jp": "iso2022_jp_2",
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
    """Decode `data`; returns (text, info) with info keys charset, charset_source,
    replaced_bytes, and charset_note where a label was unknown or ignored.

    Order: byte-order mark, the declared charset (HTTP header), the HTML meta charset,
    ISO-2022 escapes, strict UTF-8, then detection. A declared or meta charset that garbles
    more than 0.5% of the bytes (bytes replaced, plus mojibake: symbols run together with
    other Latin/Cyrillic/Greek characters, as a multi-byte text read byte by byte gives)
    loses to the candidate that garbles least. Valid UTF-8 with non-ASCII text beats a
    declared single-byte charset (the bytes of any real text in one of those are almost
    never valid UTF-8). A label naming no known charset is ignored and noted.
    """
    bom = bom_codec(data)
    if bom:
        text, bad = decode_counting(data[bom[1]:], bom[0])
        return text, _info(bom[0], "bom", bad)
    notes = []
    candidates = []
    for label, source in ((declared, "http"), (meta_charset(data) if html else None, "meta")):
        if not label:
            continue
        codec = codec_for(label)
        if codec is None:
            notes.append(f"unknown {source} charset {label.strip()[:40]!r} ignored")
        elif codec.startswith(("utf-16", "utf-32")) and not _looks_wide(data):
            # a page whose tags read as ASCII is not UTF-16 (browsers read it as UTF-8)
            notes.append(f"{source} charset {label.strip()[:40]!r} on 8-bit data ignored")
        else:
            candidates.append((codec, source))
    note = "; ".join(notes) or None
    best = None
    for codec, source in candidates:
        if best is not None and codec == best[1]:
            continue
        text, bad = decode_counting(data, codec)
        garbled = bad + mojibake(text)
        if garbled <= _MAX_DECLARED_ERRORS * len(data) and not (
                codec in _SINGLE_BYTE and _valid_utf8_text(data)):
            return text, _info(codec, source, bad, note)
        if best is None or garbled < best[4]:
            best = (text, codec, bad, source, garbled)
    iso = _iso2022(data)
    if iso is not None:
        text, bad = decode_counting(data, iso)
        if bad == 0:
            return text, _info(iso, "escapes" if best is None else "escapes-override", 0, note)
    try:
        return data.decode("utf-8"), _info("utf-8", "utf8" if best is None else "utf8-override", 0,
                                           note)
    except UnicodeDecodeError:
        pass
    codec = detect(data)
    if codec is not None and (best is None or codec != best[1]):
        text, bad = decode_counting(data, codec)
        if best is None or bad + mojibake(text) < best[4]:
            return text, _info(codec, "detected", bad, note)
    if best is not None:
        return best[0], _info(best[1], best[3], best[2], note)
    text, bad = decode_counting(data, "utf-8")
    return text, _info("utf-8", "fallback", bad, note)


# Codecs that decode (nearly) any byte: a wrong one garbles without replacing anything.
_SINGLE_BYTE = frozenset(codecs.lookup(c).name for c in (
    "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "latin_1", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic", "cp866", "cp437", "cp850",
    *(f"iso8859_{i}" for i in (2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16))))
# Symbols a multi-byte text read byte by byte produces (but not the quotes, dashes, degree and
# numero signs that real Latin and Cyrillic text puts next to letters).
_MOJIBAKE_SYMBOLS = frozenset(
    "\u00a1\u00a2\u00a3\u00a4\u00a5\u00a6\u00a7\u00a8\u00a9\u00aa\u00ac\u00ae\u00af"
    "\u00b1\u00b2\u00b3\u00b4\u00b6\u00b8\u00b9\u00ba\u00bc\u00bd\u00be\u00bf\u00d7\u00f7"
    "\u0192\u02c6\u02dc\u201a\u2020\u2021\u2030\u2039\u203a\u2122\u20ac"
) | frozenset(chr(c) for c in range(0x80, 0xA0))
_MOJIBAKE_RE = re.compile("[\u0080-\u052f\u2010-\u2122]{2,}")


def mojibake(text: str) -> int:
    """How many characters look like a multi-byte text read byte by byte: symbols such as
    ¤ © ³ ‚ † ™ (and C1 controls) inside runs of Latin-1/Latin/Greek/Cyrillic characters."""
    n = 0
    for m in _MOJIBAKE_RE.finditer(text):
        n += sum(1 for ch in m.group() if ch in _MOJIBAKE_SYMBOLS)
    return n


def _valid_utf8_text(data: bytes) -> bool:
    """Valid UTF-8 with at least 8 bytes of multi-byte sequences."""
    if sum(1 for b in data[:65536] if b >= 0x80) < 8:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _looks_wide(data: bytes) -> bool:
    """Whether data without a byte-order mark may be UTF-16/32: NUL bytes in its head."""
    return data[:1024].count(0) * 8 >= len(data[:1024])


_ISO2022 = ((b"\x1b$)C", "iso2022_kr"),
            (b"\x1b$B", "iso2022_jp_2"), (b"\x1b$@", "iso2022_jp_2"), (b"\x1b$(D", "iso2022_jp_2"))


def _iso2022(data: bytes) -> str | None:
    """The ISO-2022 codec that 7-bit data with its escape sequences is written in, if any."""
    if b"\x1b" not in data[:65536] or any(b >= 0x80 for b in data[:65536]):
        return None
    for esc, codec in _ISO2022:
        if esc in data:
            return codec
    return None


def _info(codec: str, source: str, replaced: int, note: str | None = None) -> dict:
    info = {"charset": codec, "charset_source": source, "replaced_bytes": replaced}
    if note:
        info["charset_note"] = note
    return info

"""HTTP message bodies as stored in WARC response records: undo chunking and compression.

Both steps are tolerant: a broken chunk stream or a corrupt gzip body yields what could be
recovered and a note saying what went wrong, never an exception.

Crawlers often store a body already de-chunked and decompressed but keep the original
`Transfer-Encoding` / `Content-Encoding` headers. So a body is only de-chunked when its chunk
framing parses, and only decompressed when its bytes really are compressed (gzip magic, a
zlib header, raw deflate or brotli that decompress cleanly); otherwise the body is kept as
stored and a note (`transfer_encoding_ignored: ...`, `content_encoding_ignored: ...`) says so.
"""

from __future__ import annotations

import zlib

try:
    import brotli
except ImportError:  # brotli is optional; br bodies are then reported as undecodable
    brotli = None

GZIP_MAGIC = b"\x1f\x8b"
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0c\x1b")  # ESC: ISO-2022 text is 7-bit with escapes
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def dechunk(body: bytes) -> tuple[bytes, str | None]:
    """Undo `Transfer-Encoding: chunked`. Returns (payload, problem or None).

    A body whose first chunk does not frame (no hex size line, or no CRLF after the chunk's
    data) was stored de-chunked already: it comes back as is, with the problem `not_chunked`."""
    out, pos, n = [], 0, len(body)
    while pos < n:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return (b"".join(out), "chunk_header_truncated") if out else (body, "not_chunked")
        size_field = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16) if size_field else -1
        except ValueError:
            size = -1
        if size < 0:
            if not out:  # declared chunked but was not: keep the raw body
                return body, "not_chunked"
            return b"".join(out), "bad_chunk_size"
        if size == 0:
            return b"".join(out), None
        start = eol + 2
        if start + size > n:
            out.append(body[start:start + size])
            return b"".join(out), "chunk_truncated"
        if body[start + size:start + size + 2] not in (b"\r\n", b""):
            if not out:  # the data is not followed by CRLF: no chunk framing here
                return body, "not_chunked"
            out.append(body[start:start + size])
            return b"".join(out), "bad_chunk_framing"
        out.append(body[start:start + size])
        pos = start + size + 2
    return b"".join(out), "no_last_chunk"


def _is_zlib_header(head: bytes) -> bool:
    """RFC 1950: deflate method, window <= 32K, header checksum, no preset dictionary."""
    if len(head) < 2:
        return False
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0 and not flg & 0x20


def looks_like_text(body: bytes) -> bool:
    """Whether a body already reads as text or HTML: a text byte-order mark, or no control
    bytes (other than tab, newlines, form feed, ESC) in its first 1 KiB and either markup at
    its start or at least 64 bytes (compressed data that long has control bytes)."""
    if body.startswith(_TEXT_BOMS):
        return True
    head = body[:1024]
    if any(b < 0x20 and b not in _TEXT_CONTROLS for b in head) or b"\x7f" in head:
        return False
    return head.lstrip()[:1] == b"<" or len(head) >= 64


def _inflate(body: bytes, wbits: int, limit: int) -> tuple[bytes, str | None]:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, limit)
    except zlib.error as e:
        return b"", f"content_encoding_error: {e}"
    if d.unconsumed_tail:
        return out, "decompressed_too_large"
    return out, None if d.eof else "content_encoding_truncated"


def _raw_inflate(body: bytes, limit: int) -> bytes | None:
    """Raw deflate (no zlib header, seen in the wild), only when it decompresses cleanly: no
    error, the end of the stream reached, nothing but whitespace after it."""
    d = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit)
    except zlib.error:
        return None
    if d.unconsumed_tail:
        return out  # too large but decoding: the caller notes it
    return out if d.eof and not d.unused_data.strip() and out else None


def _unbrotli(body: bytes, limit: int) -> tuple[bytes, str | None] | None:
    """Brotli has no magic number: None when the body does not decompress as brotli."""
    d = brotli.Decompressor()
    try:
        out = d.process(body, output_buffer_limit=limit + 1)
    except brotli.error:
        return None
    if len(out) > limit:
        return out[:limit], "decompressed_too_large"
    if d.is_finished():
        return out, None
    return (out, "content_encoding_truncated") if out else None


def _ignored(enc: str, why: str = "body not compressed") -> str:
    return f"content_encoding_ignored: {enc} header, {why}"


def decompress(body: bytes, encoding: str, limit: int) -> tuple[bytes, str | None]:
    """Undo `Content-Encoding` (gzip, deflate, br), keeping at most `limit` bytes.

    Only bytes that really are compressed are decompressed; a body stored already decoded
    under its original header comes back as is, with a `content_encoding_ignored` note."""
    enc = encoding.strip().lower()
    if enc in ("", "identity", "none"):
        return body, None
    if not body:
        return body, None
    if enc in ("gzip", "x-gzip", "deflate"):
        name = "deflate" if enc == "deflate" else "gzip"
        if body.startswith(GZIP_MAGIC) or _is_zlib_header(body):
            return _inflate(body, zlib.MAX_WBITS | 32, limit)  # gzip or zlib, auto-detected
        if enc == "deflate" and not looks_like_text(body):
            out = _raw_inflate(body, limit)
            if out is not None:
                return out, None if len(out) < limit else "decompressed_too_large"
        return body, _ignored(name)
    if enc == "br":
        if brotli is None:
            return body, "unsupported_content_encoding: br (brotli not installed)"
        if looks_like_text(body):
            return body, _ignored("br", "body is already text")
        got = _unbrotli(body, limit)
        return got if got is not None else (body, _ignored("br"))
    return body, f"unsupported_content_encoding: {enc}"


def decode_body(body: bytes, headers: dict[str, str], limit: int) -> tuple[bytes, str | None]:
    """The payload of an HTTP body given its (lower-cased) headers, and the notes on what
    was done or ignored (`; `-separated), or None when the body was as its headers say."""
    notes = []
    declared = headers.get("content-length", "").strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, problem = dechunk(body)
        if problem == "not_chunked":
            problem = "transfer_encoding_ignored: chunked header, body not chunked"
        notes.append(problem)
    elif declared.isdigit() and int(declared) != len(body):
        # The block holds the body the parser found: never cut it to the header's length.
        notes.append(f"content_length_mismatch: header {int(declared)}, body {len(body)}")
    enc = headers.get("content-encoding", "")
    if enc:
        body, problem = decompress(body, enc, limit)
        notes.append(problem)
    notes = [n for n in notes if n]
    return body, "; ".join(notes) if notes else None

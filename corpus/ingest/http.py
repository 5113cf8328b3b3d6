"""HTTP message bodies as stored in WARC response records: undo chunking and compression.

Both steps are tolerant: a broken chunk stream or a corrupt gzip body yields what could be
recovered and a note saying what went wrong, never an exception.
"""

from __future__ import annotations

import zlib

try:
    import brotli
except ImportError:  # brotli is optional; br bodies are then reported as undecodable
    brotli = None


def dechunk(body: bytes) -> tuple[bytes, str | None]:
    """Undo `Transfer-Encoding: chunked`. Returns (payload, problem or None)."""
    out, pos, n = [], 0, len(body)
    while pos < n:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return (b"".join(out), "chunk_header_truncated") if out else (body, "not_chunked")
        size_field = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            if not out:  # declared chunked but was not: keep the raw body
                return body, "not_chunked"
            return b"".join(out), "bad_chunk_size"
        if size == 0:
            return b"".join(out), None
        start = eol + 2
        out.append(body[start:start + size])
        if start + size > n:
            return b"".join(out), "chunk_truncated"
        pos = start + size + 2
    return b"".join(out), "no_last_chunk"


def decompress(body: bytes, encoding: str, limit: int) -> tuple[bytes, str | None]:
    """Undo `Content-Encoding` (gzip, deflate, br), keeping at most `limit` bytes."""
    enc = encoding.strip().lower()
    if enc in ("", "identity", "none"):
        return body, None
    if enc in ("gzip", "x-gzip", "deflate"):
        if enc == "deflate" and not body[:1] in (b"\x78", b"\x58", b"\x68", b"\x08"):
            wbits = -zlib.MAX_WBITS  # raw deflate without zlib header, seen in the wild
        else:
            wbits = zlib.MAX_WBITS | 32  # auto-detect gzip or zlib header
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, limit)
        except zlib.error as e:
            return b"", f"content_encoding_error: {e}"
        if d.unconsumed_tail:
            return out, "decompressed_too_large"
        return out, None if d.eof else "content_encoding_truncated"
    if enc == "br" and brotli is not None:
        try:
            out = brotli.decompress(body)
        except brotli.error as e:
            return b"", f"content_encoding_error: {e}"
        return out[:limit], None if len(out) <= limit else "decompressed_too_large"
    return body, f"unsupported_content_encoding: {enc}"


def decode_body(body: bytes, headers: dict[str, str], limit: int) -> tuple[bytes, str | None]:
    """The payload of an HTTP body given its (lower-cased) headers."""
    problem = None
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body, problem = dechunk(body)
    enc = headers.get("content-encoding", "")
    if enc:
        body, p2 = decompress(body, enc, limit)
        problem = problem or p2
    return body, problem

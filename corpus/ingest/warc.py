"""WARC and WET files to outcomes: one per record, plus one per unreadable byte range.

Records stream from a seekable file (never a whole WARC in memory). FastWARC reads by
default and warcio takes over where FastWARC refuses a position (`bench/ingest.py` measures
both). When both fail, the reader resynchronises on the next gzip member (or `WARC/` line)
that holds a readable record; the bytes it skipped become a `bad_warc_record` drop for each
record the accounting walk frames in them (an unknown WARC version, say), else one
`unreadable` outcome.
A record cut short by the end of the file keeps what was read (meta `truncated`) once its
HTTP headers and some body were read; cut earlier it is a `truncated` drop, cut inside its
WARC header a `bad_warc_header` drop. A response record without HTTP headers (a bare body) is
read as a 200 whose type is the record's Content-Type (meta `no_http_headers`). ARC files
(`filedesc://` first) are handed to `corpus.ingest.arc`; in a WAT file (JSON metadata
records) each metadata record is a `record_metadata` drop whose detail names the file.

Ids come from the position: `URI@offset`, or `URI#record=N` in a single gzip stream (the
WARC-Record-ID stays in meta `warc_record_id`; copies of a file share those). Accounting
(`count_records`): the records a plain walk over the headers and Content-Lengths frames must
each have an outcome; unreadable ranges are outcomes that are not records.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Mapping

from corpus.io import open_binary
from corpus.ingest import arc, charset, http
from corpus.schema import outcome

GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN_BLOCK = 1 << 20


@dataclass
class RawRecord:
    """A WARC record as both backends see it: headers, the (capped) block, where it was."""

    offset: int
    headers: dict[str, str]
    block: bytes
    declared_length: int
    too_large: bool

    @property
    def type(self) -> str:
        return self.headers.get("warc-type", "").lower()

    @property
    def truncated(self) -> bool:
        return not self.too_large and len(self.block) < self.declared_length


def _fastwarc_records(f: BinaryIO, start: int, cap: int) -> Iterator[RawRecord]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    f.seek(start)
    for r in ArchiveIterator(f, record_types=WarcRecordType.any_type, parse_http=False,
                             auto_decode="none"):
        block = r.reader.read(cap + 1)
        headers = {k.lower(): v for k, v in r.headers.items()}
        yield RawRecord(r.stream_pos, headers, block[:cap], r.content_length, len(block) > cap)


def _warcio_records(f: BinaryIO, start: int, cap: int) -> Iterator[RawRecord]:
    from warcio.archiveiterator import ArchiveIterator

    f.seek(start)
    it = ArchiveIterator(f, no_record_parse=True, arc2warc=False)
    for r in it:
        if r.format != "warc":  # warcio reads any line as an ARC header; we want WARC only
            raise ValueError("not a WARC record")
        block = r.raw_stream.read(cap + 1)
        headers = {k.lower(): v for k, v in r.rec_headers.headers}
        declared = int(headers.get("content-length", "0") or 0)
        yield RawRecord(it.get_record_offset(), headers, block[:cap], declared,
                        len(block) > cap)


BACKENDS: dict[str, Callable[[BinaryIO, int, int], Iterator[RawRecord]]] = {
    "fastwarc": _fastwarc_records,
    "warcio": _warcio_records,
}


def read_warc(uri: str, cfg: Mapping) -> Iterator[dict]:
    """Outcomes for every record of a WARC or WET file at `uri`, streamed."""
    cap = int(cfg.get("max_record_bytes", 20_000_000))
    first = cfg.get("reader", "fastwarc")
    order = [first] + [b for b in BACKENDS if b != first]
    with open_binary(uri) as f:
        head = _head(f)
        if arc.is_arc(head):
            yield from arc.read_arc(uri, cfg)
            return
        wat = _wat(uri, head)
    rows = _read_warc(uri, cfg, cap, order)
    if wat is None:
        yield from rows
        return
    for row in rows:  # a WAT file: each metadata record dropped, saying why
        if row["reason"] == "record_metadata":
            row["detail"] = wat
        yield row


def _read_warc(uri: str, cfg: Mapping, cap: int, order: list[str]) -> Iterator[dict]:
    with open_binary(uri) as f:
        size = f.seek(0, io.SEEK_END)
        if _single_gzip_stream(f, size):
            yield from _read_stream(f, uri, cfg, cap)
            return
        pos = 0
        while pos < size:
            last, error = None, None
            for backend in order:
                try:
                    for raw in BACKENDS[backend](f, pos, cap):
                        last = raw
                        yield record_outcome(raw, f"{uri}@{raw.offset}", cfg)
                    error = None
                except Exception as e:  # a backend refusing bytes is data, not a crash
                    error = f"{backend}: {type(e).__name__}: {e}"
                if last is not None or error is None:
                    break
            end = pos if last is None else _record_end(f, last, size)
            if error is None and end is not None and end >= size:
                return
            after = end if end is not None else last.offset + 1
            nxt, marker = _next_record_start(f, after, size, cap)
            if error is None and end is None and nxt >= size:
                return  # a last record cut short by the end of the file: kept as truncated
            start = marker if marker < nxt else after
            yield from _skipped(f, uri, start, nxt, error or "unparseable bytes after a record")
            pos = nxt


def _head(f: BinaryIO, n: int = 1 << 16) -> bytes:
    """The first `n` bytes of the file, gunzipped across members where it is gzip (as far as
    they decompress)."""
    f.seek(0)
    raw = f.read(n)
    f.seek(0)
    if not raw.startswith(GZIP_MAGIC):
        return raw
    out, rest = b"", raw
    try:
        while rest.startswith(GZIP_MAGIC) and len(out) < n:
            d = zlib.decompressobj(31)
            out += d.decompress(rest, n)
            rest = d.unused_data
    except zlib.error:
        pass
    return out


_WAT_RECORD = re.compile(
    rb"WARC-Type: *metadata\r?\n(?:[^\r\n]+\r?\n)*?Content-Type: *application/json", re.I)


def _wat(uri: str, head: bytes) -> str | None:
    """Why the file is a WAT file (JSON metadata records, no pages), which is not read."""
    name = uri.lower().rsplit("/", 1)[-1]
    if name.endswith((".wat.gz", ".wat")) or (_WAT_RECORD.search(head) and b"WARC-Type: response"
                                              not in head and b"WARC-Type: conversion" not in head):
        return (f"WAT file {uri}: its JSON metadata records are not supported; read the "
                "matching WARC (warc:) or WET (wet:) file")
    return None


def _single_gzip_stream(f: BinaryIO, size: int) -> bool:
    """Whether the file is one gzip stream (not one gzip member per record): the first member
    does not end before the end of the file, or not within its first 4 MiB."""
    f.seek(0)
    if f.read(3) != GZIP_MAGIC:
        return False
    f.seek(0)
    d = zlib.decompressobj(31)
    read = 0
    while read < (4 << 20):
        chunk = f.read(1 << 16)
        if not chunk:
            return True
        read += len(chunk)
        try:
            d.decompress(chunk, 1 << 16)
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, 1 << 16)
        except zlib.error:
            return False  # a corrupt first member: resynchronise member by member
        if d.eof:
            return read - len(d.unused_data) >= size
    return True


def _read_stream(f: BinaryIO, uri: str, cfg: Mapping, cap: int) -> Iterator[dict]:
    """A single gzip stream: offsets into it mean nothing, so records are located by their
    ordinal, and nothing after a decompression error can be recovered."""
    n = 0
    try:
        for raw in _fastwarc_records(f, 0, cap):
            yield record_outcome(raw, f"{uri}#record={n}", cfg)
            n += 1
    except Exception as e:  # noqa: BLE001 - recorded as data
        yield outcome("web", f"{uri}#record={n}", reason="unreadable",
                      detail=f"gzip stream unreadable after {n} records: {type(e).__name__}: {e}")


def _record_end(f: BinaryIO, raw: RawRecord, size: int) -> int | None:
    """Where the record that starts at `raw.offset` ends: the end of its gzip member, or of
    its header, block and trailing CRLFs. None when it runs past the end of the file; just
    after its start when its gzip member is corrupt."""
    f.seek(raw.offset)
    if f.read(3) == GZIP_MAGIC:
        f.seek(raw.offset)
        d, pos = zlib.decompressobj(31), raw.offset
        while not d.eof:
            chunk = f.read(1 << 16)
            if not chunk:
                return None
            try:
                d.decompress(chunk, 1 << 16)
                while d.unconsumed_tail and not d.eof:
                    d.decompress(d.unconsumed_tail, 1 << 16)
            except zlib.error:  # a corrupt member: look for the next record right after its start
                return raw.offset + 1
            pos += len(chunk)
        return pos - len(d.unused_data)
    f.seek(raw.offset)
    head = f.read(64 << 10)
    sep = head.find(b"\r\n\r\n")
    if sep < 0 or raw.truncated:
        return None
    end = raw.offset + sep + 4 + raw.declared_length
    f.seek(end)
    tail = f.read(4)
    end += len(tail) - len(tail.lstrip(b"\r\n"))
    return end if end <= size else None


_MARKERS = re.compile(re.escape(GZIP_MAGIC) + b"|WARC/")


def _next_record_start(f: BinaryIO, after: int, size: int, cap: int) -> tuple[int, int]:
    """From `after` on: the offset of the next record start from which a whole record can be
    read (or `size`), and the first offset that looks like a record start (or `size`)."""
    first = size
    pos = after
    while pos < size:
        f.seek(pos)
        chunk = f.read(_SCAN_BLOCK + 4)
        for m in _MARKERS.finditer(chunk):
            cand = pos + m.start()
            first = min(first, cand)
            if _readable_at(f, cand, cap):
                return cand, first
        pos += _SCAN_BLOCK
    return size, first


def _readable_at(f: BinaryIO, offset: int, cap: int) -> bool:
    f.seek(offset)
    head = f.read(4096)
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(31).decompress(head)
        except zlib.error:
            return False
    if not head.startswith(b"WARC/"):
        return False
    for backend in BACKENDS.values():
        try:
            rec = next(backend(f, offset, cap), None)
            if rec is not None and rec.offset == offset and not rec.truncated:
                return True
        except Exception:
            continue
    return False


def _skipped(f: BinaryIO, uri: str, start: int, end: int, detail: str) -> Iterator[dict]:
    """The outcomes of bytes no backend could read: one `bad_warc_record` per record that the
    accounting walk frames in them (a header with a Content-Length, e.g. an unknown WARC
    version), or one `unreadable` range where it frames none."""
    framed = 0
    if end - start <= _MAX_SKIPPED_FRAMING:
        f.seek(start)
        framed, _ = _count_warc(io.BytesIO(f.read(end - start)))
    if not framed:
        yield _unreadable(uri, start, end, detail)
        return
    for k in range(framed):
        yield outcome("web", f"{uri}@{start}" + (f"#{k}" if k else ""), reason="bad_warc_record",
                      detail=f"record {k + 1} of {framed} framed in bytes {start}-{end}: {detail}",
                      meta={"offset": start, "end": end})


_MAX_SKIPPED_FRAMING = 64 << 20  # larger unreadable ranges are not walked for records


def _unreadable(uri: str, start: int, end: int, detail: str) -> dict:
    return outcome("web", f"{uri}@{start}", reason="unreadable",
                   detail=f"bytes {start}-{end}: {detail}", meta={"offset": start, "end": end})


# --- accounting ------------------------------------------------------------------------------

_HEADER_LINE = 64 << 10


def count_records(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(records, exact): the records framed by walking headers and Content-Lengths over the
    (gunzipped) bytes, independently of the readers. Where the walk meets bytes it cannot
    frame, it stops and the count is a lower bound (exact False); where decompression fails,
    the last record framed is not counted (a gzip member's checksum is checked only at its
    end, so that record may be made of corrupt bytes)."""
    with open_binary(uri) as raw:
        if arc.is_arc(_head(raw)):
            return arc.count_records(uri, cfg)
        return _count_warc(raw)


def _count_warc(raw: BinaryIO) -> tuple[int, bool]:
    n = 0
    raw.seek(0)
    zipped = raw.read(3) == GZIP_MAGIC
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if zipped else raw
    try:
        while (length := _next_content_length(stream)) is not None:
            if length < 0 or _skip(stream, length) < length:
                return n, False
            n += 1
    except (OSError, EOFError, zlib.error):
        return max(n - 1, 0), False
    return n, True


def _next_content_length(stream: BinaryIO) -> int | None:
    """The Content-Length of the next record's header (blank lines before it skipped);
    None at the end of the stream, -1 where no WARC header with a length starts."""
    line = b"\r\n"
    while line.strip() == b"":
        line = stream.readline(_HEADER_LINE)
        if not line:
            return None
    if not line.startswith(b"WARC/"):
        return -1
    length = -1
    while (line := stream.readline(_HEADER_LINE)).strip():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    return length if line else -1


def _skip(stream: BinaryIO, length: int) -> int:
    """Read and discard up to `length` bytes; how many there were."""
    done = 0
    while done < length and (chunk := stream.read(min(1 << 20, length - done))):
        done += len(chunk)
    return done


def unit_key(uri: str, row: Mapping) -> str | None:
    """The record an outcome stands for; None for an unreadable range."""
    return None if row["reason"] == "unreadable" else row["locator"]


# --- from a record to an outcome ------------------------------------------------------------

_SKIPPED_TYPES = {"warcinfo", "request", "metadata", "revisit", "resource", "continuation"}


def record_outcome(raw: RawRecord, locator: str, cfg: Mapping) -> dict:
    """Decide what one WARC record becomes: a document or a drop with its reason."""
    h = raw.headers
    url = h.get("warc-target-uri", "").strip("<>") or None
    meta = {"warc_type": raw.type, "warc_record_id": h.get("warc-record-id"),
            "offset": raw.offset, "truncated": 1 if raw.truncated else None}
    base = dict(url=url, fetch_time=_parse_date(h.get("warc-date")), meta=meta)

    def drop(reason: str, detail: str | None = None) -> dict:
        return outcome("web", locator, reason=reason, detail=detail, **base)

    if "content-length" not in h:
        return drop("bad_warc_header", "no Content-Length (a record header cut short by the "
                    "end of the file, or a malformed one)")
    if raw.too_large:
        return drop("too_large", f"{raw.declared_length} bytes > {len(raw.block)}")
    if raw.type == "conversion":
        text, info = charset.decode(raw.block, "utf-8")
        meta.update(info, lang_hint=h.get("warc-identified-content-language"))
        text = _clean_text(text)
        return outcome("web", locator, text, **base) if text else drop("empty_text")
    if raw.type != "response":
        return drop(f"record_{raw.type}" if raw.type in _SKIPPED_TYPES else "record_other",
                    raw.type or None)
    if (url or "").startswith("dns:") or "text/dns" in h.get("content-type", ""):
        return drop("dns")
    wctype = h.get("content-type", "application/http")
    start = raw.block.lstrip()[:5].upper()
    if not start.startswith(b"HTTP/") and ("application/http" not in wctype
                                           or start.startswith(b"<")):
        # a bare body (no HTTP headers): its type is the record's Content-Type, or sniffed
        meta["no_http_headers"] = 1
        status, body = 200, raw.block
        headers = {} if "application/http" in wctype else {"content-type": wctype}
    else:
        status, headers, body = parse_http_response(raw.block)
        if status is None:
            return drop("bad_http", "unparseable HTTP status line")
        meta["http_status"] = status
    if raw.truncated and not body:
        return drop("truncated", f"cut short by the end of the file after {len(raw.block)} of "
                    f"{raw.declared_length} bytes, before the HTTP body")
    if 300 <= status < 400:
        return drop("redirect", headers.get("location"))
    if status != 200:
        return drop("http_status", str(status))
    if url and url.split("?", 1)[0].lower().endswith("/robots.txt"):
        return drop("robots_txt")
    mime, declared = _content_type(h, headers, body)
    meta["content_type"] = mime
    if mime not in cfg.get("html_types", ("text/html", "application/xhtml+xml")):
        return drop("non_html", mime)
    payload, problem = http.decode_body(body, headers, int(cfg.get("max_record_bytes", 20_000_000)))
    meta["body_problem"] = problem
    if not payload:
        return drop("undecodable", problem or "empty body")
    html, info = charset.decode(payload, declared, html=True)
    meta.update(info)
    if info["replaced_bytes"] > float(cfg.get("max_replaced_share", 0.3)) * len(payload):
        return drop("undecodable", f"{info['replaced_bytes']} of {len(payload)} bytes replaced")
    from corpus.ingest.extract import extract

    title, text = extract(html, cfg.get("extract"))
    if not text.strip():
        return drop("empty_text")
    return outcome("web", locator, text, title=title, **base)


def parse_http_response(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """Status code, lower-cased headers and body of a raw HTTP response; tolerant of bare LF."""
    end = block.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = block.find(b"\n\n"), 2
    if end < 0:
        end, sep = len(block), 0
    lines = [line.rstrip("\r") for line in block[:end].decode("latin-1").split("\n")]  # \x85, \x0b... stay in values
    if not lines or not lines[0].upper().startswith("HTTP/"):
        return None, {}, b""
    parts = lines[0].split(None, 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None, {}, b""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, colon, v = line.partition(":")
        if colon:
            headers.setdefault(k.strip().lower(), v.strip())
    return status, headers, block[end + sep:]


def _content_type(warc_h: Mapping, http_h: Mapping, body: bytes) -> tuple[str, str | None]:
    """The payload's MIME type (Common Crawl's identified type wins over the server's claim)
    and the charset the server declared."""
    ctype = http_h.get("content-type", "")
    mime, _, params = ctype.partition(";")
    declared = None
    for p in params.split(";"):
        k, eq, v = p.partition("=")
        if eq and k.strip().lower() == "charset":
            declared = v.strip().strip("\"'")
    identified = warc_h.get("warc-identified-payload-type", "").split(";")[0].strip().lower()
    mime = identified or mime.strip().lower()
    if not mime:
        head = body[:1024].lstrip().lower()
        mime = "text/html" if head.startswith((b"<!doctype html", b"<html", b"<head")) else "unknown"
    return mime, declared


def _clean_text(text: str) -> str:
    lines = (ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(ln for ln in lines if ln)


def _parse_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        d = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)

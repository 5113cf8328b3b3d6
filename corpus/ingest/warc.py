"""WARC and WET files to outcomes: one per record, plus one per unreadable byte range.

Records stream from a seekable file (never a whole WARC in memory). FastWARC reads by
default and warcio takes over where FastWARC refuses a position (`bench/ingest.py` measures
both). When both fail, the reader resynchronises on the next gzip member (or `WARC/` line)
that holds a readable record, and reports the bytes it skipped as an `unreadable` outcome.
A record cut short by the end of the file keeps what was read (meta `truncated`).
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Mapping

from corpus.io import open_binary, stable_name
from corpus.ingest import charset, http
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
        yield RawRecord(start + it.get_record_offset(), headers, block[:cap], declared,
                        len(block) > cap)


BACKENDS: dict[str, Callable[[BinaryIO, int, int], Iterator[RawRecord]]] = {
    "fastwarc": _fastwarc_records,
    "warcio": _warcio_records,
}


def read_warc(uri: str, cfg: Mapping) -> Iterator[dict]:
    """Outcomes for every record of a WARC or WET file at `uri`, streamed."""
    cap = int(cfg.get("max_record_bytes", 20_000_000))
    order = [cfg.get("reader", "fastwarc")] + [b for b in BACKENDS if b != cfg.get("reader", "fastwarc")]
    name = stable_name(uri)
    with open_binary(uri) as f:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        gzipped = f.read(3) == GZIP_MAGIC
        pos = 0
        while pos < size:
            last, error = None, None
            for backend in order:
                try:
                    for raw in BACKENDS[backend](f, pos, cap):
                        last = raw.offset
                        yield record_outcome(raw, uri, name, cfg)
                    error = None
                except Exception as e:  # a backend refusing bytes is data, not a crash
                    error = f"{backend}: {type(e).__name__}: {e}"
                if last is not None or error is None:
                    break
            after = pos if last is None else last + 1
            nxt = _next_record_start(f, after, size, gzipped, cap)
            if error is not None or nxt < size:
                gap_start = pos if last is None else last + 1
                yield _unreadable(uri, name, gap_start, nxt,
                                  "unreadable", error or "unparseable bytes between records")
            pos = nxt


def _next_record_start(f: BinaryIO, after: int, size: int, gzipped: bool, cap: int) -> int:
    """The offset of the next record start at or after `after` from which a whole record
    can be read, or `size` when there is none."""
    marker = GZIP_MAGIC if gzipped else b"WARC/"
    pos = after
    while pos < size:
        f.seek(pos)
        chunk = f.read(_SCAN_BLOCK + len(marker))
        i = chunk.find(marker)
        while i >= 0:
            cand = pos + i
            if _readable_at(f, cand, gzipped, cap):
                return cand
            i = chunk.find(marker, i + 1)
        pos += _SCAN_BLOCK
    return size


def _readable_at(f: BinaryIO, offset: int, gzipped: bool, cap: int) -> bool:
    f.seek(offset)
    head = f.read(4096)
    if gzipped:
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


def _unreadable(uri: str, name: str, start: int, end: int, reason: str, detail: str) -> dict:
    return outcome("web", f"{uri}@{start}", f"{name}@{start}", reason=reason,
                   detail=f"bytes {start}-{end}: {detail}", meta={"offset": start, "end": end})


# --- from a record to an outcome ------------------------------------------------------------

_SKIPPED_TYPES = {"warcinfo", "request", "metadata", "revisit", "resource", "continuation"}


def record_outcome(raw: RawRecord, uri: str, name: str, cfg: Mapping) -> dict:
    """Decide what one WARC record becomes: a document or a drop with its reason."""
    h = raw.headers
    url = h.get("warc-target-uri", "").strip("<>") or None
    meta = {"warc_type": raw.type, "warc_record_id": h.get("warc-record-id"),
            "offset": raw.offset, "truncated": 1 if raw.truncated else None}
    base = dict(url=url, fetch_time=_parse_date(h.get("warc-date")), meta=meta)
    locator, key = f"{uri}@{raw.offset}", f"{name}@{raw.offset}"

    def drop(reason: str, detail: str | None = None) -> dict:
        return outcome("web", locator, key, reason=reason, detail=detail, **base)

    if raw.too_large:
        return drop("too_large", f"{raw.declared_length} bytes > {len(raw.block)}")
    if raw.type == "conversion":
        text, info = charset.decode(raw.block, "utf-8")
        meta.update(info, lang_hint=h.get("warc-identified-content-language"))
        text = _clean_text(text)
        return outcome("web", locator, key, text, **base) if text else drop("empty_text")
    if raw.type != "response":
        return drop(f"record_{raw.type}" if raw.type in _SKIPPED_TYPES else "record_other",
                    raw.type or None)
    if (url or "").startswith("dns:") or "text/dns" in h.get("content-type", ""):
        return drop("dns")
    if "application/http" not in h.get("content-type", "application/http"):
        return drop("not_http", h.get("content-type"))
    status, headers, body = parse_http_response(raw.block)
    if status is None:
        return drop("bad_http", "unparseable HTTP status line")
    meta["http_status"] = status
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
    return outcome("web", locator, key, text, title=title, **base)


def parse_http_response(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """Status code, lower-cased headers and body of a raw HTTP response; tolerant of bare LF."""
    end = block.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = block.find(b"\n\n"), 2
    if end < 0:
        end, sep = len(block), 0
    lines = block[:end].decode("latin-1").splitlines()
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

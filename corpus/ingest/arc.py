"""ARC files (Internet Archive crawls before WARC, `.arc` / `.arc.gz`) to outcomes.

An ARC file is a `filedesc://` header record, then records that are each one header line
`URL IP-address archive-date content-type [more fields] length` followed by `length` bytes
(usually the HTTP response as fetched) and a newline; `.arc.gz` holds one gzip member per
record or one stream. `corpus.ingest.warc.read_warc` hands ARC files here, so `warc:` reads
them. Each record becomes a document or a drop through the WARC record logic: the
`filedesc://` record is `record_warcinfo`, a record cut short by the end of the file keeps
what was read (meta `truncated`), and bytes that do not frame as ARC records end the file
with one `unreadable` outcome.

Ids come from the ordinal (`URI#record=N`, the file is streamed through gzip, so offsets
into it mean nothing). Accounting (`count_records`): the records a separate walk over the
header lines and their lengths frames must each have an outcome.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO, Iterator, Mapping

from corpus.io import open_binary
from corpus.schema import outcome

GZIP_MAGIC = b"\x1f\x8b\x08"
ARC_MAGIC = b"filedesc://"
_LINE = 64 << 10


def is_arc(head: bytes) -> bool:
    """Whether the (decompressed) first bytes of a file are an ARC file's."""
    return head.lstrip(b"\r\n").startswith(ARC_MAGIC)


def _stream(raw: BinaryIO, tolerant: bool = False) -> BinaryIO:
    """The file's bytes, gunzipped (any number of members) where it is gzip. `tolerant`: a
    last member cut short ends the stream instead of raising, so its bytes can be kept."""
    raw.seek(0)
    zipped = raw.read(3) == GZIP_MAGIC
    raw.seek(0)
    if not zipped:
        return raw
    return io.BufferedReader(_Gunzip(raw)) if tolerant else gzip.GzipFile(fileobj=raw)


class _Gunzip(io.RawIOBase):
    """Gzip members one after another; the end of the file inside a member ends the stream."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.d, self.pending = raw, zlib.decompressobj(31), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not self.pending:
            if self.d.eof:
                rest = self.d.unused_data
                if not rest.strip(b"\0"):
                    rest = self.raw.read(1 << 16)
                    if not rest:
                        return 0
                self.d = zlib.decompressobj(31)
                self.pending = self.d.decompress(rest)
                continue
            chunk = self.d.unconsumed_tail or self.raw.read(1 << 16)
            if not chunk:
                return 0  # cut short inside a member: what was decompressed is kept
            self.pending = self.d.decompress(chunk, 1 << 20)
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _header(stream: BinaryIO) -> tuple[list[str], int] | None:
    """The next record's header fields and length (blank lines before it skipped); None at
    the end of the stream; ValueError where the line does not frame a record."""
    line = b"\n"
    while line.strip() == b"":
        line = stream.readline(_LINE)
        if not line:
            return None
    fields = line.decode("latin-1").split()
    if len(fields) < 5 or not fields[-1].isdigit() or not line.endswith(b"\n"):
        raise ValueError(f"not an ARC record header line: {line[:80]!r}")
    return fields, int(fields[-1])


def _iso(date: str) -> str | None:
    """An ARC archive-date (YYYYMMDDhhmmss, sometimes shorter) as ISO 8601 UTC."""
    if not date.isdigit() or len(date) < 8:
        return None
    d = date.ljust(14, "0")[:14]
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}+00:00"


def read_arc(uri: str, cfg: Mapping) -> Iterator[dict]:
    """Outcomes for every record of the ARC file at `uri`, streamed."""
    from corpus.ingest.warc import RawRecord, record_outcome

    cap = int(cfg.get("max_record_bytes", 20_000_000))
    n = 0
    with open_binary(uri) as raw:
        stream = _stream(raw, tolerant=True)
        try:
            while (head := _header(stream)) is not None:
                fields, length = head
                block = stream.read(min(length, cap + 1))
                too_large = len(block) > cap
                if too_large:
                    _discard(stream, length - len(block))
                url, ctype = fields[0], fields[3]
                locator = f"{uri}#record={n}"
                if url.startswith(ARC_MAGIC.decode()):
                    yield outcome("web", locator, reason="record_warcinfo",
                                  detail="ARC filedesc header", url=url,
                                  meta={"warc_type": "filedesc", "arc": 1})
                else:
                    http = block.lstrip().upper().startswith(b"HTTP/")
                    headers = {"warc-type": "response", "warc-target-uri": url,
                               "content-length": str(length),
                               "content-type": "application/http; msgtype=response" if http
                               else ctype}
                    if (date := _iso(fields[2])) is not None:
                        headers["warc-date"] = date
                    row = record_outcome(RawRecord(n, headers, block[:cap], length, too_large),
                                         locator, cfg)
                    row["meta"] = sorted(row["meta"] + [("arc", "1")])
                    yield row
                n += 1
        except (ValueError, OSError, EOFError, zlib.error) as e:
            yield outcome("web", f"{uri}#record={n}", reason="unreadable",
                          detail=f"ARC file unreadable after {n} records: {type(e).__name__}: {e}")


def _discard(stream: BinaryIO, length: int) -> int:
    done = 0
    while done < length and (chunk := stream.read(min(1 << 20, length - done))):
        done += len(chunk)
    return done


def count_records(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(records, exact): the records framed by walking header lines and lengths over the
    (gunzipped) bytes. Bytes that do not frame stop the walk (a lower bound); so does a
    decompression error, and the last record framed is then not counted."""
    n = 0
    with open_binary(uri) as raw:
        stream = _stream(raw)
        try:
            while True:
                try:
                    head = _header(stream)
                except ValueError:
                    return n, False
                if head is None:
                    return n, True
                if _discard(stream, head[1]) < head[1]:
                    return n + 1, False
                n += 1
        except (OSError, EOFError, zlib.error):
            return max(n - 1, 0), False

"""The document contract shared by every stage, and the outcome rows that readers yield.

A reader turns one input file into *outcomes*: plain dicts with the document columns plus
`reason` (None for a kept document) and `detail` (free text, e.g. a content type or an error).
Every unit of input (a WARC record, a book chunk, a news item, an unreadable byte range)
yields exactly one outcome, so the ledger can account for all of it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Iterator, Mapping

import pyarrow as pa
import xxhash

DOC_FIELDS = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("url", pa.string()),
    pa.field("locator", pa.string(), nullable=False),
    pa.field("fetch_time", pa.timestamp("us", tz="UTC")),
    pa.field("lang", pa.string()),
    pa.field("lang_score", pa.float32()),
    pa.field("title", pa.string()),
    pa.field("text", pa.string(), nullable=False),
    pa.field("meta", pa.map_(pa.string(), pa.string())),
]
DOC_SCHEMA = pa.schema(DOC_FIELDS)
OUTCOME_SCHEMA = pa.schema(
    DOC_FIELDS + [pa.field("reason", pa.string()), pa.field("detail", pa.string())]
)


def doc_id(source: str, locator: str) -> str:
    """Stable 128-bit id (32 hex chars) of a document from its source and its locator: the
    whole normalized input URI (see corpus.inputs) and a position unique within the file, so
    two files can only share an id if they share a URI."""
    return xxhash.xxh3_128_hexdigest(f"{source}\x00{locator}".encode("utf-8", "surrogatepass"))


def outcome(
    source: str,
    locator: str,
    text: str = "",
    *,
    url: str | None = None,
    title: str | None = None,
    fetch_time: _dt.datetime | None = None,
    lang: str | None = None,
    meta: Mapping[str, object] | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> dict:
    """One outcome row; its id is derived from `locator`."""
    return {
        "id": doc_id(source, locator),
        "source": source,
        "url": url,
        "locator": locator,
        "fetch_time": fetch_time,
        "lang": lang,
        "lang_score": None,
        "title": title,
        "text": text,
        "meta": sorted((str(k), str(v)) for k, v in (meta or {}).items() if v is not None),
        "reason": reason,
        "detail": detail,
    }


def to_batches(
    rows: Iterable[dict], schema: pa.Schema = OUTCOME_SCHEMA, max_rows: int = 1024,
    max_chars: int = 32 << 20,
) -> Iterator[pa.RecordBatch]:
    """Group rows into record batches bounded by row count and text size."""
    buf: list[dict] = []
    chars = 0
    for row in rows:
        buf.append(row)
        chars += len(row["text"])
        if len(buf) >= max_rows or chars >= max_chars:
            yield pa.RecordBatch.from_pylist(buf, schema=schema)
            buf, chars = [], 0
    if buf:
        yield pa.RecordBatch.from_pylist(buf, schema=schema)

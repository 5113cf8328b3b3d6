"""Generic JSON Lines (optionally compressed) and Parquet documents: one outcome per record.

Accounting: a JSONL file has one outcome per line (`count_jsonl`, from its line ends), a
Parquet file one per row (`count_parquet`, from its footer)."""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Iterator, Mapping

from corpus.config import defaults
from corpus.ingest.textfile import count_lines, decode_bytes, normalize_newlines, open_text
from corpus.io import open_binary, open_maybe_compressed
from corpus.schema import outcome

MAX_META_CHARS = 1000


def iter_json_lines(uri: str) -> Iterator[tuple[int, object, tuple[str, str] | None]]:
    """(line number from 1, parsed value, drop) per line; `drop` is (reason, detail) for a
    blank or invalid line, whose value is None. A line ends at a line feed only (or CR):
    U+2028, U+0085, form feeds... stay inside a record, and so do control characters, which
    strict JSON would reject inside strings."""
    with open_text(uri) as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                yield n, None, ("empty_text", "blank line")
                continue
            try:
                yield n, without_lone_surrogates(line, json.loads(line, strict=False)), None
            except ValueError as e:
                yield n, None, ("malformed_record", f"line {n}: {e}")


def load_json(uri: str, source: str) -> tuple[object, dict | None]:
    """A whole JSON file, parsed: (value, None), or (None, its `malformed_record` outcome)."""
    with open_maybe_compressed(uri) as f:
        text, encoding, _ = decode_bytes(f.read())
    try:
        return without_lone_surrogates(text, json.loads(text, strict=False)), None
    except ValueError as e:
        return None, outcome(source, uri, reason="malformed_record",
                             detail=f"{encoding}: {e}")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def without_lone_surrogates(raw: str, value):
    """`value` (parsed from `raw`) with every lone surrogate in its strings (a `\\ud800`
    escape with no partner, which UTF-8 cannot hold) replaced by U+FFFD; `raw` is searched
    first, so values without such an escape are returned as they are."""
    if not _SURROGATE_ESCAPE.search(raw):
        return value

    def fix(v):
        if isinstance(v, str):
            return v.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {fix(k): fix(x) for k, x in v.items()}
        return v
    return fix(value)


def scalar_meta(record: Mapping, skip: set) -> dict[str, str]:
    """The record's scalar fields not in `skip`, as strings no longer than MAX_META_CHARS."""
    meta = {}
    for k, v in record.items():
        if k in skip or v is None or not isinstance(v, (str, int, float, bool)):
            continue
        v = str(v)
        if len(v) <= MAX_META_CHARS:
            meta[k] = v
    return meta


def parse_time(value: object) -> _dt.datetime | None:
    """An ISO-8601 timestamp as an aware UTC datetime (naive means UTC); None if unparsable."""
    text = str(value).strip()
    try:  # Python < 3.11 does not read a trailing "Z"
        t = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    utc = _dt.timezone.utc
    return t.replace(tzinfo=utc) if t.tzinfo is None else t.astimezone(utc)


def _text(value: object) -> str:
    return normalize_newlines(value).strip() if isinstance(value, str) else ""


def read_jsonl(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One outcome per line of a JSONL file: kept when the text field is a non-empty string.

    The id comes from the line number (`URI#line=N`), never from the record's own id field:
    data sets repeat their ids, and a repeat must not collide. That field goes to meta
    `source_id`, the other scalar fields to meta by name."""
    c = {**defaults("ingest.jsonl"), **cfg}
    for n, rec, drop in iter_json_lines(uri):
        if drop is None and not isinstance(rec, dict):
            drop = ("malformed_record", f"line {n}: not a JSON object")
        if drop is not None:
            yield outcome(c["source"], f"{uri}#line={n}", reason=drop[0],
                          detail=drop[1])
            continue
        yield record_outcome(rec, f"{uri}#line={n}", c)


def read_parquet(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One outcome per row of a Parquet file, with the same field mapping as JSONL;
    streamed by record batch; ids from the row number (`URI#row=N`)."""
    import pyarrow.parquet as pq

    c = {**defaults("ingest.parquet"), **cfg}
    n = 0
    with open_binary(uri) as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                n += 1
                yield record_outcome(rec, f"{uri}#row={n}", c)


def record_outcome(rec: Mapping, locator: str, c: Mapping) -> dict:
    """The outcome of one record at `locator` given the field mapping `c`."""
    source = c["source"]
    if c["source_field"] and _text(rec.get(c["source_field"])):
        source = _text(rec[c["source_field"]])
    text = _text(rec.get(c["text_field"]))
    used = {c["text_field"], c["id_field"], c["url_field"], c["title_field"],
            c["time_field"], c["source_field"]}
    rid = rec.get(c["id_field"])
    return outcome(
        source, locator, text,
        url=_text(rec.get(c["url_field"])) or None,
        title=_text(rec.get(c["title_field"])) or None,
        fetch_time=parse_time(rec[c["time_field"]]) if rec.get(c["time_field"]) else None,
        meta={**scalar_meta(rec, used),
              "source_id": str(rid) if isinstance(rid, (str, int)) and str(rid) else None},
        reason=None if text else "empty_text",
        detail=None if text else f"no text in field {c['text_field']!r}",
    )


def count_jsonl(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(lines, exact): the units of a JSONL file."""
    return count_lines(uri), True


def count_parquet(uri: str, cfg: Mapping) -> tuple[int, bool]:
    """(rows, exact) as the Parquet footer declares them."""
    import pyarrow.parquet as pq

    with open_binary(uri) as f:
        return pq.ParquetFile(f).metadata.num_rows, True


def unit_key(uri: str, row: Mapping) -> str:
    """The line or row an outcome stands for."""
    return row["locator"]

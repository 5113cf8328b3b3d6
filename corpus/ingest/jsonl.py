"""Generic JSON Lines (optionally compressed) and Parquet documents: one outcome per record."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Iterator, Mapping

from corpus.config import defaults
from corpus.ingest.textfile import decode_bytes, normalize_newlines, open_text
from corpus.io import open_binary, open_maybe_compressed, stable_name
from corpus.schema import outcome

MAX_META_CHARS = 1000


def iter_json_lines(uri: str) -> Iterator[tuple[int, object, tuple[str, str] | None]]:
    """(line number from 1, parsed value, drop) per line; `drop` is (reason, detail) for a
    blank or invalid line, whose value is None."""
    with open_text(uri) as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                yield n, None, ("empty_text", "blank line")
                continue
            try:
                yield n, json.loads(line), None
            except ValueError as e:
                yield n, None, ("malformed_record", f"line {n}: {e}")


def load_json(uri: str, source: str, name: str) -> tuple[object, dict | None]:
    """A whole JSON file, parsed: (value, None), or (None, its `malformed_record` outcome)."""
    with open_maybe_compressed(uri) as f:
        text, encoding, _ = decode_bytes(f.read())
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, outcome(source, uri, f"{name}#file", reason="malformed_record",
                             detail=f"{encoding}: {e}")


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

    Key: the record's id when it has one (line number added if the id repeats), else the
    line number. Other scalar fields go to meta."""
    c = {**defaults("ingest.jsonl"), **cfg}
    name = stable_name(uri)
    seen_ids: set[str] = set()
    for n, rec, drop in iter_json_lines(uri):
        if drop is None and not isinstance(rec, dict):
            drop = ("malformed_record", f"line {n}: not a JSON object")
        if drop is not None:
            yield outcome(c["source"], f"{uri}#line={n}", f"{name}#{n}", reason=drop[0],
                          detail=drop[1])
            continue
        yield record_outcome(rec, f"line={n}", uri, name, c, seen_ids)


def read_parquet(uri: str, cfg: Mapping) -> Iterator[dict]:
    """One outcome per row of a Parquet file, with the same field mapping as JSONL;
    streamed by record batch."""
    import pyarrow.parquet as pq

    c = {**defaults("ingest.parquet"), **cfg}
    name = stable_name(uri)
    seen_ids: set[str] = set()
    n = 0
    with open_binary(uri) as f:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
            for rec in batch.to_pylist():
                n += 1
                yield record_outcome(rec, f"row={n}", uri, name, c, seen_ids)


def record_outcome(rec: Mapping, pos: str, uri: str, name: str, c: Mapping,
                   seen_ids: set[str]) -> dict:
    """The outcome of one record given the field mapping `c`; `pos` like `line=3`."""
    locator, key = f"{uri}#{pos}", f"{name}#{pos.split('=', 1)[1]}"
    source = c["source"]
    if c["source_field"] and _text(rec.get(c["source_field"])):
        source = _text(rec[c["source_field"]])
    rid = rec.get(c["id_field"])
    if isinstance(rid, (str, int)) and str(rid):
        key = f"{name}#{rid}" if str(rid) not in seen_ids else f"{name}#{rid}@{pos}"
        seen_ids.add(str(rid))
    text = _text(rec.get(c["text_field"]))
    used = {c["text_field"], c["id_field"], c["url_field"], c["title_field"],
            c["time_field"], c["source_field"]}
    return outcome(
        source, locator, key, text,
        url=_text(rec.get(c["url_field"])) or None,
        title=_text(rec.get(c["title_field"])) or None,
        fetch_time=parse_time(rec[c["time_field"]]) if rec.get(c["time_field"]) else None,
        meta=scalar_meta(rec, used),
        reason=None if text else "empty_text",
        detail=None if text else f"no text in field {c['text_field']!r}",
    )

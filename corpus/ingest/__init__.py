"""Readers: one function per input kind, each turning one file into outcome rows.

`read_input` is the per-file function the Spark job runs on executors. A reader bug or an
I/O failure mid-file becomes a `reader_error` outcome for the rest of that file, and a file
with nothing in it an `empty_file` outcome, so no file fails the job or escapes the ledger.
"""

from __future__ import annotations

import importlib
from typing import Iterator, Mapping

from corpus.io import stable_name
from corpus.schema import outcome

# kind -> (module, function, config section, source of error rows)
READERS = {
    "warc": ("corpus.ingest.warc", "read_warc", "warc", "web"),
    "wet": ("corpus.ingest.warc", "read_warc", "warc", "web"),
    "books": ("corpus.ingest.books", "read_books", "books", "books"),
    "news": ("corpus.ingest.news", "read_news", "news", "news"),
    "forums": ("corpus.ingest.forums", "read_forums", "forums", "forums"),
    "jsonl": ("corpus.ingest.jsonl", "read_jsonl", "jsonl", "jsonl"),
    "parquet": ("corpus.ingest.jsonl", "read_parquet", "parquet", "parquet"),
}


def read_input(kind: str, uri: str, ingest_cfg: Mapping) -> Iterator[dict]:
    """Outcomes for one input file of the given kind."""
    module, func, section, source = READERS[kind]
    reader = getattr(importlib.import_module(module), func)
    produced = 0
    try:
        for row in reader(uri, ingest_cfg.get(section) or {}):
            produced += 1
            yield row
    except Exception as e:  # noqa: BLE001 - recorded as data, see module docstring
        yield outcome(source, f"{uri}#error", f"{stable_name(uri)}#error", reason="reader_error",
                      detail=f"after {produced} rows: {type(e).__name__}: {e}")
        return
    if produced == 0:
        yield outcome(source, f"{uri}#empty", f"{stable_name(uri)}#empty", reason="empty_file",
                      detail="no records in file")

"""Readers: one function per input kind, each turning one file into outcome rows.

`read_input` is the per-file function the Spark job runs on executors. A reader bug or an
I/O failure mid-file becomes a `reader_error` outcome for the rest of that file, and a file
with nothing in it an `empty_file` outcome, so no file fails the job or escapes the ledger.
A file that is not of the reader's kind (a WARC given to `books:`) is one `wrong_kind`
outcome naming the kind it looks like (`corpus.ingest.checks.wrong_kind`), and is not read.

`read_input_tallied` also counts the file's units (records, lines, rows, docs...) by a code
path of their own, each reader module's counter, so that `corpus.ingest.checks` can compare
them with the outcomes. The contract, defined per reader in its docstring: the outcomes of
one unit are consecutive, and each unit has at least one; a reader module's `unit_key` maps
an outcome to its unit (None for outcomes that are no unit, e.g. an unreadable byte range).
"""

from __future__ import annotations

import importlib
from typing import Iterator, Mapping

from corpus.schema import outcome

# kind -> (module, reader, counter, config section, source of error rows)
READERS = {
    "warc": ("corpus.ingest.warc", "read_warc", "count_records", "warc", "web"),
    "wet": ("corpus.ingest.warc", "read_warc", "count_records", "warc", "web"),
    "books": ("corpus.ingest.books", "read_books", "count_units", "books", "books"),
    "news": ("corpus.ingest.news", "read_news", "count_docs", "news", "news"),
    "forums": ("corpus.ingest.forums", "read_forums", "count_units", "forums", "forums"),
    "jsonl": ("corpus.ingest.jsonl", "read_jsonl", "count_jsonl", "jsonl", "jsonl"),
    "parquet": ("corpus.ingest.jsonl", "read_parquet", "count_parquet", "parquet", "parquet"),
}


def read_input(kind: str, uri: str, ingest_cfg: Mapping) -> Iterator[dict]:
    """Outcomes for one input file of the given kind."""
    from corpus.ingest.checks import wrong_kind

    module, func, _, section, source = READERS[kind]
    reader = getattr(importlib.import_module(module), func)
    produced = 0
    try:
        looks = wrong_kind(kind, uri)
        if looks:
            yield outcome(source, uri, reason="wrong_kind", detail=looks)
            return
        for row in reader(uri, ingest_cfg.get(section) or {}):
            produced += 1
            yield row
    except Exception as e:  # noqa: BLE001 - recorded as data, see module docstring
        yield outcome(source, f"{uri}#error", reason="reader_error",
                      detail=f"after {produced} rows: {type(e).__name__}: {e}")
        return
    if produced == 0:
        yield outcome(source, f"{uri}#empty", reason="empty_file", detail="no records in file")


def read_input_tallied(kind: str, uri: str, ingest_cfg: Mapping, tally: dict) -> Iterator[dict]:
    """`read_input`, and once exhausted, `tally` filled with `uri`, `records` (units counted
    independently; None when counting failed, `error` then says why), `exact` (False: a lower
    bound), `outcomes` (units among the outcomes) and `whole_file` (an outcome stands for the
    whole file or the rest of it: a file-level drop, `wrong_kind`, `reader_error`, `empty_file`)."""
    module, _, counter, section, _ = READERS[kind]
    mod = importlib.import_module(module)
    units, last, whole = 0, None, False
    for row in read_input(kind, uri, ingest_cfg):
        if row["locator"] in (uri, f"{uri}#error", f"{uri}#empty"):
            whole = True
        elif (key := mod.unit_key(uri, row)) is not None and key != last:
            units, last = units + 1, key
        yield row
    try:
        records, exact = getattr(mod, counter)(uri, ingest_cfg.get(section) or {})
        error = None
    except Exception as e:  # noqa: BLE001 - judged by check_tallies
        records, exact, error = None, False, f"{type(e).__name__}: {e}"
    tally.update(uri=uri, records=records, exact=exact, outcomes=units, whole_file=whole,
                 error=error)

"""Checks the ingest stage runs before it commits: every document id is unique, and every
file's outcomes match the units its reader counted independently (`read_input_tallied`).

Per-file tallies travel with the outcomes from the executors as one extra row per file
(`tallied_batches`: reason `__tally__`, the tally as JSON in `detail`), a note that the
stage runner hands back to the ingest stage's check (corpus.outcomes), so the files are read
once.
"""

from __future__ import annotations

import json
from typing import Iterable, Iterator, Mapping

import pyarrow as pa

from corpus.ingest import read_input_tallied
from corpus.schema import outcome, to_batches
from corpus.stages.base import StageError

TALLY = "__tally__"


class IngestError(StageError):
    """Ingest outcomes that do not add up: a shared id, or a file whose tally is off."""


def tallied_batches(kind: str, uri: str, ingest_cfg: Mapping,
                    max_rows: int) -> Iterator[pa.RecordBatch]:
    """One file's outcomes as record batches, then the row carrying its tally."""
    tally: dict = {}
    yield from to_batches(read_input_tallied(kind, uri, ingest_cfg, tally), max_rows=max_rows)
    yield from to_batches([outcome(TALLY, f"{uri}#tally", reason=TALLY,
                                   detail=json.dumps(tally, sort_keys=True))])


def check_tallies(tallies: Iterable[Mapping]) -> None:
    """Raise IngestError naming the first file whose outcomes do not match its count: equal
    for an exact count, at least as many for a lower bound, at most as many where an outcome
    stands for the whole file or its rest."""
    for t in sorted(tallies, key=lambda t: t["uri"]):
        records, units, uri = t["records"], t["outcomes"], t["uri"]
        if records is None:
            if not t["whole_file"]:
                raise IngestError(f"ingest: {uri}: its records cannot be counted ({t['error']}) "
                                  f"but the reader emitted {units} without an error")
            continue
        if t["whole_file"]:
            ok = units <= records or not t["exact"]
        else:
            ok = units == records if t["exact"] else units >= records
        if not ok:
            bound = "" if t["exact"] else "at least "
            raise IngestError(f"ingest: {uri}: {bound}{records} records in the file, but the "
                              f"reader emitted outcomes for {units}")


def check_unique_ids(outcomes) -> None:
    """Raise IngestError naming an id that two outcomes share, and two of their locators.
    Only the id column is shuffled; locators are looked up for a duplicate alone."""
    from pyspark.sql import functions as F

    dup = (outcomes.groupBy("id").count().where(F.col("count") > 1)
           .orderBy("id").limit(1).collect())
    if not dup:
        return
    doc_id, n = dup[0]["id"], dup[0]["count"]
    where = sorted(r["locator"] for r in outcomes.where(F.col("id") == doc_id)
                   .select("locator").limit(2).collect())
    if where[0] == where[-1]:  # one unit emitted twice, or one file read twice
        raise IngestError(f"ingest: document id {doc_id} occurs {n} times at {where[0]}")
    also = f" (and {n - 2} more)" if n > 2 else ""
    raise IngestError(f"ingest: document id {doc_id} is shared by {where[0]} and "
                      f"{where[-1]}{also}")

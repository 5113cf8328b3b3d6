"""Writing a stage's outcomes on the executors: kept and dropped rows straight to Parquet,
counted on the way, so a stage's documents pass through Python once and never back to the JVM.

`write_outcomes` runs inside one Spark task: it splits each outcome batch into kept rows
(`reason` null; written without `reason`/`detail`) and dropped rows, writes them to
`<staged>/docs/part-<P>.parquet` and `<staged>/dropped/part-<P>.parquet` (P: the task's
partition; a retried task writes the same file again), and yields one summary row per
(source, lang, reason): documents, characters read and kept, and copies. An outcome batch may
carry `copies` (how many times a kept document is emitted; null or absent: 1; dropped rows emit
0) and `chars_in` (the document's characters as the stage read it, where the stage changed its
text; null or absent: the text's own length). `chars_in` is not written.
A stage that writes each emission as a row of its own (balance) gives kept rows `repeat`: 0 on
a document's first row, which is counted like any other, and k on its k-th repeat, which adds
one to `copies` and nothing to documents or characters. It may also give rows `part`: kept rows
then go to `part-<part>.parquet` instead of the task's file (the task's rows must come sorted
by `part`, and no two tasks may share a part); `part` is not written.
Rows whose reason starts with `__` are notes, not documents (e.g. ingest's per-file tallies):
neither written nor counted, their `detail` comes back in the summary's `note`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SUMMARY_SCHEMA = pa.schema([
    pa.field("part", pa.int32()), pa.field("output", pa.string()),
    pa.field("source", pa.string()), pa.field("lang", pa.string()), pa.field("reason", pa.string()),
    pa.field("docs", pa.int64()), pa.field("chars", pa.int64()),
    pa.field("chars_kept", pa.int64()), pa.field("copies", pa.int64()), pa.field("note", pa.string()),
])
NOTE_PREFIX = "__"
CHARS_IN = pa.field("chars_in", pa.int64())
REPEAT = pa.field("repeat", pa.int32())  # 0: a document's first row; k: its k-th repeat
PART = pa.field("part", pa.int32())      # the kept part file a row goes to
OUTCOME_ONLY = ("reason", "detail")  # not written with kept rows
ACCOUNTING_ONLY = ("chars_in", "part")  # written with no row
ROW_GROUP_CHARS = 64 << 20     # a row group holds about this much text (or ROW_GROUP_ROWS rows)
ROW_GROUP_ROWS = 65536


class PartWriter:
    """One Parquet file, written in row groups of about ROW_GROUP_CHARS characters."""

    def __init__(self, opener: Callable[[], object], compression: str):
        self.opener, self.compression = opener, compression
        self.buf: list[pa.RecordBatch] = []
        self.chars = self.rows = 0
        self.file = self.writer = None

    def add(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self.buf.append(batch)
        self.rows += batch.num_rows
        self.chars += pc.sum(pc.utf8_length(batch.column("text"))).as_py() or 0
        if self.chars >= ROW_GROUP_CHARS or self.rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.buf:
            return
        table = pa.Table.from_batches(self.buf)
        if self.writer is None:
            self.file = self.opener()
            self.writer = pq.ParquetWriter(self.file, table.schema, compression=self.compression)
        self.writer.write_table(table, row_group_size=table.num_rows)
        self.buf, self.chars, self.rows = [], 0, 0

    def close(self) -> bool:
        """Finish the file; False when no row was ever written (and no file made)."""
        self._flush()
        if self.writer is None:
            return False
        self.writer.close()
        self.file.close()
        return True


def kept_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of the kept rows written from outcomes of `schema`."""
    return pa.schema([f for f in schema if f.name not in OUTCOME_ONLY + ACCOUNTING_ONLY])


def dropped_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of the dropped rows written from outcomes of `schema`."""
    return pa.schema([f for f in schema if f.name not in ACCOUNTING_ONLY])


def split(batch: pa.RecordBatch, blank_dropped_text: bool = False):
    """(kept rows without the outcome columns, dropped rows) of an outcome batch."""
    is_kept = pc.is_null(batch.column("reason"))
    kept = batch.filter(is_kept).select(kept_schema(batch.schema).names)
    dropped = batch.filter(pc.invert(is_kept)).select(dropped_schema(batch.schema).names)
    if blank_dropped_text and dropped.num_rows:
        i = dropped.schema.get_field_index("text")
        dropped = dropped.set_column(i, dropped.schema.field(i), pa.array([""] * dropped.num_rows))
    return kept, dropped


def count(batch: pa.RecordBatch, counts: dict) -> None:
    """Add a batch's documents, characters read, characters kept and copies per
    (source, lang, reason) to `counts`."""
    names, nulls = batch.schema.names, [None] * batch.num_rows
    chars = pc.utf8_length(batch.column("text")).to_pylist()
    chars_in = batch.column("chars_in").to_pylist() if "chars_in" in names else nulls
    reasons = batch.column("reason").to_pylist()
    copies = batch.column("copies").to_pylist() if "copies" in names else nulls
    repeats = batch.column("repeat").to_pylist() if "repeat" in names else nulls
    for s, l, r, n, i, c, k in zip(batch.column("source").to_pylist(), batch.column("lang").to_pylist(),
                                   reasons, chars, chars_in, copies, repeats):
        row = counts[(s, l, r)]
        if k and r is None:  # a repeat: one more emission of a document counted on its first row
            row[3] += 1
            continue
        row[0] += 1
        row[1] += (n or 0) if i is None else i
        if r is None:
            row[2] += n or 0
            row[3] += 1 if c is None else c


def write_outcomes(batches: Iterable[pa.RecordBatch], part: int, opener: Callable[[str], Callable],
                   compression: str = "zstd", blank_dropped_text: bool = False,
                   ) -> Iterator[pa.RecordBatch]:
    """Write one task's outcomes (see the module docstring); yields its summary rows.
    `opener(output, part)` gives a function opening that output's part file for writing."""
    kept_parts = _KeptParts(opener, part, compression)
    dropped = PartWriter(opener("dropped", part), compression)
    counts: dict = defaultdict(lambda: [0, 0, 0, 0])
    notes: list[str] = []
    for batch in batches:
        batch = _take_notes(batch, notes)
        _check_copies(batch)
        count(batch, counts)
        parts = batch.column("part") if "part" in batch.schema.names else None
        kept, lost = split(batch, blank_dropped_text)
        kept_parts.add(kept, None if parts is None else parts.filter(pc.is_null(batch.column("reason"))))
        dropped.add(lost)
    written = {"docs": kept_parts.close(), "dropped": dropped.close()}
    rows = [{"part": part, "output": ",".join(n for n, ok in written.items() if ok),
             "source": s, "lang": l, "reason": r, "docs": d, "chars": c, "chars_kept": ck, "copies": k}
            for (s, l, r), (d, c, ck, k) in sorted(counts.items(), key=lambda kv: str(kv[0]))]
    rows += [{"part": part, "docs": 0, "chars": 0, "chars_kept": 0, "copies": 0, "note": n} for n in notes]
    yield pa.RecordBatch.from_pylist(rows, schema=SUMMARY_SCHEMA)


class _KeptParts:
    """The kept rows of one task: one part file, the task's, or one per value of `part`."""

    def __init__(self, opener: Callable[[str, int], Callable], task_part: int, compression: str):
        self.opener, self.compression = opener, compression
        self.current: tuple[int, PartWriter] | None = None
        self.task_part, self.done, self.written = task_part, set(), False

    def add(self, kept: pa.RecordBatch, parts: pa.Array | None) -> None:
        if not kept.num_rows:
            return
        if parts is None:
            return self._writer(self.task_part).add(kept)
        values = parts.to_numpy(zero_copy_only=False)
        cuts = [0, *(1 + (values[1:] != values[:-1]).nonzero()[0]).tolist(), len(values)]
        for a, b in zip(cuts, cuts[1:]):
            self._writer(int(values[a])).add(kept.slice(a, b - a))

    def _writer(self, part: int) -> PartWriter:
        if self.current is None or self.current[0] != part:
            if part in self.done:
                raise ValueError(f"kept rows of part {part} are not contiguous: sort them by part")
            self._close_current()
            self.current = (part, PartWriter(self.opener("docs", part), self.compression))
        return self.current[1]

    def _close_current(self) -> None:
        if self.current is not None:
            self.written |= self.current[1].close()
            self.done.add(self.current[0])
            self.current = None

    def close(self) -> bool:
        """Finish every file; False when no kept row was written."""
        self._close_current()
        return self.written


def _take_notes(batch: pa.RecordBatch, notes: list) -> pa.RecordBatch:
    """The batch without its note rows, whose details go to `notes`."""
    is_note = pc.fill_null(pc.starts_with(batch.column("reason"), NOTE_PREFIX), False)
    if not pc.any(is_note).as_py():
        return batch
    notes += batch.filter(is_note).column("detail").to_pylist()
    return batch.filter(pc.invert(is_note))


def _check_copies(batch: pa.RecordBatch) -> None:
    if "copies" not in batch.schema.names:
        return
    kept = batch.filter(pc.is_null(batch.column("reason"))).column("copies")
    low = pc.min(kept).as_py() if len(kept) else None
    if low is not None and low < 1:
        raise ValueError("a kept document must be emitted at least once (copies >= 1); "
                         "drop it with a reason instead")

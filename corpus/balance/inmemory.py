"""The balance stage without Spark, over batches held in memory: the same passes, the same
plan, the same rows (for tests, benchmarks and small data)."""

from __future__ import annotations

from typing import Mapping

import pyarrow as pa

from corpus.balance import core, plan


def balance_batches(batches: list[pa.RecordBatch], p: Mapping) -> dict:
    """{"outcomes": the outcome rows in the stage's order, "mix", "bits", "bounds", "shards"}
    (`shards`: {(shard, cell): docs, rows, size, tokens}, shard -1 for dropped documents)."""
    labelled = [b for b in core.label_batches(batches, p)]
    labels = pa.Table.from_batches(labelled).select(list(core.NARROW)) if labelled else \
        pa.table({n: pa.array([], t) for n, t in (("cell", pa.string()), ("key", pa.int64()),
                                                  ("size", pa.int64()), ("tokens", pa.int64()))})
    before: dict = {}
    for cell, size in zip(labels.column("cell").to_pylist(), labels.column("size").to_pylist()):
        before[cell] = before.get(cell, 0) + size
    mix = plan.plan_rates(before, p)
    bits = plan.bucket_bits(mix["output_size"], int(p["shard_size"]))
    hist: dict = {}
    for b in core.hist_batches(labels.to_batches(), p, mix["rates"], bits):
        for c, k, v in zip(*(b.column(n).to_pylist() for n in ("cell", "bucket", "size"))):
            cell = hist.setdefault(c, {})
            cell[k] = cell.get(k, 0) + v
    bounds = plan.shard_bounds(hist, int(p["shard_size"]), bits)
    shards: dict = {}
    for b in core.shard_batches(labels.to_batches(), p, mix["rates"], bits, bounds):
        for r in b.to_pylist():
            a = shards.setdefault((r["shard"], r["cell"]), dict.fromkeys(("docs", "rows", "size", "tokens"), 0))
            for k in a:
                a[k] += r[k]
    schema = core.outcome_schema(batches[0].schema) if batches else None
    rows = pa.Table.from_batches(list(core.emit_batches(labelled, p, mix["rates"], bits, bounds, schema)),
                                 schema=schema) if batches else None
    if rows is not None:
        rows = rows.sort_by([(k, "ascending") for k in core.SORT])
    return {"outcomes": rows, "mix": mix, "bits": bits, "bounds": bounds, "shards": shards}

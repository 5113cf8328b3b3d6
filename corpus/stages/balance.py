"""balance: a topic for every document, and sized, mixed Parquet shards in which each
(language, topic) cell has its target share (corpus.balance).

The documents are classified once and kept on the executors' disks with their labels (topic,
score, cell, content key, size). Three light passes over the narrow columns plan the output:
the size of each cell (-> rates, on the driver), the emitted size per cell and position bucket
(-> each cell's shard bounds) and the rows, size and tokens per shard and cell (-> the
manifest). Then the labelled documents are emitted once per copy with their shard as `part`,
shuffled to their shards and sorted by position, and written by the runner:
`RUN_DIR/balance/part-K.parquet` is shard K. `RUN_DIR/balance/_manifest.json` lists the shards (rows, bytes, sha256, tokens, rows
per cell, distance from the overall mix), the rates and the mix before and after; the stage
refuses to commit when a shard's file does not hold the rows planned for it.
"""

from __future__ import annotations

import json
from typing import Mapping

from corpus.stages.base import Stage, StageError, StageResult

NEEDS = "decontaminate"
MANIFEST = "_manifest.json"  # "_": Parquet readers of the folder skip it, as they skip _SUCCESS
FORMAT = "corpus-balance-1"
TOPIC_KEYS = ("taxonomy", "model", "head_chars", "min_score")


def params(cfg: Mapping) -> dict:
    """What the executors need: the balance section and the classifier's settings."""
    return {**cfg["balance"], **{k: cfg["topics"][k] for k in TOPIC_KEYS}}


def check_cells(cfg: Mapping) -> None:
    """Every cell named in `balance.shares` names a topic of the taxonomy (a typo would
    otherwise fix nothing, silently); checked before the run starts."""
    from corpus.topics.taxonomy import load_taxonomy

    p = params(cfg)
    topics = load_taxonomy(p["taxonomy"]).topics
    for cell in p.get("shares") or {}:
        topic = cell.partition("/")[2]
        if topic not in topics:
            raise StageError(f"balance.shares.{cell}: {topic!r} is not a topic of {p['taxonomy']} "
                             f"({', '.join(topics)})")


def body(ctx) -> StageResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from corpus.balance import core, plan
    from corpus.spark import arrow_schema, spark_schema

    p = params(ctx.cfg)
    docs, docs_in = ctx.read(NEEDS)
    labelled_schema = core.labelled_schema(arrow_schema(docs.schema))
    labelled = docs.mapInArrow(lambda b: core.label_batches(b, p), spark_schema(labelled_schema))
    labelled = labelled.persist(StorageLevel.DISK_ONLY)  # classified once, read by every pass
    try:
        labels = labelled.select(*core.NARROW)
        before = {r.cell: (r.size, r.docs, r.tokens) for r in labels.groupBy("cell").agg(
            F.sum("size").alias("size"), F.count(F.lit(1)).alias("docs"),
            F.sum("tokens").alias("tokens")).collect()}
        mix = plan.plan_rates({c: v[0] for c, v in before.items()}, p)
        rates, bits = mix["rates"], plan.bucket_bits(mix["output_size"], int(p["shard_size"]))
        hist = labels.mapInArrow(lambda b: core.hist_batches(b, p, rates, bits),
                                 spark_schema(core.HIST_SCHEMA))
        cells: dict = {}
        for r in hist.groupBy("cell", "bucket").agg(F.sum("size").alias("size")).collect():
            cells.setdefault(r.cell, {})[r.bucket] = r.size
        bounds = plan.shard_bounds(cells, int(p["shard_size"]), bits)
        shards = _per_shard(labels, p, rates, bits, bounds)
        used = sorted({s for s, _ in shards if s >= 0})  # a shard no row falls in has no file: drop it
        bounds = {c: b[used] if used else b[:1] for c, b in bounds.items()}
        renumber = {s: k for k, s in enumerate(used)}
        shards = {(renumber.get(s, s), c): v for (s, c), v in shards.items()}
        schema = core.outcome_schema(arrow_schema(docs.schema))
        outcomes = (labelled.mapInArrow(lambda b: core.emit_batches(b, p, rates, bits, bounds, schema),
                                        spark_schema(schema))
                    .repartition(max(1, len(used)), "part").sortWithinPartitions(*core.SORT)
                    .drop("pos", "key"))
    except BaseException:
        labelled.unpersist()
        raise
    report = _report(p, before, mix, shards)
    return StageResult(outcomes, docs_in=docs_in, report=report,
                       finish=lambda c: _write_manifest(c, report, shards),
                       release=labelled.unpersist)


def _per_shard(labels, p, rates, bits, bounds) -> dict:
    from pyspark.sql import functions as F

    from corpus.balance import core
    from corpus.spark import spark_schema

    rows = (labels.mapInArrow(lambda b: core.shard_batches(b, p, rates, bits, bounds),
                              spark_schema(core.SHARD_SCHEMA))
            .groupBy("shard", "cell").agg(*(F.sum(k).alias(k) for k in ("docs", "rows", "size", "tokens")))
            .collect())
    return {(r.shard, r.cell): {k: r[k] for k in ("docs", "rows", "size", "tokens")} for r in rows}


def _report(p: Mapping, before: Mapping, mix: Mapping, shards: Mapping) -> dict:
    from corpus.balance.plan import mix_summary, split_cell

    after: dict = {}
    for (shard, cell), v in shards.items():
        a = after.setdefault(cell, {"docs_kept": 0, "docs_dropped": 0, "rows": 0, "size": 0, "tokens": 0})
        a["docs_dropped" if shard < 0 else "docs_kept"] += v["docs"]
        if shard >= 0:
            for k in ("rows", "size", "tokens"):
                a[k] += v[k]
    out_size = sum(a["size"] for a in after.values())
    cells = []
    for cell in sorted(before):
        size, docs, tokens = before[cell]
        a = after.get(cell, {})
        lang, topic = split_cell(cell)
        cells.append({"cell": cell, "lang": lang, "topic": topic, "docs": docs, "size_before": size,
                      "tokens_before": tokens, "target_share": mix["shares"].get(cell, 0.0),
                      "planned_share": mix["planned"].get(cell, 0.0), "rate": mix["rates"].get(cell, 0.0),
                      "size_after": a.get("size", 0), "tokens_after": a.get("tokens", 0),
                      "realised_share": a.get("size", 0) / out_size if out_size else 0.0,
                      "repeat_factor": a.get("size", 0) / size if size else 0.0,
                      "docs_kept": a.get("docs_kept", 0), "docs_dropped": a.get("docs_dropped", 0),
                      "rows": a.get("rows", 0)})
    summary = mix_summary({c: before[c][0] for c in before}, mix["shares"], mix["planned"],
                          {c: a["size"] for c, a in after.items()})
    return {"format": FORMAT, "unit": p["unit"], "seed": p["seed"], "alpha": p["alpha"],
            "max_repeat": p["max_repeat"], "languages": p.get("languages") or {},
            "shares": p.get("shares") or {}, "shard_size": p["shard_size"],
            "output_size_asked": mix["output_size"], "size_before": sum(v[0] for v in before.values()),
            "size_after": out_size, "rows": sum(a["rows"] for a in after.values()),
            "ignored_settings": mix["ignored"], **summary, "cells": cells,
            "classifier": {k: p[k] for k in TOPIC_KEYS}}


def _write_manifest(ctx, report: dict, shards: Mapping) -> None:
    """RUN_DIR/balance/_manifest.json; refuses the commit when a shard's file does not hold the
    rows planned for it (an independent count of the emitted rows)."""
    from corpus.balance.plan import total_variation
    from corpus.pipeline import describe_files

    run, stage = ctx.run, ctx.stage
    files = [f for f in describe_files(run, run.staging(stage, "docs"), stage) if f["rows"] is not None]
    overall = {c["cell"]: c["size_after"] for c in report["cells"]}
    listed = []
    for k, f in enumerate(files):
        mine = {c: v for (s, c), v in shards.items() if s == k}
        rows = sum(v["rows"] for v in mine.values())
        if rows and f["rows"] != rows:
            raise StageError(f"balance: {f['path']} holds {f['rows']} rows, {rows} were planned for it")
        listed.append({**f, "tokens": sum(v["tokens"] for v in mine.values()),
                       "size": sum(v["size"] for v in mine.values()),
                       "cells": {c: v["rows"] for c, v in sorted(mine.items())},
                       "tv_from_overall": total_variation({c: v["size"] for c, v in mine.items()}, overall)})
    planned = sum(v["rows"] for (s, _), v in shards.items() if s >= 0)
    if sum(f["rows"] for f in files) != planned:
        raise StageError(f"balance: the shards hold {sum(f['rows'] for f in files)} rows, {planned} were planned")
    report["max_tv_from_overall"] = max((f["tv_from_overall"] for f in listed), default=0.0)
    report["shards"] = listed  # the report (reports/balance.json) and the manifest are the same
    run.write_text(f"{run.staging(stage, 'docs')}/{MANIFEST}",
                   json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def files(cfg) -> list:
    """The taxonomy, the model, and the report beside it: it names every model of an ensemble
    with its sha256, so a retrained member changes the settings too."""
    from corpus.config import project_path

    model = project_path(cfg["topics"]["model"])
    return [project_path(cfg["topics"]["taxonomy"]), model, model.parent / "report.json"]


STAGE = Stage(name="balance", needs=(NEEDS,),
              config=("balance", *(f"topics.{k}" for k in TOPIC_KEYS), "dropped"), body=body,
              files=files, validate=check_cells,
              doc="topic labels, mixture rates and sized, mixed Parquet shards")

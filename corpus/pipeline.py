"""Running stages: each stage yields outcome rows on Spark; this module commits them.

A stage body returns (outcomes, docs in, report): a DataFrame in the outcome schema (kept
rows have a null `reason`), the number of documents it read (None when the outcomes are the
input, as for ingest) and a JSON-able report or None. `run_stage` writes kept rows to
`RUN_DIR/<stage>`, dropped rows to `RUN_DIR/dropped/<stage>`, their counts to the ledger, the
report to `RUN_DIR/reports/<stage>.json`, checks in = kept + dropped, and commits (see
corpus.rundir).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
import yaml

from corpus.inputs import InputFile, list_inputs
from corpus.ledger import format_funnel, funnel, ledger_table
from corpus.rundir import RunDir
from corpus.schema import OUTCOME_SCHEMA
from corpus.spark import spark_schema

class StageError(RuntimeError):
    """A stage that cannot run or whose accounting does not balance."""


def run_id_for(cfg: dict, inputs: list[str]) -> str:
    """A run id derived from what the run does, so reruns of the same work share it."""
    blob = json.dumps({"cfg": cfg, "inputs": sorted(inputs)}, sort_keys=True, default=str)
    return xxhash.xxh64_hexdigest(blob.encode("utf-8"))


# --- stage bodies ----------------------------------------------------------------------------

@dataclass
class StageContext:
    """What a stage body gets: the session, the resolved config, the run, the input files."""

    spark: object
    cfg: dict
    run: RunDir
    files: list[InputFile]

    def previous(self, stage: str, before: str):
        """The committed output of `stage` as a DataFrame, and its row count."""
        entry = self.run.manifest()["stages"].get(stage)
        if entry is None:
            raise StageError(f"{before} needs the {stage} stage; run it first (--stages {stage},{before})")
        return self.spark.read.parquet(self.run.spark_uri(stage)), entry["kept"]


def ingest_outcomes(ctx: StageContext):
    """Every input file read on an executor of its own: one task per file, records streamed."""
    ingest_cfg = ctx.cfg["ingest"]
    batch_rows = int(ingest_cfg.get("batch_rows", 1024))

    def read_files(batches):
        from corpus.ingest.checks import tallied_batches  # outcomes, then a `__tally__` row

        for batch in batches:
            for kind, uri in zip(batch.column("kind").to_pylist(), batch.column("uri").to_pylist()):
                yield from tallied_batches(kind, uri, ingest_cfg, batch_rows)

    files = ctx.files
    tasks = ctx.spark.sparkContext.parallelize([(f.kind, f.uri) for f in files], max(1, len(files)))
    outcomes = ctx.spark.createDataFrame(tasks, "kind string, uri string").mapInArrow(
        read_files, spark_schema(OUTCOME_SCHEMA))
    return outcomes, None, None


def clean_outcomes(ctx: StageContext):
    """Normalization, language id, rules and the quality classifier over the ingested table."""
    from corpus.quality.clean import CLEAN_OUTCOME_SCHEMA, clean_batches

    docs, docs_in = ctx.previous("ingest", "clean")
    clean_cfg = ctx.cfg["clean"]
    outcomes = docs.mapInArrow(lambda batches: clean_batches(batches, clean_cfg),
                               spark_schema(CLEAN_OUTCOME_SCHEMA))
    return outcomes, docs_in, None


def dedup_outcomes(ctx: StageContext):
    """Exact and SimHash near-duplicate removal over the cleaned table."""
    from corpus.dedup.stage import dedup_outcomes_df

    docs, docs_in = ctx.previous("clean", "dedup")
    outcomes, report = dedup_outcomes_df(ctx.spark, docs, docs_in, ctx.cfg["dedup"])
    return outcomes, docs_in, report


def decontaminate_outcomes(ctx: StageContext):
    """Documents sharing an n-gram with a registered evaluation set, dropped or cut."""
    from corpus.decontam.stage import decontaminate_outcomes_df

    docs, docs_in = ctx.previous("dedup", "decontaminate")
    outcomes, report = decontaminate_outcomes_df(ctx.spark, docs, docs_in, ctx.cfg["decontaminate"], ctx.run)
    return outcomes, docs_in, report


STAGES: dict[str, Callable] = {"ingest": ingest_outcomes, "clean": clean_outcomes,
                               "dedup": dedup_outcomes, "decontaminate": decontaminate_outcomes}
STAGE_ORDER = list(STAGES)


# --- committing a stage ----------------------------------------------------------------------

def run_stage(ctx: StageContext, stage: str, run_id: str, force: bool = False) -> bool:
    """Run one stage unless it is committed already; returns whether it ran."""
    run, cfg = ctx.run, ctx.cfg
    if run.committed(stage) and not force:
        print(f"[corpus] {stage}: committed already, skipped (--force reruns it)")
        return False
    for later in STAGE_ORDER[STAGE_ORDER.index(stage):]:  # a rerun makes later stages stale
        run.reset(later)
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    outcomes, docs_in, report = STAGES[stage](ctx)
    # computed once for the counts and both writes; on disk: whole documents would crowd the
    # heap that shuffles and sorts need (the page cache keeps it fast anyway)
    outcomes = outcomes.persist(StorageLevel.DISK_ONLY)
    try:
        if stage == "ingest":  # drops the tally rows; checks tallies and unique ids
            from corpus.ingest.checks import check_ingest
            outcomes = check_ingest(outcomes)
        counts = (outcomes.groupBy("source", "lang", "reason")
                  .agg(F.count(F.lit(1)).alias("docs"), F.sum(F.length("text")).alias("chars"))
                  .collect())
        kept = outcomes.where(F.col("reason").isNull()).drop("reason", "detail")
        kept.write.mode("overwrite").parquet(run.spark_uri(run.staging(stage, "docs")))
        dropped = outcomes.where(F.col("reason").isNotNull())
        if not cfg["dropped"].get("keep_text", True):
            dropped = dropped.withColumn("text", F.lit(""))
        dropped.write.mode("overwrite").parquet(run.spark_uri(run.staging(stage, "dropped")))
        total = outcomes.count()
    finally:
        ctx.spark.catalog.clearCache()  # this stage's persisted data: no later stage reads it
    ledger = ledger_table(run_id, stage, [tuple(r) for r in counts])
    check_balance(stage, total if docs_in is None else docs_in, ledger)
    for name in ("docs", "dropped"):
        run.tidy_parquet_dir(run.staging(stage, name))
    with run.fs.open(run.path(run.staging(stage, "ledger")), "wb") as f:
        pq.write_table(ledger, f)
    if report is not None:
        run.write_text(run.staging(stage, "report"), json.dumps(report, indent=2, ensure_ascii=False))
    entry = {"run_id": run_id, "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
             "docs_in": total, "outputs": {}}
    for name, rel in run.stage_dirs(stage).items():
        entry["outputs"][name] = describe_files(run, run.staging(stage, name), rel)
    entry["kept"] = sum(f["rows"] for f in entry["outputs"]["docs"])
    entry["dropped"] = sum(f["rows"] for f in entry["outputs"]["dropped"])
    run.commit(stage, entry)
    return True


def check_balance(stage: str, docs_in: int, ledger: pa.Table) -> None:
    """in = kept + sum(dropped by reason), or the stage fails before it commits."""
    accounted = sum(ledger.column("docs").to_pylist())
    if accounted != docs_in:
        raise StageError(f"{stage}: {docs_in} documents in, ledger accounts for {accounted}")


def describe_files(run: RunDir, staged: str, final: str) -> list[dict]:
    """Each file of a staged output: its final path, rows, bytes and sha256."""
    out = []
    for rel in run.files(staged):
        h = hashlib.sha256()
        with run.fs.open(run.path(rel), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        rows = None
        if rel.endswith(".parquet"):
            with run.fs.open(run.path(rel), "rb") as f:
                rows = pq.ParquetFile(f).metadata.num_rows
        out.append({"path": final + rel[len(staged):], "rows": rows,
                    "bytes": run.fs.size(run.path(rel)), "sha256": h.hexdigest()})
    return out


# --- the whole run ---------------------------------------------------------------------------

def run_pipeline(run_dir: str, inputs: list[str], cfg: dict, stages: list[str] | None = None,
                 master: str | None = None, force: bool = False) -> list[dict]:
    """Run the configured stages over `inputs` into `run_dir`; returns the funnel."""
    from corpus.spark import get_session

    stages = stages or cfg["run"]["stages"]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise StageError(f"unknown stage(s) {unknown}; available: {list(STAGES)}")
    if "ingest" in stages and not inputs:
        raise StageError("the ingest stage needs --input")
    files = list_inputs(inputs, cfg["ingest"]["cc_prefix"]) if "ingest" in stages else []
    run = RunDir(run_dir)
    run_id = run_id_for(cfg, inputs)
    run.write_text("config.yaml", yaml.safe_dump({"inputs": inputs, **cfg}, sort_keys=True,
                                                 allow_unicode=True))
    ctx = StageContext(get_session(cfg["spark"], master), cfg, run, files)
    for stage in sorted(stages, key=STAGE_ORDER.index):
        run_stage(ctx, stage, run_id, force)
    return read_funnel(run)


def read_funnel(run: RunDir) -> list[dict]:
    """The funnel of a run directory's committed stages, from its ledger files."""
    rows = []
    for stage in run.manifest()["stages"]:
        with run.fs.open(run.path(run.stage_dirs(stage)["ledger"]), "rb") as f:
            rows += pq.read_table(f).to_pylist()
    return funnel(rows, STAGE_ORDER)


def print_funnel(stages: list[dict]) -> None:
    print(format_funnel(stages))

"""The stage contract: what every step of a run declares, gets and returns.

A `Stage` names itself, the stages it reads (`needs`), the configuration sections it owns
(their values, and the bytes of the files `files(cfg)` names, make its settings digest) and a
body. The body gets a `StageContext` and returns a `StageResult`; it never writes committed
output itself: `corpus.pipeline.run_stage` does the staging, accounting and commit for every
stage alike (see docs/architecture.md).

Two kinds of result:
- *document* stages return `outcomes`, a DataFrame in the outcome schema (the document
  columns, `reason` null for kept rows, `detail`, optionally `copies`: how many times a kept
  document is emitted, 1 when absent), or a DataFrame plus `per_batch`, a function from its
  Arrow batches to outcome batches (`schema`) that the runner calls where it writes, so
  documents made in Python are written from Python; and `docs_in`, the documents they read
  (None when the outcomes are the input, as for ingest);
- *artefact* stages (the tokenizer, the token shards) write files under `ctx.staging()` and
  return `outcomes=None`; the runner checksums and commits that folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence


class StageError(RuntimeError):
    """A stage that cannot run, or whose accounting does not balance."""


@dataclass
class StageResult:
    outcomes: object = None          # DataFrame of outcome rows (document stages), or the
    per_batch: Callable | None = None  # DataFrame this maps, on the executors, to outcome batches
    schema: object = None            # the Arrow schema of per_batch's outcome batches
    docs_in: int | None = None       # documents read; None: count the outcomes
    report: Mapping | None = None    # written to RUN_DIR/reports/<stage>.json
    ledger: Sequence[Mapping] | None = None  # artefact stages: rows for corpus.ledger.ledger_table
    check: Callable | None = None    # check(ctx, notes) before the commit; raises StageError
    finish: Callable | None = None   # finish(ctx) after the rows are written and checked: more
                                     # files into the staged output (balance's shard manifest)
    release: Callable | None = None  # release() when the stage is done or failed (unpersist)


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...]
    config: tuple[str, ...]                       # dotted sections it owns, e.g. ("dedup",)
    body: Callable[["StageContext"], StageResult]
    doc: str = ""
    documents: bool = True                        # writes documents (False: an artefact)
    files: Callable[[Mapping], list] = field(default=lambda cfg: [])  # files its settings name
    needs_from: Callable[[Mapping, Mapping], tuple] | None = None  # (cfg, committed) -> needs
    validate: Callable[[Mapping], None] | None = None  # validate(cfg) before anything runs; raises StageError

    def requires(self, cfg: Mapping, committed: Mapping) -> tuple[str, ...]:
        """The stages this one reads under `cfg`, given the committed stages (manifest)."""
        return tuple(self.needs_from(cfg, committed)) if self.needs_from else self.needs


@dataclass
class StageContext:
    """What a body gets: the session, the resolved config, the run directory, the input files
    and the stage it runs for."""

    spark: object
    cfg: dict
    run: object
    files: list
    stage: str = ""
    progress: object = None  # corpus.progress.Progress: live counters for the writing tasks

    def read(self, stage: str):
        """The committed documents of a needed stage as a DataFrame, and their count."""
        entry = self.run.manifest()["stages"].get(stage)
        if entry is None:  # the planner checks this first; a body asking for more is a bug
            raise StageError(f"{self.stage} needs the {stage} stage, which is not committed")
        if getattr(self.run, "spark_reads", True):
            return self.spark.read.parquet(self.run.spark_uri(stage)), entry["kept"]
        files = [f["path"] for f in entry["outputs"]["docs"] if f["path"].endswith(".parquet")]
        return self.run.read_parquet(self.spark, files), entry["kept"]  # the manifest's files

    def staging(self) -> str:
        """Where an artefact stage writes its files (relative to the run directory)."""
        return self.run.staging(self.stage, "docs")

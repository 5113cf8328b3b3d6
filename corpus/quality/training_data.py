"""Training documents of the quality classifier: `KIND:URI` specs through the ingest readers
(as `corpus run` takes them), or `dropped:RUN_DIR[#reason,...]` from a run's dropped table
(RUN_DIR/dropped/<quality.train.dropped_stage>/*.parquet, only those drop reasons when given)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

from corpus.quality.params import train_params


@dataclass(frozen=True)
class Example:
    """A training document: `label` "hq" or "lq"; `group` keeps a document's pieces together."""
    id: str
    label: str
    text: str
    lang: str | None = None
    group: str | None = None


def read_spec_documents(spec: str, cfg: Mapping, params: Mapping | None = None,
                        file_counts: dict | None = None) -> Iterator[dict]:
    """Kept documents (dicts with id, text, lang, ...) of one spec: `KIND:URI` through the
    ingest readers, or `dropped:RUN_DIR[#reason,...]` from a run's dropped table."""
    p = {**train_params(cfg), **(params or {})}
    if spec.startswith("dropped:"):
        yield from read_dropped(spec[len("dropped:"):], p["dropped_stage"], file_counts)
        return
    from corpus.ingest import read_input
    from corpus.inputs import list_inputs

    ingest_cfg = cfg.get("ingest", {})
    for f in list_inputs([spec], ingest_cfg.get("cc_prefix", "https://data.commoncrawl.org/")):
        kept = skipped = 0
        for row in read_input(f.kind, f.uri, ingest_cfg):
            if row["reason"] is None and row["text"]:
                kept += 1
                yield row
            else:
                skipped += 1
        if file_counts is not None:
            file_counts[f"{f.kind}:{_shown(f.uri)}"] = {"docs": kept, "skipped": skipped}


def _shown(uri: str) -> str:
    """A local path relative to the working directory when it lies under it (so a report
    does not depend on where the repository is checked out)."""
    if "://" in uri or not os.path.isabs(uri):
        return uri
    rel = os.path.relpath(uri)
    return uri if rel.startswith("..") else rel


def read_dropped(target: str, stage: str = "clean", file_counts: dict | None = None) -> Iterator[dict]:
    """Rows of RUN_DIR/dropped/<stage>/*.parquet with non-empty text; `RUN_DIR#r1,r2` keeps
    only rows dropped for those reasons."""
    import pyarrow.parquet as pq

    from corpus.inputs import InputError
    from corpus.rundir import RunDir

    run_dir, _, reasons_part = target.partition("#")
    reasons = {r.strip() for r in reasons_part.split(",") if r.strip()} or None
    run = RunDir(run_dir)
    folder = run.path("dropped", stage)
    files = sorted(f for f in (run.fs.find(folder) if run.fs.isdir(folder) else [])
                   if f.endswith(".parquet")
                   and not posixpath.basename(f).startswith((".", "_")))
    if not files:
        raise InputError(f"input 'dropped:{target}': no Parquet files in {folder}")
    for path in files:
        kept = skipped = 0
        with run.fs.open(path, "rb") as fh:
            pf = pq.ParquetFile(fh)
            names = set(pf.schema_arrow.names)
            if "text" not in names:
                raise InputError(f"{path}: no `text` column")
            cols = [c for c in ("id", "source", "url", "lang", "text", "reason") if c in names]
            for batch in pf.iter_batches(batch_size=1024, columns=cols):
                for row in batch.to_pylist():
                    if not row.get("text") or (reasons and row.get("reason") not in reasons):
                        skipped += 1
                        continue
                    kept += 1
                    row.setdefault("id", f"{path}#{kept}")
                    yield row
        if file_counts is not None:
            file_counts[f"dropped:{_shown(path)}"] = {"docs": kept, "skipped": skipped}


def spec_examples(specs: Sequence[str], label: str, cfg: Mapping, p: Mapping,
                  file_counts: dict) -> Iterator[Example]:
    """Examples labelled `label` of the documents of `specs` (counts per file into `file_counts`)."""
    for spec in specs:
        for row in read_spec_documents(spec, cfg, p, file_counts):
            yield Example(id=str(row.get("id")), label=label, text=row["text"], lang=row.get("lang"))

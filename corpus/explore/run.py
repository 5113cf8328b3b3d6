"""A run directory's tables for the notebooks: the funnel, a stage's documents, its report,
the configuration a run was made with. Nothing starts Spark."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from corpus.explore.signals import SIGNAL_PREFIX, signals_frame
from corpus.rundir import RunDir

_INT_AS_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}.get  # no float64 (lossy)


def as_run(run: str | Path | RunDir) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir(str(run))


DEMO_RUN_DIR = "runs/sample"  # what scripts/demo.sh writes, relative to the checkout


def default_run_dir(cwd: str | Path | None = None, repo: str | Path | None = None) -> str:
    """The run directory a notebook inspects: $CORPUS_RUN_DIR when set, else the demo's run
    directory (runs/sample, written by `bash scripts/demo.sh`), looked for under the working
    directory, its parent (a notebook's kernel starts in notebooks/) and the checkout corpus
    is imported from. FileNotFoundError, saying what to do, when there is none."""
    import os

    env = os.environ.get("CORPUS_RUN_DIR")
    if env:
        return env
    cwd = Path(cwd or Path.cwd())
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[2]
    candidates = [cwd / DEMO_RUN_DIR, cwd.parent / DEMO_RUN_DIR, repo / DEMO_RUN_DIR]
    for c in candidates:
        if (c / "manifest.json").is_file():
            return str(c)
    raise FileNotFoundError(
        f"CORPUS_RUN_DIR is not set and there is no demo run directory ({DEMO_RUN_DIR}, looked in "
        f"{', '.join(str(c.parent.parent) for c in dict.fromkeys(candidates))}): run `bash scripts/demo.sh` "
        "(it writes runs/sample) or set CORPUS_RUN_DIR to a run directory")


def load_funnel(run: str | Path | RunDir) -> list[dict]:
    """The funnel of a run directory (corpus.pipeline.read_funnel): one dict per stage."""
    from corpus.pipeline import read_funnel

    return read_funnel(as_run(run))


def committed_stages(run: str | Path | RunDir) -> list[str]:
    """The committed stages of a run, in pipeline order."""
    from corpus.stages import STAGES

    known = list(STAGES)
    stages = list(as_run(run).manifest()["stages"])
    return sorted(stages, key=lambda s: (known.index(s) if s in known else len(known), s))


def run_config(run: str | Path | RunDir) -> dict:
    """The resolved configuration a run was made with (RUN_DIR/config.yaml), or {}."""
    r = as_run(run)
    p = r.path("config.yaml")
    if not r.fs.exists(p):
        return {}
    with r.fs.open(p, "r") as f:
        return yaml.safe_load(f) or {}


def load_report(run: str | Path | RunDir, stage: str = "dedup") -> dict:
    """A stage's report (RUN_DIR/reports/<stage>.json); FileNotFoundError when it has none."""
    r = as_run(run)
    p = r.path(r.stage_dirs(stage).get("report", f"reports/{stage}.json"))
    if not r.fs.exists(p):
        raise FileNotFoundError(f"{p}: no report for stage {stage!r} "
                                f"(committed: {committed_stages(r) or 'none'})")
    with r.fs.open(p, "r") as f:
        return json.load(f)


def read_table(run: str | Path | RunDir, rel: str, columns: list[str] | None = None) -> pa.Table | None:
    """All Parquet files under RUN_DIR/rel as one table (None when there are none)."""
    r = as_run(run)
    files = [f for f in r.files(rel) if f.endswith(".parquet")]
    tables = []
    for rel_file in files:
        with r.fs.open(r.path(rel_file), "rb") as fh:
            pf = pq.ParquetFile(fh)
            cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
            tables.append(pf.read(columns=cols))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default")


def load_stage(run: str | Path | RunDir, stage: str, columns: list[str] | None = None,
               limit: int | None = None, seed: int = 0, expand_signals: bool = True) -> pd.DataFrame:
    """Kept and dropped documents of a stage in one DataFrame with a `status` column
    ("kept" / "dropped"); `reason` and `detail` are null for kept documents.

    `columns` restricts what is read (status, reason and detail always come); `limit` keeps a
    seeded random sample of at most that many rows of each status (taken after reading; pass
    `columns` without "text" to keep big runs small). With `expand_signals`, the
    `signals` map becomes one float column per signal named `sig.<name>` (NaN where a document
    has no such signal).
    """
    r = as_run(run)
    dirs = r.stage_dirs(stage)
    want = None if columns is None else list(dict.fromkeys([*columns, "reason", "detail"]))
    frames = []
    for status, rel in (("kept", dirs["docs"]), ("dropped", dirs["dropped"])):
        t = read_table(r, rel, want)
        if t is None:
            continue
        if limit is not None and t.num_rows > limit:
            idx = np.sort(np.random.default_rng(seed).choice(t.num_rows, size=limit, replace=False))
            t = t.take(pa.array(idx))
        for name in ("reason", "detail"):
            if name not in t.column_names:
                t = t.append_column(name, pa.nulls(t.num_rows, pa.string()))
        signals = None
        if "signals" in t.column_names:
            signals = t.column("signals")
            t = t.drop_columns(["signals"])
        df = t.to_pandas(maps_as_pydicts="lossy") if _has_map(t) else t.to_pandas()
        df.insert(0, "status", status)
        if signals is not None:
            if expand_signals:
                df = pd.concat([df, signals_frame(signals, index=df.index)], axis=1)
            else:
                df["signals"] = [dict(m) if m is not None else {} for m in signals.to_pylist()]
        frames.append(df)
    if not frames:
        raise FileNotFoundError(f"{r.uri}: no tables for stage {stage!r} "
                                f"(committed: {committed_stages(r) or 'none'})")
    docs = pd.concat(frames, ignore_index=True)
    sig = sorted(c for c in docs.columns if c.startswith(SIGNAL_PREFIX))
    return docs[[c for c in docs.columns if c not in sig] + sig]


def _has_map(t: pa.Table) -> bool:
    return any(pa.types.is_map(f.type) for f in t.schema)


def read_rows(run: RunDir, rel: str, columns: list[str], ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Columns of the Parquet files under RUN_DIR/rel, only rows whose id is in `ids` (file by
    file, so a big kept table is never read whole); integer columns stay exact (Int64)."""
    import pyarrow.compute as pc

    want = None if ids is None else pa.array(sorted(set(ids)), pa.string())
    parts = []
    for rel_file in (f for f in run.files(rel) if f.endswith(".parquet")):
        with run.fs.open(run.path(rel_file), "rb") as fh:
            pf = pq.ParquetFile(fh)
            cols = [c for c in columns if c in pf.schema_arrow.names]
            if want is not None:
                if len(want) == 0:
                    continue
                t = pf.read(columns=list(dict.fromkeys(["id", *cols])))
                t = t.filter(pc.is_in(t.column("id"), value_set=want)).select(cols)
            else:
                t = pf.read(columns=cols)
        parts.append(t)
    if not parts:
        return pd.DataFrame(columns=columns)
    df = pa.concat_tables(parts, promote_options="default").to_pandas(types_mapper=_INT_AS_NULLABLE)
    for c in columns:
        if c not in df.columns:
            df[c] = None
    return df[columns]

"""What the report shows, gathered from a run directory with pyarrow (no Spark): the funnel,
drop reasons with example documents, the source and language mix, the quality signals with
the rules' thresholds, the quality scores, dedup clusters, decontamination hits, the topic mix
and shards, the configuration and the manifest's digests.

Tables are read in bounded samples: at most `Limits.scan_rows` rows of a dropped table's small
columns are scanned for examples, at most `Limits.signal_rows` rows per status for the signal
histograms (whole row groups picked by a seeded draw, then a seeded subsample), and only the
row groups holding the chosen examples are read for their texts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from corpus.config import ConfigError
from corpus.explore.funnel import drops_per_rule, funnel_frames
from corpus.explore.run import as_run, committed_stages, load_funnel, load_report, run_config
from corpus.explore.samples import preview
from corpus.explore.signals import main_signals, score_histogram, signal_histogram, signals_frame
from corpus.explore.thresholds import rule_thresholds, rules_dir_for
from corpus.rundir import RunDir
from corpus.stages.base import StageError

EXAMPLE_COLUMNS = ["id", "reason", "detail", "source", "lang", "url", "locator"]


class ReportError(StageError):
    """A run directory the report cannot be made from (missing, nothing committed), or no CJK
    font to draw with: one line, exit status 2."""


@dataclass
class Limits:
    """How much of a run the report reads."""
    examples: int = 3            # example documents per drop reason
    preview_chars: int = 240     # characters of text shown per example
    scan_rows: int = 200_000     # rows of a dropped table scanned for examples
    signal_rows: int = 50_000    # rows per status read for the signal histograms and scores
    signals: int = 8             # signal histograms
    seed: int = 0


@dataclass
class StageDrops:
    stage: str
    reasons: pd.DataFrame                     # reason, docs, chars, share_of_in (the ledger's counts)
    examples: pd.DataFrame                    # EXAMPLE_COLUMNS + chars, preview
    scanned: int = 0                          # dropped rows scanned for the examples
    total: int = 0                            # dropped rows in the table


@dataclass
class Signals:
    stage: str | None = None
    docs: int = 0                             # documents in the sample (kept + dropped)
    sampled: bool = False                     # fewer than all documents were read
    histograms: list = field(default_factory=list)    # (hist, thresholds)
    score: dict | None = None                 # score_histogram of quality_score, or None
    score_threshold: float | None = None
    score_by_source: pd.DataFrame | None = None
    note: str = ""


def open_run(run_dir: str | Path) -> RunDir:
    """The run directory, or ReportError when it does not exist or has nothing committed."""
    try:
        run = as_run(str(run_dir))
        exists = run.fs.exists(run.path(""))
        has_manifest = exists and run.fs.exists(run.path("manifest.json"))
    except (OSError, ValueError) as e:
        raise ReportError(f"{run_dir}: cannot open the run directory ({e})") from e
    if not exists:
        raise ReportError(f"{run_dir}: no such run directory (make one with `corpus run --output {run_dir} "
                          "...` or `bash scripts/demo.sh`, which writes runs/sample)")
    if not has_manifest:
        raise ReportError(f"{run_dir}: no committed stage (no manifest.json): run `corpus run --output "
                          f"{run_dir} ...` first")
    if not run.manifest().get("stages"):
        raise ReportError(f"{run_dir}: manifest.json lists no committed stage")
    return run


# --- reading bounded parts of a stage's tables ----------------------------------------------------

def stage_files(run: RunDir, stage: str, kind: str) -> list[str]:
    """Relative paths of a committed stage's Parquet files of one kind ("docs" or "dropped"):
    those its manifest entry lists, else the files in its folder."""
    entry = run.manifest()["stages"].get(stage) or {}
    listed = (entry.get("outputs") or {}).get(kind)
    if isinstance(listed, list) and listed and all(isinstance(f, dict) and "path" in f for f in listed):
        return [f["path"] for f in listed if f["path"].endswith(".parquet")]
    return [f for f in run.files(run.stage_dirs(stage)[kind]) if f.endswith(".parquet")]


def _open(run: RunDir, rel: str) -> pq.ParquetFile:
    return pq.ParquetFile(run.fs.open(run.path(rel), "rb"))


def _key(seed: int, value: str) -> str:
    return hashlib.blake2b(f"{seed}:{value}".encode(), digest_size=8).hexdigest()


def drop_examples(run: RunDir, stage: str, n: int, seed: int = 0, scan_rows: int = 200_000,
                  preview_chars: int = 300) -> tuple[pd.DataFrame, int, int]:
    """Up to `n` dropped documents per reason of a stage: a seeded choice (smallest hash of
    seed and id) among the first `scan_rows` rows of its dropped table, with a text preview.
    Returns (examples, rows scanned, rows in the table)."""
    cols = EXAMPLE_COLUMNS + ["chars", "preview"]
    picks: dict[str, list[tuple]] = {}
    scanned = total = 0
    files = stage_files(run, stage, "dropped")
    for fi, rel in enumerate(files):
        pf = _open(run, rel)
        total += pf.metadata.num_rows
        names = [c for c in EXAMPLE_COLUMNS if c in pf.schema_arrow.names]
        if "reason" not in names or "id" not in names:
            continue
        for rg in range(pf.metadata.num_row_groups):
            if scanned >= scan_rows:
                break
            t = pf.read_row_group(rg, columns=names)
            rows = t.slice(0, scan_rows - scanned).to_pylist()
            for i, row in enumerate(rows):
                reason = row.get("reason") or "(none)"
                cand = picks.setdefault(reason, [])
                cand.append((_key(seed, str(row["id"])), fi, rg, i, row))
                if len(cand) > 4 * n:
                    cand.sort(key=lambda c: c[0])
                    del cand[n:]
            scanned += len(rows)
    chosen = [c for reason in picks for c in sorted(picks[reason], key=lambda c: c[0])[:n]]
    texts: dict[tuple, str | None] = {}
    by_group: dict[tuple, list[int]] = {}
    for _, fi, rg, i, _row in chosen:
        by_group.setdefault((fi, rg), []).append(i)
    for (fi, rg), idx in by_group.items():
        pf = _open(run, files[fi])
        if "text" not in pf.schema_arrow.names:
            continue
        col = pf.read_row_group(rg, columns=["text"]).column("text")
        for i in idx:
            texts[(fi, rg, i)] = col[i].as_py()
    rows = []
    for _, fi, rg, i, row in chosen:
        text = texts.get((fi, rg, i))
        rows.append({**{c: row.get(c) for c in EXAMPLE_COLUMNS}, "chars": None if text is None else len(text),
                     "preview": preview(text, preview_chars)})
    df = pd.DataFrame(rows, columns=cols)
    return df, scanned, total


def sample_stage(run: RunDir, stage: str, columns: list[str], limit: int, seed: int = 0) -> tuple[pd.DataFrame, bool]:
    """At most `limit` rows per status (kept, dropped) of a stage's tables, `columns` only (and
    reason): whole row groups in a seeded order until `limit` rows are read, then a seeded
    subsample. Returns (frame with a `status` column, whether rows were left out)."""
    frames, sampled = [], False
    rng = np.random.default_rng(seed)
    for status, kind in (("kept", "docs"), ("dropped", "dropped")):
        groups = []
        for rel in stage_files(run, stage, kind):
            pf = _open(run, rel)
            groups += [(rel, rg, pf.metadata.row_group(rg).num_rows) for rg in range(pf.metadata.num_row_groups)]
        total = sum(g[2] for g in groups)
        order = rng.permutation(len(groups)) if total > limit else range(len(groups))
        tables, got = [], 0
        for j in order:
            if got >= limit:
                break
            rel, rg, rows = groups[j]
            pf = _open(run, rel)
            want = [c for c in dict.fromkeys([*columns, "reason"]) if c in pf.schema_arrow.names]
            tables.append(pf.read_row_group(rg, columns=want))
            got += rows
        if not tables:
            continue
        t = pa.concat_tables(tables, promote_options="default")
        if t.num_rows > limit:
            t = t.take(pa.array(np.sort(rng.choice(t.num_rows, size=limit, replace=False))))
        sampled = sampled or t.num_rows < total
        signals = None
        if "signals" in t.column_names:
            signals = t.column("signals")
            t = t.drop_columns(["signals"])
        df = t.to_pandas()
        df.insert(0, "status", status)
        if signals is not None:
            df = pd.concat([df, signals_frame(signals, index=df.index)], axis=1)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["status"]), False
    return pd.concat(frames, ignore_index=True), sampled


# --- the sections ------------------------------------------------------------------------------

def stage_drops(run: RunDir, funnel: list[dict], limits: Limits) -> list[StageDrops]:
    out = []
    for s in funnel:
        reasons = drops_per_rule(funnel, s["stage"])
        if not len(reasons) or s["stage"] not in run.manifest()["stages"]:
            out.append(StageDrops(s["stage"], reasons, pd.DataFrame(columns=EXAMPLE_COLUMNS + ["chars", "preview"])))
            continue
        examples, scanned, total = drop_examples(run, s["stage"], limits.examples, limits.seed, limits.scan_rows,
                                                 limits.preview_chars)
        order = {r: i for i, r in enumerate(reasons["reason"])}
        examples = examples.assign(_o=examples["reason"].map(order).fillna(len(order))).sort_values(
            ["_o", "id"], kind="stable").drop(columns="_o").reset_index(drop=True)
        out.append(StageDrops(s["stage"], reasons, examples, scanned, total))
    return out


def mix_tables(funnel: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kept documents and characters per stage and source, per stage and language (the
    ledger's exact counts), with their shares of the stage's kept documents."""
    groups = funnel_frames(funnel)[1]
    out = []
    for key in ("source", "lang"):
        g = groups.groupby(["stage", key], sort=False)[["in_docs", "kept_docs", "kept_chars"]].sum().reset_index()
        kept = g.groupby("stage", sort=False)["kept_docs"].transform("sum")
        g["kept_share"] = (g["kept_docs"] / kept.where(kept > 0)).fillna(0.0)
        out.append(g)
    return out[0], out[1]


def signals_section(run: RunDir, cfg: dict, limits: Limits) -> Signals:
    """Histograms of the per-document signals the clean stage stores (kept vs dropped, on
    a bounded sample) with the thresholds the rule sets put on them, and the quality scores."""
    stages = committed_stages(run)
    stage = "clean" if "clean" in stages else None
    if stage is None:
        return Signals(note="the clean stage is not committed: no quality signals to show")
    cols = ["id", "source", "lang", "signals", "quality_score"]
    docs, sampled = sample_stage(run, stage, cols, limits.signal_rows, limits.seed)
    out = Signals(stage=stage, docs=len(docs), sampled=sampled)
    if docs.empty:
        out.note = f"stage {stage} has no documents"
        return out
    rules = rules_dir_for(cfg)
    try:
        rules_ok = rules.is_dir()
    except OSError:
        rules_ok = False
    names = main_signals(docs, rules if rules_ok else None, top=limits.signals)
    if not names:
        out.note = f"stage {stage} recorded no per-document signals"
    for sig in names:
        marks = rule_thresholds(sig, rules) if rules_ok else []
        hist = signal_histogram(docs, sig, marks=[m["value"] for m in marks])
        out.histograms.append((hist, marks))
    if "quality_score" in docs and docs["quality_score"].notna().any():
        out.score = score_histogram(docs)
        out.score_threshold = ((cfg.get("clean") or {}).get("classifier") or {}).get("threshold")
        scored = docs[docs["quality_score"].notna()]
        out.score_by_source = (scored.groupby(["source", "status"])["quality_score"]
                               .agg(["count", "mean", "median", "min", "max"]).reset_index())
    return out


def manifest_table(run: RunDir, max_files: int = 12) -> pd.DataFrame:
    """One row per committed stage and output file: commit, committed_at, settings digest, path,
    rows, bytes, sha256 (at most `max_files` files of a kind per stage, then a count)."""
    stages = run.manifest()["stages"]
    rows = []
    for stage in committed_stages(run):
        e = stages[stage]
        base = {"stage": stage, "commit": e.get("commit"), "committed_at": e.get("committed_at"),
                "settings_digest": (e.get("settings_digest") or "")[:16]}
        outputs = e.get("outputs") or {}
        for kind, files in outputs.items():
            files = files if isinstance(files, list) else [files]
            for f in files[:max_files]:
                if isinstance(f, dict):
                    rows.append({**base, "kind": kind, "path": f.get("path"), "rows": f.get("rows"),
                                 "bytes": f.get("bytes"), "sha256": f.get("sha256")})
            if len(files) > max_files:
                rows.append({**base, "kind": kind, "path": f"… {len(files) - max_files} more files",
                             "rows": None, "bytes": None, "sha256": None})
        if not outputs:
            rows.append({**base, "kind": "", "path": "", "rows": None, "bytes": None, "sha256": None})
    return pd.DataFrame(rows, columns=["stage", "commit", "committed_at", "settings_digest", "kind", "path",
                                       "rows", "bytes", "sha256"])


def optional_report(run: RunDir, stage: str) -> dict | None:
    if stage not in run.manifest()["stages"]:
        return None
    try:
        return load_report(run, stage)
    except FileNotFoundError:
        return None


def balance_manifest(run: RunDir) -> dict | None:
    from corpus.explore.topics import load_manifest

    if "balance" not in run.manifest()["stages"]:
        return None
    try:
        return load_manifest(run)
    except FileNotFoundError:
        return None


def config_text(run: RunDir) -> str:
    p = run.path("config.yaml")
    if not run.fs.exists(p):
        return ""
    with run.fs.open(p, "r") as f:
        return f.read()


def gather(run_dir: str | Path, limits: Limits | None = None) -> dict:
    """Everything the report shows, as plain data and DataFrames."""
    limits = limits or Limits()
    run = open_run(run_dir)
    try:
        cfg = run_config(run)
    except Exception as e:  # noqa: BLE001 - a config.yaml that does not parse: report without it
        raise ConfigError(f"{run.path('config.yaml')}: cannot read the run's configuration ({e})") from e
    funnel = load_funnel(run)
    summary, _, _ = funnel_frames(funnel)
    sources, langs = mix_tables(funnel)
    return {
        "run": run, "run_dir": str(run_dir), "limits": limits, "config": cfg, "config_text": config_text(run),
        "stages": committed_stages(run), "funnel": funnel, "summary": summary,
        "drops": stage_drops(run, funnel, limits), "sources": sources, "langs": langs,
        "signals": signals_section(run, cfg, limits),
        "dedup": optional_report(run, "dedup"), "decontaminate": optional_report(run, "decontaminate"),
        "balance": balance_manifest(run), "manifest": manifest_table(run),
    }

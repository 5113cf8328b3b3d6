"""Running stages: plan which to run, run each body, commit what it returns.

Every stage is a `corpus.stages.Stage`; nothing here knows one stage from another. For a
document stage `run_stage` writes kept rows to `RUN_DIR/<stage>`, dropped rows to
`RUN_DIR/dropped/<stage>`, their counts to the ledger and the report to
`RUN_DIR/reports/<stage>.json`, checks in = kept + dropped, and commits (corpus.rundir). For
an artefact stage it commits the folder the body wrote. Each manifest entry records the
settings the stage ran with (its config sections and the digest of the files they name) and
the commits of the stages it read, so a changed setting or a rerun upstream is seen, and the
stage's wall time in seconds.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Mapping

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
import yaml

from corpus.inputs import list_inputs
from corpus.ledger import KEY, format_funnel, funnel, ledger_table
from corpus.progress import Progress
from corpus.rundir import RunDir
from corpus.stages import STAGES, StageContext, StageError, order

__all__ = ["StageError", "run_pipeline", "run_stage", "read_funnel", "print_funnel"]


def run_id_for(cfg: dict, inputs: list[str]) -> str:
    """A run id derived from what the run does, so reruns of the same work share it."""
    blob = json.dumps({"cfg": cfg, "inputs": sorted(inputs)}, sort_keys=True, default=str)
    return xxhash.xxh64_hexdigest(blob.encode("utf-8"))


# --- settings and freshness ------------------------------------------------------------------

def settings_of(stage: str, view: Mapping) -> dict:
    """The config sections a stage owns, by dotted name, from the resolved config view."""
    out = {}
    for section in STAGES[stage].config:
        node = view
        for key in section.split("."):
            node = node.get(key) if isinstance(node, Mapping) else None
        out[section] = node
    return out


def file_digests(stage: str, cfg: Mapping) -> dict:
    """sha256 of each file the stage's settings name (rule files, models, registries)."""
    from corpus.config import PROJECT_DIR

    out = {}
    for p in STAGES[stage].files(cfg):
        p = Path(p)
        name = str(p.relative_to(PROJECT_DIR)) if p.is_relative_to(PROJECT_DIR) else str(p)
        out[name] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
    return out


def settings_digest(settings: Mapping, files: Mapping) -> str:
    blob = json.dumps({"settings": settings, "files": files}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def changed_settings(entry: Mapping, settings: Mapping, files: Mapping, most: int = 3) -> str | None:
    """What differs between a committed entry's settings and these, for people; None if equal."""
    if entry.get("settings_digest") == settings_digest(settings, files):
        return None
    if "settings" not in entry:
        return "committed by an older version (no settings recorded)"
    old, new = _flat(entry["settings"]), _flat(settings)
    diffs = [f"{k}: {_show(old.get(k))} -> {_show(new.get(k))}"
             for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    was = entry.get("files", {})
    diffs += [f"{name} changed" for name in sorted(set(was) | set(files)) if was.get(name) != files.get(name)]
    more = f" and {len(diffs) - most} more" if len(diffs) > most else ""
    return "; ".join(diffs[:most]) + more


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, Mapping) and node:
        out = {}
        for k, v in node.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: node}


def _show(v) -> str:
    return "(unset)" if v is None else json.dumps(v, ensure_ascii=False, default=str)


def staleness(stage: str, stages: Mapping) -> str | None:
    """Why a committed stage no longer follows from the stages it read; None when it does."""
    for need, commit in stages[stage].get("upstream", {}).items():
        if need not in stages:
            return f"{need} is no longer committed"
        if stages[need].get("commit") != commit:
            return f"{need} was rerun after it"
        why = staleness(need, stages)
        if why:
            return f"{need} is stale ({why})"
    return None


# --- committing a stage ----------------------------------------------------------------------

def run_stage(ctx: StageContext, stage: str, run_id: str, view: Mapping) -> None:
    """Run one stage's body and commit what it returns (the caller decided it must run)."""
    run = ctx.run
    ctx.stage = stage
    try:
        run.reset(stage)  # a dead attempt's staged files go first
        committed = run.manifest()["stages"]
        needs = STAGES[stage].requires(ctx.cfg, committed)
        _run_and_commit(ctx, stage, run_id, view, committed, needs)
    except BaseException as e:
        try:
            run.discard(stage)
        except OSError:  # a full or read-only disk may refuse even that; the next run resets
            pass
        why = storage_problem(e)
        if why:
            raise StageError(f"{stage}: cannot write the run directory {run.uri}: {why}; nothing "
                             f"of {stage} was committed (stages committed before it are kept: "
                             "free space or fix the permissions, then run the same command again)") from e
        raise


_STORAGE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                   errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}


def storage_problem(e: BaseException) -> str | None:
    """What is wrong with the disk, when `e` (on the driver, or an executor's error that Spark
    passed on as text) comes from a full, read-only or forbidden file system; else None."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _STORAGE_ERRNOS:
            return _STORAGE_ERRNOS[e.errno]
        text = str(e)
        for code, why in _STORAGE_ERRNOS.items():
            if f"[Errno {code}]" in text or os.strerror(code) in text:
                return why
        e = e.__cause__ or e.__context__
    return None


def _run_and_commit(ctx, stage, run_id, view, committed, needs) -> None:
    run, started = ctx.run, time.monotonic()
    result = STAGES[stage].body(ctx)
    try:
        _commit_result(ctx, stage, run_id, view, committed, needs, result, started)
    finally:
        if result.release:
            result.release()


def _commit_result(ctx, stage, run_id, view, committed, needs, result, started) -> None:
    run = ctx.run
    entry = {"run_id": run_id, "committed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
             "settings": settings_of(stage, view), "files": file_digests(stage, ctx.cfg),
             "upstream": {n: committed[n].get("commit") for n in needs}, "outputs": {}}
    entry["settings_digest"] = settings_digest(entry["settings"], entry["files"])
    if result.outcomes is not None:
        entry.update(_write_documents(ctx, stage, run_id, result))
    elif result.ledger is not None:
        _write_ledger(run, stage, ledger_table(run_id, stage, result.ledger))
    if result.report is not None:
        run.write_text(run.staging(stage, "report"),
                       json.dumps(result.report, indent=2, ensure_ascii=False))
    for name, rel in run.stage_dirs(stage).items():
        if run.fs.exists(run.path(run.staging(stage, name))):
            entry["outputs"][name] = describe_files(run, run.staging(stage, name), rel)
    if result.outcomes is not None:
        entry["kept"] = sum(f["rows"] or 0 for f in entry["outputs"]["docs"])  # rows: copies included
        entry["dropped"] = sum(f["rows"] or 0 for f in entry["outputs"]["dropped"])
    entry["seconds"] = round(time.monotonic() - started, 3)
    entry["commit"] = xxhash.xxh64_hexdigest(
        f"{stage}\0{entry['committed_at']}\0{entry['settings_digest']}".encode())
    run.commit(stage, entry)


TALLIES = ("docs", "chars", "chars_kept", "copies")  # summed per (source, lang, reason)


def _write_documents(ctx: StageContext, stage: str, run_id: str, result) -> dict:
    """Kept and dropped rows and the ledger of a document stage, staged; the counts checked.
    The rows are written by the executors (corpus.outcomes) in the pass that makes them."""
    from corpus.outcomes import SUMMARY_SCHEMA, dropped_schema, kept_schema, write_outcomes
    from corpus.spark import arrow_schema, spark_schema

    run, uri, per_batch = ctx.run, ctx.run.uri, result.per_batch
    blank = not ctx.cfg["dropped"]["keep_text"]
    schema = result.schema or arrow_schema(result.outcomes.schema)

    docs_done, chars_done = ctx.progress.counters() if ctx.progress else (None, None)

    def task(batches):
        from pyspark import TaskContext

        part, out = TaskContext.get().partitionId(), RunDir(uri)
        for summary in write_outcomes(per_batch(batches) if per_batch else batches, part,
                                      lambda name, p: _part_opener(out, stage, name, p),
                                      blank_dropped_text=blank):
            if docs_done is not None:  # live progress: Spark sends these when the task ends
                docs_done.add(sum(summary.column("docs").to_pylist()))
                chars_done.add(sum(summary.column("chars").to_pylist()))
            yield summary

    summary = result.outcomes.mapInArrow(task, spark_schema(SUMMARY_SCHEMA)).collect()
    counts: dict = {}
    for r in (r for r in summary if r.note is None):
        c = counts.setdefault((r.source, r.lang, r.reason), dict.fromkeys(TALLIES, 0))
        for k in TALLIES:
            c[k] += getattr(r, k)
    ledger = ledger_table(run_id, stage, [dict(zip(KEY, k), **v) for k, v in counts.items()])
    total = sum(c["docs"] for c in counts.values())
    check_balance(stage, total if result.docs_in is None else result.docs_in, ledger)
    for name, sch in (("docs", kept_schema(schema)), ("dropped", dropped_schema(schema))):
        if not run.tidy_parquet_dir(run.staging(stage, name)):  # nothing of this kind: an empty file
            _empty_part(run, stage, name, sch)
    if result.check:
        result.check(ctx, [r.note for r in summary if r.note is not None])
    if result.finish:
        result.finish(ctx)
    _write_ledger(run, stage, ledger)
    return {"docs_in": total}


def _part_opener(run: RunDir, stage: str, name: str, part: int):
    """A function opening the part file of one task for writing (a retry writes it again)."""
    path = run.path(run.staging(stage, name), f"part-{part:05d}.parquet")

    def open_():
        run.fs.makedirs(run.path(run.staging(stage, name)), exist_ok=True)
        return run.fs.open(path, "wb")
    return open_


def _empty_part(run: RunDir, stage: str, name: str, schema: pa.Schema) -> None:
    with _part_opener(run, stage, name, 0)() as f:
        pq.write_table(schema.empty_table(), f, compression="zstd")


def _write_ledger(run: RunDir, stage: str, ledger: pa.Table) -> None:
    run.fs.makedirs(run.path(run.staging(stage, "")), exist_ok=True)
    with run.fs.open(run.path(run.staging(stage, "ledger")), "wb") as f:
        pq.write_table(ledger, f)


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

def plan(run: RunDir, view: Mapping, cfg: Mapping, stages: list[str], force: bool) -> list[tuple]:
    """(stage, why it runs) for each requested stage that must run, in order; raises naming
    what to run first when a needed stage is missing, stale or made with other settings."""
    committed = run.manifest()["stages"]
    stages = order(stages, cfg, committed)
    runs: dict[str, str] = {}
    for s in stages:
        entry = committed.get(s)
        upstream = [n for n in STAGES[s].requires(cfg, committed) if n in runs]
        if entry is None:
            runs[s] = "not committed yet"
        elif force:
            runs[s] = "--force"
        elif (why := changed_settings(entry, settings_of(s, view), file_digests(s, cfg))):
            runs[s] = f"settings changed since it was committed ({why})"
        elif upstream:
            runs[s] = f"{upstream[0]} runs again first"
        elif (why := staleness(s, committed)):
            runs[s] = f"stale: {why}"
    for s in runs:
        if STAGES[s].validate:
            STAGES[s].validate(cfg)
        for need in STAGES[s].requires(cfg, committed):
            _check_need(s, need, stages, runs, committed, view, cfg)
    return [(s, runs[s]) for s in stages if s in runs]


def _check_need(stage, need, stages, runs, committed, view, cfg) -> None:
    if need in runs:
        return
    first = ",".join(order([*_missing(need, committed, cfg), *stages], cfg, committed))
    entry = committed.get(need)
    if entry is None:
        raise StageError(f"{stage} needs {need}, which is not committed in this run: "
                         f"run it first (--stages {first})")
    why = changed_settings(entry, settings_of(need, view), file_digests(need, cfg))
    if why:
        raise StageError(f"{stage} needs {need}, whose settings changed since it was committed "
                         f"({why}): run both (--stages {first}) or restore the setting")
    why = staleness(need, committed)
    if why:
        raise StageError(f"{stage} needs {need}, which is stale ({why}): run it again first "
                         f"(--stages {first})")


def _missing(stage: str, committed: Mapping, cfg: Mapping) -> list[str]:
    """`stage` and every stage it needs, directly or not, that is not committed."""
    out = [stage]
    for need in STAGES[stage].requires(cfg, committed):
        if need not in committed:
            out += _missing(need, committed, cfg)
    return out


def run_pipeline(run_dir: str, inputs: list[str], cfg: dict, stages: list[str] | None = None,
                 master: str | None = None, force: bool = False, echo: bool = True,
                 progress: Progress | None = None) -> list[dict]:
    """Run the requested stages (default `run.stages`) into `run_dir`; returns the funnel.
    `progress` reports on stderr (corpus.progress; default: `auto` when `echo`, else off)."""
    progress = progress or Progress("auto" if echo else "off")
    run = RunDir(run_dir)
    stages = stages or cfg["run"]["stages"]
    ingest = run.manifest()["stages"].get("ingest")
    if not inputs and ingest:  # later stages of an existing run: its inputs as they were
        inputs = ingest.get("settings", {}).get("inputs") or []
    view = {"inputs": list(inputs), **cfg}
    todo = plan(run, view, cfg, stages, force)
    running = dict(todo)
    for s in order(stages, cfg, run.manifest()["stages"]):
        if s not in running:
            progress.skip(s)
    if "ingest" in running and not inputs:
        raise StageError("the ingest stage needs --input")
    files = list_inputs(inputs, cfg["ingest"]["cc_prefix"]) if "ingest" in running else []
    if todo:
        from corpus.spark import get_session

        ctx = StageContext(get_session(cfg["spark"], master), cfg, run, files, progress=progress)
        progress.attach(ctx.spark)
        run_id = run_id_for(cfg, inputs)
        for s, why in todo:
            progress.start(s, why)
            try:
                run_stage(ctx, s, run_id, view)
            finally:
                progress.stop()
            progress.commit(s, run.manifest()["stages"][s])
            write_config(run, view)
    write_config(run, view)
    return read_funnel(run)


def write_config(run: RunDir, view: Mapping) -> None:
    """RUN_DIR/config.yaml: the configuration that made what is on disk: each committed
    stage's sections as recorded at its commit, the rest as resolved now."""
    out = json.loads(json.dumps(view, default=str))
    for stage, entry in run.manifest()["stages"].items():
        for section, value in entry.get("settings", {}).items():
            *parents, last = section.split(".")
            node = out
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
    run.write_text("config.yaml", yaml.safe_dump(out, sort_keys=True, allow_unicode=True))


def read_funnel(run: RunDir) -> list[dict]:
    """The funnel of a run directory's committed stages, from their ledger files."""
    rows = []
    for stage, entry in run.manifest()["stages"].items():
        if "ledger" in entry.get("outputs", {}):
            with run.fs.open(run.path(run.stage_dirs(stage)["ledger"]), "rb") as f:
                rows += pq.ParquetFile(f).read().to_pylist()  # no async reader threads left at exit
    return funnel(rows, list(STAGES))


def print_funnel(stages: list[dict]) -> None:
    print(format_funnel(stages))

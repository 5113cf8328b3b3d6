"""Content digests of a run's tables: equal rows give equal digests, whatever the files.

Parquet bytes are not a stable fingerprint (parquet-mr orders each column chunk's encodings
differently from JVM to JVM, and row order across part files follows Spark's packing), so
determinism is checked on rows: a table's digest is the sha256 of its rows' digests, sorted.
A row's digest covers every column but `run_id`, in a canonical JSON form (keys sorted, floats
rounded to 9 significant digits so that a last-bit difference between CPUs does not count).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.rundir import RunDir

IGNORED = ("run_id",)


def rows_digest(table: pa.Table, ignore: tuple[str, ...] = IGNORED) -> str:
    """The order-independent digest of a table's rows, leaving out the columns `ignore`
    (see the module docstring)."""
    names = sorted(n for n in table.schema.names if n not in ignore)
    rows = table.select(names).to_pylist()
    digests = sorted(hashlib.sha256(_canonical(r).encode()).digest() for r in rows)
    return hashlib.sha256(b"".join(digests)).hexdigest()


def run_digests(run: RunDir, ignore: Callable[[str], tuple[str, ...]] = lambda rel: IGNORED) -> dict[str, str]:
    """{output path: rows digest} for the docs, dropped rows and ledger of every committed
    stage; `ignore(path)` names the columns left out of that output's digest."""
    out = {}
    for stage, entry in sorted(run.manifest()["stages"].items()):
        for name in ("docs", "dropped", "ledger"):
            files = entry.get("outputs", {}).get(name)
            if not files:
                continue
            tables = []
            for f in (f for f in files if f["path"].endswith(".parquet")):
                with run.fs.open(run.path(f["path"]), "rb") as fh:
                    tables.append(pq.ParquetFile(fh).read())  # no async reader threads (see corpus.spark.exit_process)
            rel = run.stage_dirs(stage)[name]
            out[rel] = rows_digest(pa.concat_tables(tables), ignore(rel))
    return out


def _canonical(row: dict) -> str:
    return json.dumps(_round(row), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.9g}")
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    if isinstance(v, bytes):
        return v.hex()
    return v if v is None or isinstance(v, (str, int, bool)) else str(v)

"""The decontaminate stage: documents sharing an n-gram with a registered evaluation set are
dropped (or have the matches cut out).

Driver: load the registry, build the index (or reuse the one saved for this registry version)
and broadcast it. Executors, pass 1 (`scan_batch`, every document): the matching windows of
each document, as three list columns. Driver: the distinct matched keys (few) are resolved to
benchmark items. Executors, pass 2 (`apply_batch`, matched documents only): drop or cut, with
the benchmark, item and matched text in `detail` (or in `meta` for a cut document). The
corpus's n-grams never leave the executor that computed them.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.config import ConfigError
from corpus.outcomes import CHARS_IN
from corpus.decontam import index as ix
from corpus.decontam.fold import Tables, tables
from corpus.decontam.match import attribute, cut, find_matches
from corpus.decontam.ngrams import TOKENIZER_VERSION, U64
from corpus.decontam.registry import load_registry
from corpus.config import project_path

HIT_FIELDS = [pa.field("decontam_keys", pa.list_(pa.int64())),
              pa.field("decontam_starts", pa.list_(pa.int64())),
              pa.field("decontam_ends", pa.list_(pa.int64()))]
OUTCOME_FIELDS = [pa.field("reason", pa.string()), pa.field("detail", pa.string()), CHARS_IN]
EXAMPLES_FIELD = pa.field("_examples", pa.list_(pa.struct(
    [(name, pa.string()) for name in ("benchmark", "item", "ngram", "before", "after")])))
REASON = "contaminated"


@dataclass(frozen=True)
class Settings:
    registry: Path
    root: Path | None
    on_missing: str
    n: int
    min_tokens: int
    action: str
    margin: int
    min_piece_chars: int
    max_pieces: int
    index_dir: str | None
    report_examples: int
    context_chars: int


def settings(cfg: Mapping) -> Settings:
    """The `decontaminate` config section, checked."""
    def integer(key: str, value, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"config key 'decontaminate.{key}' must be an integer >= {low}, got {value!r}")
        return value

    def choice(key: str, options: tuple[str, ...]) -> str:
        if cfg[key] not in options:
            raise ConfigError(f"config key 'decontaminate.{key}' must be one of {list(options)}, got {cfg[key]!r}")
        return cfg[key]

    n = integer("n", cfg["n"], 1)
    min_tokens = integer("min_tokens", cfg["min_tokens"], 1)
    if min_tokens > n:
        raise ConfigError(f"config key 'decontaminate.min_tokens' ({min_tokens}) must be <= n ({n})")
    c = cfg["cut"]
    return Settings(
        registry=project_path(cfg["registry"]),
        root=project_path(cfg["root"]) if cfg.get("root") else None,
        on_missing=choice("on_missing", ("warn", "error")), n=n, min_tokens=min_tokens,
        action=choice("action", ("drop", "cut")),
        margin=integer("cut.margin", c["margin"]),
        min_piece_chars=integer("cut.min_piece_chars", c["min_piece_chars"]),
        max_pieces=integer("cut.max_pieces", c["max_pieces"], 1),
        index_dir=cfg.get("index_dir") or None,
        report_examples=integer("report_examples", cfg["report_examples"]),
        context_chars=integer("context_chars", cfg["context_chars"]))


# --- the index -----------------------------------------------------------------------------

def prepare_index(s: Settings, default_dir: tuple | None = None, log=print):
    """(index, item keys, description) for the registry of `s`: loaded from
    `<index_dir>/<version>` when saved before, else built and saved there. `default_dir` is
    (filesystem, folder) used when `s.index_dir` is null; None keeps the index in memory only."""
    reg = load_registry(s.registry, s.root)
    for name, patterns in sorted(reg.missing.items()):
        msg = f"benchmark {name!r}: no file matches {patterns} under {reg.root}"
        if s.on_missing == "error":
            raise ConfigError(f"{s.registry}: {msg} (decontaminate.on_missing=error)")
        log(f"[corpus] decontaminate: WARNING {msg}; skipped")
    version = reg.version({"n": s.n, "min_tokens": s.min_tokens, "tokenizer": TOKENIZER_VERSION,
                           "tables": tables().digest})
    if s.index_dir:
        fs, base = fsspec.core.url_to_fs(s.index_dir)
    else:
        fs, base = default_dir or (None, None)
    folder = posixpath.join(base, version) if base else None
    built = not (folder and fs.exists(posixpath.join(folder, "index.json")))
    if built:
        items = (item for b in reg.benchmarks for item in reg.items(b.name))
        index, item_keys = ix.build_index(items, s.n, s.min_tokens)
        if folder:
            ix.save(fs, folder, index, item_keys, {"version": version, "registry": str(s.registry),
                                                   "root": str(reg.root)})
    else:
        index, item_keys, _ = ix.load(fs, folder)
    info = {"registry": str(s.registry), "root": str(reg.root), "version": version, "path": folder,
            "built": built, "missing": reg.missing, "variant_classes": tables().variant_classes,
            "ngrams": len(index.ngrams),
            "whole_item_keys": index.size - len(index.ngrams), "bytes_in_memory": index.nbytes,
            "benchmarks": {b.name: {"lang": b.lang, "files": len(reg.files[b.name])} for b in reg.benchmarks}}
    return index, item_keys, info


# --- Arrow batch functions -----------------------------------------------------------------

def scan_batch(batch: pa.RecordBatch, index: ix.Index, t: Tables | None = None) -> pa.RecordBatch:
    """`batch` with the keys and character spans of every matching window of each text
    (`t`: the fold tables the index was built with; default: this process's)."""
    m = find_matches(batch.column("text").to_pylist(), index, t)
    offsets = pa.array(np.searchsorted(m.doc, np.arange(batch.num_rows + 1)).astype(np.int32))
    columns = [pa.ListArray.from_arrays(offsets, pa.array(values))
               for values in (m.key.view(np.int64), m.start, m.end)]
    return pa.RecordBatch.from_arrays(batch.columns + columns, schema=pa.schema(list(batch.schema) + HIT_FIELDS))


def apply_batch(batch: pa.RecordBatch, owners: dict[int, list[int]], items: dict[int, tuple[str, str]],
                s: Settings, schema: pa.Schema) -> pa.RecordBatch:
    """Outcomes of scanned documents that matched: dropped, or cut and kept. `owners` maps
    matched keys to item numbers, `items` item numbers to (benchmark, item id); `schema` is
    the input's fields, `reason`, `detail` and `_examples`."""
    rows = []
    for row in batch.to_pylist():
        keys = np.array(row.pop("decontam_keys"), dtype=np.int64).view(U64).tolist()
        spans = list(zip(row.pop("decontam_starts"), row.pop("decontam_ends")))
        text = row["text"]
        row["chars_in"] = len(text)
        detail, examples = attribute(text, keys, spans, owners, items, s.context_chars)
        row["_examples"] = [{k: e[k] for k in ("benchmark", "item", "ngram", "before", "after")}
                            for e in examples]
        row["reason"], row["detail"] = REASON, None
        if s.action == "cut":
            pieces, n_pieces, regions = cut(text, spans, s.margin, s.min_piece_chars)
            detail.update(action="cut", pieces=n_pieces, regions=regions)
            if n_pieces > s.max_pieces:
                detail["why"] = f"cut into {n_pieces} pieces > max_pieces {s.max_pieces}"
            elif not pieces:
                detail["why"] = f"no piece of at least {s.min_piece_chars} characters left"
            else:
                row["text"] = "\n".join(pieces)
                meta = dict(row.get("meta") or [])
                meta.update(decontam_cuts=str(regions), decontam_removed_chars=str(len(text) - len(row["text"])),
                            decontam_detail=json.dumps(detail, ensure_ascii=False))
                row["meta"], row["reason"] = sorted(meta.items()), None
        else:
            detail["action"] = "drop"
        if row["reason"]:
            row["detail"] = json.dumps(detail, ensure_ascii=False)
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=schema)


def decontaminate_batches(batches: Iterable[pa.RecordBatch], index: ix.Index, item_keys: ix.ItemKeys,
                          s: Settings) -> Iterable[pa.RecordBatch]:
    """Both passes over batches in one process, without Spark (the stage runs them as two
    Spark passes): outcome batches with `_examples`, matched documents after the others of
    each batch."""
    for batch in batches:
        scanned = scan_batch(batch, index)
        hit = pc.greater(pc.list_value_length(scanned.column("decontam_keys")), 0)
        schema = pa.schema(list(batch.schema) + OUTCOME_FIELDS + [EXAMPLES_FIELD])
        clean = batch.filter(pc.invert(hit))
        nulls = [pa.nulls(clean.num_rows, f.type) for f in list(schema)[len(batch.schema):]]
        yield pa.RecordBatch.from_arrays(clean.columns + nulls, schema=schema)
        matched = scanned.filter(hit)
        keys = np.array(matched.column("decontam_keys").flatten(), dtype=np.int64).view(U64)
        owners = item_keys.owners(np.unique(keys))
        yield apply_batch(matched, owners, item_keys.names(owners), s, schema)


# --- on Spark ------------------------------------------------------------------------------

def decontaminate_outcomes_df(spark, docs, docs_in: int, cfg: Mapping, run):
    """Outcomes (the documents with `reason` and `detail`) and the report."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema

    from corpus.spark import spark_schema

    s = settings(cfg)
    index, item_keys, info = prepare_index(s, (run.fs, run.path("index", "decontaminate")))
    bc = spark.sparkContext.broadcast((index, tables()))
    in_schema = to_arrow_schema(docs.schema)
    scan_schema = pa.schema(list(in_schema) + HIT_FIELDS)
    # whole documents, read twice (matched and not): kept on disk, not on the heap
    scanned = docs.mapInArrow(lambda bs: (scan_batch(b, *bc.value) for b in bs),
                              spark_schema(scan_schema)).persist(StorageLevel.DISK_ONLY)
    hit = F.size("decontam_keys") > 0
    matched = [r[0] for r in scanned.where(hit).select(F.explode("decontam_keys")).distinct().collect()]
    owners = item_keys.owners(np.array(matched, dtype=np.int64).view(U64))
    items = item_keys.names(owners)
    out_schema = pa.schema(list(in_schema) + OUTCOME_FIELDS + [EXAMPLES_FIELD])
    contaminated = scanned.where(hit).mapInArrow(
        lambda bs: (apply_batch(b, owners, items, s, out_schema) for b in bs),
        spark_schema(out_schema)).persist(StorageLevel.MEMORY_AND_DISK)
    clean = scanned.where(~hit).drop(*[f.name for f in HIT_FIELDS]).select(
        "*", F.lit(None).cast("string").alias("reason"), F.lit(None).cast("string").alias("detail"),
        F.lit(None).cast("long").alias(CHARS_IN.name))
    outcomes = clean.unionByName(contaminated.drop(EXAMPLES_FIELD.name))
    return outcomes, report(contaminated, info, owners, item_keys, docs_in, s)


def report(contaminated, info: dict, owners: dict[int, list[int]], item_keys: ix.ItemKeys,
           docs_in: int, s: Settings) -> dict:
    """Per benchmark: items (matched whole, too short to match), items and documents hit,
    example matches; overall: documents dropped and cut, the index."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ex = contaminated.select("id", "source", "reason", F.explode(EXAMPLES_FIELD.name).alias("e"))
    docs_hit = {r["benchmark"]: r["count"] for r in
                ex.groupBy(F.col("e.benchmark").alias("benchmark")).count().collect()}
    picked = (ex.withColumn("k", F.row_number().over(Window.partitionBy(F.col("e.benchmark")).orderBy("id")))
              .where(F.col("k") <= s.report_examples).orderBy("e.benchmark", "id").collect())
    outcome = {("dropped" if r["reason"] else "cut"): r["count"]
               for r in contaminated.groupBy("reason").count().collect()}
    outcome["chars_removed_by_cuts"] = contaminated.where(F.col("reason").isNull()).select(
        F.sum(F.col("meta")["decontam_removed_chars"].cast("long"))).first()[0] or 0
    return summarize(info, owners, item_keys, docs_in, s, docs_hit, outcome,
                     [{"doc_id": r["id"], "source": r["source"], "action": "dropped" if r["reason"] else "cut",
                       **r["e"].asDict()} for r in picked])


def summarize(info: dict, owners: dict[int, list[int]], item_keys: ix.ItemKeys, docs_in: int,
              s: Settings, docs_hit: dict[str, int], outcome: dict[str, int], examples: list[dict]) -> dict:
    """The report from what the passes found (see `report`); `outcome` counts documents
    dropped and cut and the characters cuts removed."""
    names = np.array(item_keys.benchmark, dtype=object)
    hit_items = np.zeros(len(names), dtype=bool)
    hit_items[sorted({i for lst in owners.values() for i in lst})] = True
    benchmarks = []
    for name, about in info["benchmarks"].items():
        mine = names == name
        tokens = item_keys.tokens[mine]
        short = np.flatnonzero(mine & (item_keys.tokens < s.min_tokens))
        benchmarks.append({
            "name": name, **about, "items": int(mine.sum()),
            "items_matched_whole": int(((tokens < s.n) & (tokens >= s.min_tokens)).sum()),
            "items_too_short": int(short.size),
            "items_too_short_ids": [item_keys.item_id[i] for i in short[:10]],
            "items_hit": int((hit_items & mine).sum()), "docs_hit": int(docs_hit.get(name, 0)),
            "examples": [e for e in examples if e["benchmark"] == name]})
    dropped, cut_docs = outcome.get("dropped", 0), outcome.get("cut", 0)
    return {"docs_in": docs_in, "action": s.action, "n": s.n, "min_tokens": s.min_tokens,
            "docs_contaminated": dropped + cut_docs, "docs_dropped": dropped, "docs_cut": cut_docs,
            "chars_removed_by_cuts": outcome.get("chars_removed_by_cuts", 0), "index": info,
            "benchmarks": benchmarks}

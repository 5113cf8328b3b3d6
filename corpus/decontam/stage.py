"""The decontaminate stage: documents sharing an n-gram with a registered evaluation set are
dropped (or have the matches cut out).

Driver: load the registry, build the index (or reuse the one saved for this registry version,
by default in the user's cache) and broadcast it with the item keys. Executors, one pass
(`decontaminate_task`): each batch is scanned (`scan_batch`: the matching windows of each
document); matched documents are dropped or cut (`apply_batch`), with the benchmark, item and
matched text in `detail` (or in `meta` for a cut document); each task ends with a note row
carrying its part of the report (`TaskReport`), which the driver merges. The corpus's n-grams
never leave the executor that computed them.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus.config import ConfigError
from corpus.outcomes import CHARS_IN, NOTE_PREFIX
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
NOTE = NOTE_PREFIX + "report__"  # the reason of a task's report row (corpus.outcomes)


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


def cache_dir() -> tuple:
    """(filesystem, folder) where indexes are kept when `index_dir` is null: the user's cache,
    `$CORPUS_CACHE_DIR` or `$XDG_CACHE_HOME/corpus` or `~/.cache/corpus`, under `decontaminate`.
    An index's folder is named by the registry version, so runs share it safely."""
    base = os.environ.get("CORPUS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "corpus")
    return fsspec.filesystem("file"), os.path.join(os.path.abspath(base), "decontaminate")


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
                          s: Settings, t: Tables | None = None,
                          items_hit: set | None = None) -> Iterable[pa.RecordBatch]:
    """Outcome batches with `_examples` (`t`: the fold tables the index was built with):
    matched documents after the others of each batch. The numbers of the items hit are added
    to `items_hit`."""
    for batch in batches:
        scanned = scan_batch(batch, index, t)
        hit = pc.greater(pc.list_value_length(scanned.column("decontam_keys")), 0)
        schema = pa.schema(list(batch.schema) + OUTCOME_FIELDS + [EXAMPLES_FIELD])
        clean = batch.filter(pc.invert(hit))
        nulls = [pa.nulls(clean.num_rows, f.type) for f in list(schema)[len(batch.schema):]]
        yield pa.RecordBatch.from_arrays(clean.columns + nulls, schema=schema)
        matched = scanned.filter(hit)
        if matched.num_rows:
            keys = np.array(matched.column("decontam_keys").flatten(), dtype=np.int64).view(U64)
            owners = item_keys.owners(np.unique(keys))
            if items_hit is not None:
                items_hit.update(i for lst in owners.values() for i in lst)
            yield apply_batch(matched, owners, item_keys.names(owners), s, schema)


class TaskReport:
    """What one task's outcomes add to the report: examples rows per benchmark, the first
    `report_examples` of them by document id, documents dropped and cut, characters cut out,
    and the items hit. `merge` adds another task's (as `to_json` gave it)."""

    def __init__(self, report_examples: int):
        self.limit = report_examples
        self.docs_hit: dict[str, int] = {}
        self.examples: dict[str, list] = {}
        self.outcome = {"dropped": 0, "cut": 0, "chars_removed_by_cuts": 0}
        self.items: set[int] = set()

    def add(self, batch: pa.RecordBatch) -> None:
        """Count a batch's matched documents (rows with `_examples`)."""
        for row in batch.select(["id", "source", "reason", "meta", EXAMPLES_FIELD.name]).to_pylist():
            if row[EXAMPLES_FIELD.name] is None:  # not matched
                continue
            action = "dropped" if row["reason"] else "cut"
            self.outcome[action] += 1
            if action == "cut":
                self.outcome["chars_removed_by_cuts"] += int(dict(row["meta"])["decontam_removed_chars"])
            for k, e in enumerate(row[EXAMPLES_FIELD.name]):
                name = e["benchmark"]
                self.docs_hit[name] = self.docs_hit.get(name, 0) + 1
                self.examples.setdefault(name, []).append(
                    [row["id"], k, {"doc_id": row["id"], "source": row["source"], "action": action, **e}])
        self._trim()  # once per batch: a batch holds at most a few thousand examples

    def merge(self, blob: str) -> None:
        other = json.loads(blob)
        for name, n in other["docs_hit"].items():
            self.docs_hit[name] = self.docs_hit.get(name, 0) + n
        for name, lst in other["examples"].items():
            self.examples.setdefault(name, []).extend(lst)
        for key, n in other["outcome"].items():
            self.outcome[key] += n
        self.items.update(other["items"])
        self._trim()

    def _trim(self) -> None:
        for name, lst in self.examples.items():
            lst.sort(key=lambda e: (e[0], e[1]))
            del lst[self.limit:]

    def to_json(self) -> str:
        return json.dumps({"docs_hit": self.docs_hit, "examples": self.examples, "outcome": self.outcome,
                           "items": sorted(self.items)}, ensure_ascii=False)

    def example_list(self) -> list[dict]:
        return [e[2] for name in sorted(self.examples) for e in self.examples[name]]


def decontaminate_task(batches: Iterable[pa.RecordBatch], index: ix.Index, t: Tables,
                       item_keys: ix.ItemKeys, s: Settings) -> Iterable[pa.RecordBatch]:
    """One Spark task of the stage: outcome batches (without `_examples`), then a note row
    (reason `__report__`) carrying the task's part of the report (`TaskReport`)."""
    part = TaskReport(s.report_examples)
    schema = None
    for batch in decontaminate_batches(batches, index, item_keys, s, t, part.items):
        schema = pa.schema([f for f in batch.schema if f.name != EXAMPLES_FIELD.name])
        if batch.column(EXAMPLES_FIELD.name).null_count < batch.num_rows:  # matched documents
            part.add(batch)
        yield batch.select(schema.names)
    if schema is not None:
        note = dict.fromkeys(schema.names, None)
        note.update(id=NOTE, source=NOTE, locator=NOTE, text="", reason=NOTE, detail=part.to_json())
        yield pa.RecordBatch.from_pylist([note], schema=schema)


# --- on Spark ------------------------------------------------------------------------------

def decontaminate_outcomes(spark, docs, docs_in: int, cfg: Mapping):
    """(per-batch function for `docs`, its outcome schema, the report, check(ctx, notes)):
    one pass; each task scans, drops or cuts its documents and notes its part of the report,
    which the check merges."""
    from corpus.spark import arrow_schema

    s = settings(cfg)
    index, item_keys, info = prepare_index(s, cache_dir())
    print(f"[corpus] decontaminate: index {info['version']} "
          f"{'built and saved to' if info['built'] else 'loaded from'} {info['path']}", file=sys.stderr)
    info = {k: v for k, v in info.items() if k not in ("built", "path")}  # the report: the data only
    bc = spark.sparkContext.broadcast((index, tables(), item_keys))
    schema = pa.schema(list(arrow_schema(docs.schema)) + OUTCOME_FIELDS)
    report: dict = {}

    def per_batch(batches):
        return decontaminate_task(batches, *bc.value, s)

    def check(ctx, notes: list[str]) -> None:
        total = TaskReport(s.report_examples)
        for blob in notes:
            total.merge(blob)
        report.update(summarize(info, total.items, item_keys, docs_in, s, total.docs_hit,
                                total.outcome, total.example_list()))
        bc.unpersist()

    return per_batch, schema, report, check


def summarize(info: dict, items_hit: Iterable[int], item_keys: ix.ItemKeys, docs_in: int,
              s: Settings, docs_hit: dict[str, int], outcome: dict[str, int], examples: list[dict]) -> dict:
    """The report from what the tasks found: the item numbers hit, examples rows per
    benchmark (`docs_hit`), `outcome` (documents dropped and cut, the characters cuts
    removed) and the examples."""
    names = np.array(item_keys.benchmark, dtype=object)
    hit_items = np.zeros(len(names), dtype=bool)
    hit_items[sorted(set(items_hit))] = True
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

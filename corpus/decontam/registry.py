"""The benchmark registry (`rules/benchmarks.yaml`) and the loaders of evaluation items.

A registry is YAML:

    root: ../../shared/data/benchmarks   # benchmark paths are relative to this; itself to this file
    benchmarks:
      - {name: gsm8k, lang: en, path: gsm8k/test.jsonl, format: jsonl, fields: [question, answer]}

Per benchmark: `name`, `lang`, `path` (a path or glob, or a list of them), `format` (`csv`,
`tsv`, `jsonl`, `json`), `fields` (where the evaluation text is) and optionally `id` (where the
item id is; default: the record number) and `records` (for `json`: where the list of records
is; default: the top level). A field is a dotted path into a record: `question`, `0`,
`1.*.choice` (`*` takes every element of a list). Strings found under one path are all taken;
an item's text is its fields' strings, one per line. Items are named `FILE:ID`, FILE relative
to the root.
"""

from __future__ import annotations

import csv
import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import xxhash

from corpus.config import ConfigError, load_yaml

FORMATS = ("csv", "tsv", "jsonl", "json")
_KEYS = {"name", "lang", "path", "format", "fields", "id", "records"}


@dataclass(frozen=True)
class Benchmark:
    name: str
    lang: str
    paths: tuple[str, ...]
    format: str
    fields: tuple[str, ...]
    id: str | None = None
    records: str | None = None


@dataclass
class Item:
    benchmark: str
    item_id: str
    text: str


@dataclass
class Registry:
    """The benchmarks of a registry file and the files each path matched under `root`."""

    path: Path
    root: Path
    benchmarks: list[Benchmark]
    files: dict[str, list[Path]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)  # name -> paths matching nothing

    def version(self, extra: Any = None) -> str:
        """A hash of the benchmarks, the bytes of their files and `extra` (tokenizer settings)."""
        h = xxhash.xxh3_128()
        h.update(json.dumps([[b.__dict__ for b in self.benchmarks], extra], sort_keys=True).encode())
        for name in sorted(self.files):
            for f in self.files[name]:
                h.update(f"{name}\0{self.rel(f)}\0".encode())
                h.update(f.read_bytes())
        return h.hexdigest()[:16]

    def rel(self, f: Path) -> str:
        return os.path.relpath(f, self.root).replace(os.sep, "/")

    def items(self, name: str) -> Iterator[Item]:
        """Every item of benchmark `name`, file by file in sorted order."""
        bench = next(b for b in self.benchmarks if b.name == name)
        for f in self.files[name]:
            seen = set()
            try:
                for number, record in enumerate(_records(f, bench)):
                    texts = []
                    for path in bench.fields:
                        found = list(_strings(_get(record, path)))
                        seen.update([path] if found else [])
                        texts += found
                    ident = _get_one(record, bench.id) if bench.id else number
                    yield Item(name, f"{self.rel(f)}:{ident}", "\n".join(texts))
            except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError) as e:
                raise ConfigError(f"{f}: cannot read as {bench.format} benchmark {name!r}: {e}") from None
            unused = [p for p in bench.fields if p not in seen]
            if unused:
                raise ConfigError(f"{f}: benchmark {name!r}: field(s) {unused} found in no record")


def load_registry(path: str | Path, root: str | Path | None = None) -> Registry:
    """Read and check a registry; `root` (if given) replaces the file's own root."""
    path = Path(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'benchmarks' list")
    extra = set(doc) - {"root", "benchmarks"}
    if extra:
        raise ConfigError(f"{path}: unknown key(s) {sorted(extra)}")
    base = Path(root) if root is not None else path.parent / str(doc.get("root") or ".")
    benchmarks = [_benchmark(entry, f"{path}: benchmarks[{i}]") for i, entry in enumerate(doc["benchmarks"])]
    names = [b.name for b in benchmarks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: benchmark name(s) {dupes} appear more than once")
    reg = Registry(path, base.resolve(), benchmarks)
    for b in benchmarks:
        reg.files[b.name] = []
        for pattern in b.paths:
            found = sorted(Path(p) for p in glob.glob(str(reg.root / pattern), recursive=True)
                           if Path(p).is_file())
            if not found:
                reg.missing.setdefault(b.name, []).append(pattern)
            reg.files[b.name] += [f for f in found if f not in reg.files[b.name]]
    return reg


def _benchmark(entry: Any, where: str) -> Benchmark:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    for key in ("name", "lang", "path", "format", "fields"):
        if not entry.get(key):
            raise ConfigError(f"{where}: '{key}' is required")
    name = entry["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{where}: name {name!r} must be letters, digits, '_' or '-'")
    if entry["format"] not in FORMATS:
        raise ConfigError(f"{where} ({name}): format {entry['format']!r} is not one of {list(FORMATS)}")
    paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
    fields = entry["fields"] if isinstance(entry["fields"], list) else [entry["fields"]]
    if not all(isinstance(p, str) for p in paths) or not all(isinstance(f, (str, int)) for f in fields):
        raise ConfigError(f"{where} ({name}): 'path' and 'fields' must be strings or lists of strings")
    if entry.get("records") and entry["format"] != "json":
        raise ConfigError(f"{where} ({name}): 'records' applies to format json only")
    return Benchmark(name, str(entry["lang"]), tuple(paths), entry["format"],
                     tuple(str(f) for f in fields),
                     None if entry.get("id") is None else str(entry["id"]),
                     None if entry.get("records") is None else str(entry["records"]))


def _records(f: Path, bench: Benchmark) -> Iterator[Any]:
    """The records of a benchmark file. A JSONL record ends only at a line feed, a CSV/TSV
    record where the csv module's quoting says, so U+2028, U+0085, form feeds and the like
    stay inside strings; control characters inside JSON strings are accepted."""
    if bench.format in ("csv", "tsv"):
        with f.open(encoding="utf-8-sig", newline="") as fh:
            yield from csv.DictReader(fh, delimiter="," if bench.format == "csv" else "\t")
        return
    text = f.read_text(encoding="utf-8-sig")
    if bench.format == "jsonl":
        for line in text.split("\n"):
            if line.strip():
                yield json.loads(line, strict=False)
    else:
        data = json.loads(text, strict=False)
        records = _get_one(data, bench.records) if bench.records else data
        yield from (records.values() if isinstance(records, dict) else records)


def _get(node: Any, path: str) -> list[Any]:
    """The values at a dotted path; `*` fans out over a list (or a mapping's values). A key
    or index a record lacks gives nothing."""
    nodes = [node]
    for part in path.split("."):
        out = []
        for n in nodes:
            if part == "*":
                out += list(n.values()) if isinstance(n, dict) else list(n)
            elif isinstance(n, list) and part.lstrip("-").isdigit() and -len(n) <= int(part) < len(n):
                out.append(n[int(part)])
            elif isinstance(n, dict) and part in n:
                out.append(n[part])
        nodes = out
    return nodes


def _get_one(node: Any, path: str) -> Any:
    values = _get(node, path)
    if len(values) != 1:
        raise ValueError(f"path {path!r} gives {len(values)} values, expected one")
    return values[0]


def _strings(values: list[Any]) -> Iterator[str]:
    for v in values:
        if isinstance(v, list):
            yield from _strings(v)
        elif isinstance(v, dict):
            yield from _strings(list(v.values()))
        elif v is not None and str(v).strip():
            yield str(v)

"""The run directory: stage outputs, dropped documents, the ledger, config and manifest.

    RUN_DIR/<stage>/part-00000.parquet      kept documents
    RUN_DIR/dropped/<stage>/part-*.parquet  dropped documents with `reason` and `detail`
    RUN_DIR/ledger/<stage>.parquet          counts (see corpus.ledger)
    RUN_DIR/reports/<stage>.json            what a stage has to say beyond counts (dedup clusters)
    RUN_DIR/config.yaml                     what made the committed stages (each one's settings at its commit)
    RUN_DIR/manifest.json                   committed stages: files, rows, bytes, sha256
    RUN_DIR/_staging/<stage>/               work in progress; never read by anyone

A stage is committed when, and only when, `manifest.json` lists it: its outputs are
written under `_staging`, moved into place, and the manifest is replaced last (write to a
temporary name, then rename). Anything of an uncommitted stage is removed before it runs.
"""

from __future__ import annotations

import json
import posixpath
import re

import fsspec

from corpus.io import fsspec_uri

_PART_RE = re.compile(r"part-(\d+)(?:-[^.]*?)?(?:-c(\d+))?\..*parquet$")


class RunDir:
    def __init__(self, uri: str):
        self.uri = uri.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(fsspec_uri(self.uri))
        if "://" not in self.uri:  # Spark and fsspec agree on absolute local paths
            self.uri = self.root

    # --- addresses ---
    def path(self, *parts: str) -> str:
        """A path for fsspec operations."""
        return posixpath.join(self.root, *parts)

    def spark_uri(self, *parts: str) -> str:
        """The same location as a URI Spark can write to."""
        return posixpath.join(self.uri, *parts)

    def stage_dirs(self, stage: str) -> dict[str, str]:
        """Relative locations of a stage's outputs."""
        return {"docs": stage, "dropped": f"dropped/{stage}", "ledger": f"ledger/{stage}.parquet",
                "report": f"reports/{stage}.json"}

    def staging(self, stage: str, name: str) -> str:
        return f"_staging/{stage}/{name}"

    # --- manifest ---
    def manifest(self) -> dict:
        p = self.path("manifest.json")
        if not self.fs.exists(p):
            return {"stages": {}}
        with self.fs.open(p, "r") as f:
            return json.load(f)

    def committed(self, stage: str) -> bool:
        return stage in self.manifest()["stages"]

    def write_text(self, rel: str, text: str) -> None:
        """Replace a small file atomically (temporary name, then rename)."""
        tmp = self.path(rel + ".tmp")
        self.fs.makedirs(posixpath.dirname(tmp), exist_ok=True)
        with self.fs.open(tmp, "w") as f:
            f.write(text)
        self.fs.mv(tmp, self.path(rel))

    # --- stage life cycle ---
    def reset(self, stage: str) -> None:
        """Forget a stage: its manifest entry first, then every file it left."""
        m = self.manifest()
        if m["stages"].pop(stage, None) is not None:
            self.write_text("manifest.json", json.dumps(m, indent=2, sort_keys=True))
        for rel in [f"_staging/{stage}", *self.stage_dirs(stage).values()]:
            if self.fs.exists(self.path(rel)):
                self.fs.rm(self.path(rel), recursive=True)

    def discard(self, stage: str) -> None:
        """Remove what a stage that failed left under `_staging`."""
        for rel in (f"_staging/{stage}", "_staging"):
            p = self.path(rel)
            if self.fs.exists(p) and (rel != "_staging" or not self.fs.find(p)):
                self.fs.rm(p, recursive=True)

    def tidy_parquet_dir(self, rel: str) -> list[str]:
        """Rename Spark's part files to `part-00000.parquet`... in partition order and delete
        its bookkeeping files (`_SUCCESS`, checksums), so equal data gives equal files."""
        d = self.path(rel)
        parts, others = [], []
        for p in self.fs.find(d):
            m = _PART_RE.search(posixpath.basename(p))
            (parts if m else others).append((p, m))
        for p, _ in others:
            self.fs.rm(p)
        parts.sort(key=lambda pm: (int(pm[1].group(1)), int(pm[1].group(2) or 0)))
        names = []
        for i, (p, _) in enumerate(parts):
            name = f"part-{i:05d}.parquet"
            self.fs.mv(p, posixpath.join(d, name))
            names.append(name)
        return names

    def commit(self, stage: str, entry: dict) -> None:
        """Move staged outputs into place, then record the stage in the manifest."""
        for name, rel in self.stage_dirs(stage).items():
            src = self.path(self.staging(stage, name))
            if self.fs.exists(src):
                self.fs.makedirs(posixpath.dirname(self.path(rel)), exist_ok=True)
                self.fs.mv(src, self.path(rel), recursive=True)
        for rel in (f"_staging/{stage}", "_staging"):
            if self.fs.exists(self.path(rel)) and not self.fs.find(self.path(rel)):
                self.fs.rm(self.path(rel), recursive=True)
        m = self.manifest()
        m["stages"][stage] = entry
        self.write_text("manifest.json", json.dumps(m, indent=2, sort_keys=True))

    def files(self, rel: str) -> list[str]:
        """Relative paths of the files under a committed output (a folder or one file)."""
        p = self.path(rel)
        if not self.fs.exists(p):
            return []
        if self.fs.isdir(p):
            return sorted(posixpath.relpath(f, self.root) for f in self.fs.find(p))
        return [rel]

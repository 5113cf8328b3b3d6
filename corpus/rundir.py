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

On an object store (S3, GCS, Azure: `object_store`) there is no rename: a move is a copy then
a delete, file by file, and the manifest is written in place by one PUT, which replaces it
whole or not at all. The manifest stays the only commit point: a stage is reset (its entry
dropped) before it runs, so a crash while its files are copied leaves it uncommitted, and the
next run's `reset` removes what it left. Readers go by the files the manifest lists.
"""

from __future__ import annotations

import json
import posixpath
import re


from corpus.io import filesystem

# Filesystems without a rename: a move copies then deletes each file (see the module docstring).
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss"}
# Filesystems Spark reads without extra connectors; another run directory is read through fsspec.
SPARK_READS = {"file", "local", "hdfs", "viewfs"}
_PART_RE = re.compile(r"part-(\d+)(?:-[^.]*?)?(?:-c(\d+))?\..*parquet$")


class RunDir:
    def __init__(self, uri: str):
        self.uri = uri.rstrip("/")
        self.fs, self.root = filesystem(self.uri)
        if "://" not in self.uri:  # Spark and fsspec agree on absolute local paths
            self.uri = self.root
        protocols = {self.fs.protocol} if isinstance(self.fs.protocol, str) else set(self.fs.protocol)
        self.object_store = bool(protocols & OBJECT_STORES)
        self.spark_reads = bool(protocols & SPARK_READS)

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
        self._fresh()
        if not self.fs.exists(p):
            return {"stages": {}}
        with self.fs.open(p, "r") as f:
            return json.load(f)

    def committed(self, stage: str) -> bool:
        return stage in self.manifest()["stages"]

    def write_text(self, rel: str, text: str) -> None:
        """Replace a small file atomically (temporary name, then rename; on an object store
        one PUT, which is atomic there)."""
        if self.object_store:
            self.fs.pipe_file(self.path(rel), text.encode("utf-8"))
            return
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
        self._fresh()
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
        self._fresh()
        for name, rel in self.stage_dirs(stage).items():
            src = self.path(self.staging(stage, name))
            if self.fs.exists(src):
                self.fs.makedirs(posixpath.dirname(self.path(rel)), exist_ok=True)
                if self.object_store:
                    self._copy_then_delete(src, self.path(rel))
                else:
                    self.fs.mv(src, self.path(rel), recursive=True)
        for rel in (f"_staging/{stage}", "_staging"):
            if self.fs.exists(self.path(rel)) and not self.fs.find(self.path(rel)):
                self.fs.rm(self.path(rel), recursive=True)
        m = self.manifest()
        m["stages"][stage] = entry
        self.write_text("manifest.json", json.dumps(m, indent=2, sort_keys=True))

    def _copy_then_delete(self, src: str, dst: str) -> None:
        """Move a file or a folder's files on an object store: copy every file, then delete
        the sources (a crash in between leaves copies the next `reset` removes)."""
        sources = self.fs.find(src) if self.fs.isdir(src) else [src]
        for f in sources:
            self.fs.copy(f, dst + f[len(src):])
        self.fs.rm(sources)

    def _fresh(self) -> None:
        """Forget listings cached by this process: on an object store, executors and other
        processes write files this process's filesystem object has not seen."""
        if self.object_store:
            self.fs.invalidate_cache()

    def read_parquet(self, spark, rels: list[str]):
        """The Parquet files `rels` (relative paths) as one DataFrame, read by the executors
        through fsspec, one partition per file in the order given: for run directories Spark
        cannot read itself (an object store without Hadoop's connector for it)."""
        import pyarrow.parquet as pq

        from corpus.spark import spark_schema

        with self.fs.open(self.path(rels[0]), "rb") as f:
            schema = pq.ParquetFile(f).schema_arrow
        uri = self.uri

        def read(batches):
            run = RunDir(uri)
            for batch in batches:
                for rel in batch.column("path").to_pylist():
                    with run.fs.open(run.path(rel), "rb") as f:
                        yield from pq.ParquetFile(f).iter_batches(use_threads=False)

        paths = spark.sparkContext.parallelize([(rel,) for rel in rels], len(rels))
        return spark.createDataFrame(paths, "path string").mapInArrow(read, spark_schema(schema))

    def files(self, rel: str) -> list[str]:
        """Relative paths of the files under a committed output (a folder or one file)."""
        p = self.path(rel)
        self._fresh()
        if not self.fs.exists(p):
            return []
        if self.fs.isdir(p):
            return sorted(posixpath.relpath(f, self.root) for f in self.fs.find(p))
        return [rel]

"""`corpus export-tokens RUN_DIR` (also `spark-submit jobs/export_tokens.py`): token shards.

1. The documents of the stage (see corpus.tokens.source) are tokenized on the executors over
   Arrow batches; the model travels once as a broadcast and is loaded once per Python worker.
   Each document ends with the end-of-document id.
2. The seeded key of each document picks its shard (key mod shards, about `shard_tokens`
   tokens each) and its place in the shard (key order): a seeded shuffle that depends only on
   the documents and the seed.
3. Each shard is packed on an executor into rows of `seq_len + 1` tokens across document
   boundaries and written as a flat binary; the tails of all shards, in shard order, are
   packed by the driver into one more shard, and what remains is `leftover.bin`.
4. `manifest.json` (corpus.tokens.shards) holds the shards, the counts per source and topic
   and the tokenizer's sha256; the export checks that the shards' tokens plus the leftover
   equal the documents' tokens plus one separator each. Everything is written to a staged
   folder that the `tokens` stage (corpus.stages.tokens) commits as RUN_DIR/tokens.
5. With `tokens.validation_fraction` > 0 (default 0.005), the documents whose id hashes into
   that share (`held_out`: the id alone, so copies stay together) are left out of the shards
   and packed, in key order, into `validation/shard-00000.bin`, described under the
   manifest's `validation` (documents, tokens, sequences, by_source; the last tokens that fill
   no row are counted in its `leftover_tokens` and not written). The number of shards counts
   all documents, so every training document has the shard and the order it has with
   `validation_fraction: 0` (whose output is the same as before the split existed): the
   training shards are that export with the held-out documents taken out. `documents`,
   `tokens`, `by_source` and `by_source_topic` count the training split only.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np

from corpus.rundir import RunDir
from corpus.spark import spark_schema
from corpus.stages.base import StageError
from corpus.tokens.pack import SUMMARY_SCHEMA, TOKENIZED_SCHEMA, Packer, pack_shards, tokenize_batches
from corpus.tokens.shards import FORMAT, LEFTOVER, MANIFEST, ShardWriter, shard_name
from corpus.tokens.source import documents
from corpus.tokens.tokenizer import Tokenizer
from corpus.tokens.train_tokenizer import MODEL_PATH

def export_tokens(spark, run: RunDir, cfg: dict, stage: str, staged: str) -> dict:
    """Export the documents of `stage` as token shards into the staged folder `staged`
    (relative to the run); returns the manifest."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    p = cfg["tokens"]
    entry = run.manifest()["stages"][stage]
    tok = _tokenizer(run, p.get("tokenizer"))
    seq_tokens, seed, dtype = int(p["seq_len"]) + 1, int(p["seed"]), tok.dtype
    model = spark.sparkContext.broadcast(tok.model)

    fraction = float(p.get("validation_fraction") or 0.0)

    tokenized = documents(spark, run, stage, seed).mapInArrow(
        lambda batches: tokenize_batches(batches, model.value), spark_schema(TOKENIZED_SCHEMA))
    tokenized = tokenized.persist(StorageLevel.MEMORY_AND_DISK)
    held = held_out(F.col("id"), fraction)
    everything, tokenized = tokenized, tokenized.where(~held)
    try:
        validation = _write_validation(run, staged, everything.where(held), seq_tokens, dtype) \
            if fraction > 0 else None
        if validation is not None:
            validation["fraction"] = fraction
        groups = (tokenized.groupBy("source", "topic")
                  .agg(F.count(F.lit(1)).alias("documents"), F.sum("n_tokens").alias("tokens"))
                  .collect())
        doc_tokens = sum(g.tokens for g in groups)
        # the number of shards counts the held-out documents too: each training document keeps
        # the shard and the place it has in an export without a validation split
        all_tokens = doc_tokens + (validation["tokens"] if validation else 0)
        num_shards = max(1, math.ceil(all_tokens / int(p["shard_tokens"])))
        run.fs.makedirs(run.path(staged), exist_ok=True)
        uri = run.uri

        def write(batches):
            out = RunDir(uri)
            yield from pack_shards(batches, seq_tokens, dtype,
                                   lambda name: out.fs.open(out.path(staged, name), "wb"))

        summaries = (tokenized.select(F.pmod("key", F.lit(num_shards)).cast("int").alias("shard"),
                                      "key", "id", "tokens")
                     .repartition(num_shards, "shard").sortWithinPartitions("shard", "key", "id")
                     .select("shard", "tokens")
                     .mapInArrow(write, spark_schema(SUMMARY_SCHEMA)).collect())
    finally:
        everything.unpersist()
        model.destroy()
    summaries = sorted((s.asDict() for s in summaries), key=lambda s: s["shard"])
    shards, leftover = _pack_tails(run, staged, summaries, num_shards, seq_tokens, dtype)
    manifest = {
        "format": FORMAT, "seq_len": seq_tokens - 1, "dtype": np.dtype(dtype).name,
        "vocab_size": tok.vocab_size, "eos_id": tok.eos_id,
        "tokenizer": {"sha256": tok.sha256, "path": p.get("tokenizer") or MODEL_PATH},
        "stage": stage, "stage_committed_at": entry.get("committed_at"), "seed": seed,
        "documents": sum(g.documents for g in groups), "tokens": doc_tokens,
        "sequences": sum(s["sequences"] for s in shards), "leftover_tokens": leftover["tokens"],
        "shards": shards, "leftover": leftover,
        **({"validation": validation} if validation is not None else {}),
        "by_source": _by_source(groups),
        "by_source_topic": [{"source": g.source, "topic": g.topic, "documents": g.documents,
                             "tokens": g.tokens}
                            for g in sorted(groups, key=lambda g: (g.source, g.topic or ""))],
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    packed = manifest["sequences"] * seq_tokens + manifest["leftover_tokens"]
    if packed != doc_tokens or sum(s["tokens"] for s in summaries) != doc_tokens:
        raise StageError(f"export-tokens: documents hold {doc_tokens} tokens, shards {packed}")
    with run.fs.open(run.path(staged, MANIFEST), "w") as f:
        f.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


VALIDATION_DIR = "validation"
_HASH_SPACE = 1 << 31


def held_out(id_col, fraction: float):
    """True for the documents of the validation split: a hash of the id alone (not the seed,
    not the copy number), so every copy of a document is on the same side, the split does not
    move when tokens.seed changes, and a larger fraction keeps the smaller one's documents."""
    from pyspark.sql import functions as F

    if fraction <= 0:
        return F.lit(False)
    bucket = F.pmod(F.xxhash64(F.lit("corpus-validation"), id_col), F.lit(_HASH_SPACE))
    return bucket < F.lit(int(round(fraction * _HASH_SPACE)))


def _write_validation(run: RunDir, staged: str, held, seq_tokens: int, dtype) -> dict:
    """Pack the held-out documents (streamed to the driver in key order: a small share) into
    `validation/shard-00000.bin`; the tokens that fill no row are left out and counted."""
    run.fs.makedirs(run.path(staged, VALIDATION_DIR), exist_ok=True)
    name = f"{VALIDATION_DIR}/{shard_name(0)}"
    packer = Packer(seq_tokens, dtype)
    by_source: dict = {}
    order = held.select("source", "tokens", "n_tokens", "key", "id").orderBy("key", "id")
    with run.fs.open(run.path(staged, name), "wb") as f:
        writer = ShardWriter(f, dtype)
        for row in order.toLocalIterator():
            writer.write(packer.add(np.frombuffer(row.tokens, dtype=np.dtype(dtype).newbyteorder("<"))))
            c = by_source.setdefault(row.source, {"documents": 0, "tokens": 0})
            c["documents"] += 1
            c["tokens"] += row.n_tokens
    return {"fraction": None, "documents": sum(c["documents"] for c in by_source.values()),
            "tokens": sum(c["tokens"] for c in by_source.values()),
            "sequences": writer.sequences, "leftover_tokens": len(packer.tail()),
            "shards": [writer.describe(name)], "by_source": dict(sorted(by_source.items()))}


def _tokenizer(run: RunDir, path: str | None) -> Tokenizer:
    if path:
        return Tokenizer.load(path)
    with run.fs.open(run.path(MODEL_PATH), "rb") as f:
        return Tokenizer(f.read())


def _pack_tails(run: RunDir, staged: str, summaries: list[dict], index: int, seq_tokens: int, dtype):
    """The shards' descriptions, plus one shard packed from all tails (when they fill a
    sequence) and the leftover file's description."""
    packer = Packer(seq_tokens, dtype)
    rows = [packer.add(np.frombuffer(s["tail"], dtype=np.dtype(dtype).newbyteorder("<")))
            for s in summaries]
    shards = [{k: s[k] for k in ("path", "sequences", "bytes", "sha256")} for s in summaries]
    full = np.concatenate([np.empty((0, seq_tokens), dtype), *rows])
    if len(full):
        with run.fs.open(run.path(staged, shard_name(index)), "wb") as f:
            writer = ShardWriter(f, dtype)
            writer.write(full)
        shards.append(writer.describe(shard_name(index)))
    with run.fs.open(run.path(staged, LEFTOVER), "wb") as f:
        writer = ShardWriter(f, dtype)
        writer.write(packer.tail())
    leftover = writer.describe(LEFTOVER)
    leftover["tokens"] = leftover.pop("bytes") // np.dtype(dtype).itemsize
    del leftover["sequences"]
    return shards, leftover


def _by_source(groups) -> dict:
    out: dict = {}
    for g in groups:
        s = out.setdefault(g.source, {"documents": 0, "tokens": 0})
        s["documents"] += g.documents
        s["tokens"] += g.tokens
    return dict(sorted(out.items()))

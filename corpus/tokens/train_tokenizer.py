"""`corpus train-tokenizer RUN_DIR`: a SentencePiece model from a seeded sample of a run.

Documents of the stage (see corpus.tokens.source) are kept when their seeded key falls under
`tokenizer.sample_chars` / the stage's characters (from its ledger), streamed to the driver in
key order and trained on there (corpus.tokens.tokenizer). The `tokenizer` stage
(corpus.stages.tokens) commits, replacing the previous ones:

    RUN_DIR/tokenizer/spm.model     the model (export-tokens reads it by default)
    RUN_DIR/tokenizer/spm.vocab     piece <TAB> score per line (\\n and \\t pieces escaped)
    RUN_DIR/tokenizer/report.json   stage, sample, options, sha256 of the model

The same documents, seed and options give the same model file; the trainer's thread count
(`tokenizer.num_threads`) is one of those options.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pyarrow.parquet as pq

from corpus.rundir import RunDir
from corpus.tokens.source import documents
from corpus.tokens.tokenizer import EXACT_OPTIONS, TRAINER_KEYS, Tokenizer, train_model

MODEL_PATH = "tokenizer/spm.model"
_KEY_SPACE = 1 << 31


def stage_chars(run: RunDir, stage: str) -> int:
    """Characters kept by a committed stage, from its ledger."""
    with run.fs.open(run.path(run.stage_dirs(stage)["ledger"]), "rb") as f:
        rows = pq.ParquetFile(f).read().to_pylist()
    return sum(r["chars_kept"] for r in rows if r["reason"] is None)


def sample_texts(spark, run: RunDir, stage: str, seed: int, sample_chars: int, counts: dict):
    """Texts of the seeded sample in key order; `counts` gets docs and chars as they pass."""
    from pyspark.sql import functions as F

    total = stage_chars(run, stage)
    rate = 1.0 if total <= sample_chars else sample_chars / total
    docs = documents(spark, run, stage, seed, first_copies=True)
    if rate < 1.0:
        docs = docs.where(F.pmod("key", F.lit(_KEY_SPACE)) < F.lit(int(rate * _KEY_SPACE)))
    counts.update(rate=rate, stage_chars=total, docs=0, chars=0)
    for row in docs.select("text", "key", "id").orderBy("key", "id").toLocalIterator():
        counts["docs"] += 1
        counts["chars"] += len(row.text)
        yield row.text


def vocab_lines(tok: Tokenizer) -> str:
    sp = tok.sp
    esc = {"\n": "\\n", "\t": "\\t"}
    return "".join(f"{esc.get(sp.id_to_piece(i), sp.id_to_piece(i))}\t{sp.get_score(i)}\n"
                   for i in range(tok.vocab_size))


def train_tokenizer(spark, run: RunDir, cfg: dict, stage: str, staged: str) -> dict:
    """Train on the documents of `stage` with `cfg['tokenizer']`; write the model, vocabulary
    and report under the staged folder `staged` (relative to the run); returns the report."""
    p = cfg["tokenizer"]
    entry = run.manifest()["stages"][stage]
    t0 = time.time()
    counts: dict = {}
    model = train_model(sample_texts(spark, run, stage, int(p["seed"]), int(p["sample_chars"]),
                                     counts), p)
    tok = Tokenizer(model)
    report = {
        "model": "spm.model", "sha256": tok.sha256, "bytes": len(model),
        "vocab_size": tok.vocab_size, "eos_id": tok.eos_id,
        "stage": stage, "stage_committed_at": entry.get("committed_at"),
        "seed": int(p["seed"]), "sample": counts,
        "options": {**{k: p[k] for k in TRAINER_KEYS if k in p}, **EXACT_OPTIONS},
        "seconds": round(time.time() - t0, 2),
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    run.fs.makedirs(run.path(staged), exist_ok=True)
    with run.fs.open(run.path(staged, "spm.model"), "wb") as f:
        f.write(model)
    with run.fs.open(run.path(staged, "spm.vocab"), "w") as f:
        f.write(vocab_lines(tok))
    with run.fs.open(run.path(staged, "report.json"), "w") as f:
        f.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report

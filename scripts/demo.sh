#!/usr/bin/env bash
# Quickstart 1: set up, then run the pipeline on the bundled sample with Spark in local mode
# (ingest, clean, dedup, decontaminate, balance), train a tokenizer on the balanced shards and
# export them as token shards, printing the funnel. Output: runs/sample (rerun with --force to
# redo committed stages). Extra arguments go to `corpus run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${CORPUS_VENV:-.venv}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
"$venv/bin/corpus" run \
  --input warc:sample/warc books:sample/books forums:sample/forums \
  --output runs/sample "$@"
# The sample holds about a million characters: a small vocabulary and short sequences.
tokens=(--set tokenizer.vocab_size=8000 --set tokens.seq_len=512)
"$venv/bin/corpus" train-tokenizer runs/sample "${tokens[@]}" >/dev/null
"$venv/bin/corpus" export-tokens runs/sample "${tokens[@]}" >/dev/null
"$venv/bin/corpus" stats runs/sample | sed -n '/^stage tokens/,$p'
echo
echo "[demo] balanced shards: runs/sample/balance/ (_manifest.json); token shards: runs/sample/tokens/"
echo "[demo] the same funnel as JSON: $venv/bin/corpus stats runs/sample --json"
echo "[demo] an HTML report of the run: $venv/bin/corpus report runs/sample (writes runs/sample/report.html)"

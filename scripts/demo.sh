#!/usr/bin/env bash
# Quickstart 1: set up, then run the pipeline on the bundled sample with Spark in local mode
# and print the funnel. Output: runs/sample (rerun with --force to redo committed stages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
venv="${CORPUS_VENV:-.venv}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
"$venv/bin/corpus" run \
  --input warc:sample/warc books:sample/books forums:sample/forums \
  --output runs/sample "$@"
echo
echo "[demo] the same funnel as JSON: $venv/bin/corpus stats runs/sample --json"

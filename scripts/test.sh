#!/usr/bin/env bash
# Quickstart 2: set up with the dev extras, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
venv="${CORPUS_VENV:-.venv}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
"$venv/bin/python" -m pytest "$@"

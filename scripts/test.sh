#!/usr/bin/env bash
# Quickstart 2: set up with the dev extras, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
venv="${CORPUS_VENV:-.venv}"

# The notebook test draws Chinese: it needs a Noto CJK font (Debian/Ubuntu: fonts-noto-cjk).
if ! { command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -i "Noto S[a-z]* CJK" >/dev/null; } \
   && ! ls /usr/share/fonts/opentype/noto/Noto*CJK* >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
  fi
  if [ "$sudo" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[test] no Noto CJK font and no root/sudo apt-get to install fonts-noto-cjk: skipped" \
         "(the notebook test will report the missing font)"
  else
    echo "[test] installing fonts-noto-cjk (Chinese in notebook figures)"
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq fonts-noto-cjk >/dev/null; } \
      || echo "[test] could not install fonts-noto-cjk (the notebook test will report the missing font)"
  fi
fi

export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
"$venv/bin/python" -m pytest "$@"

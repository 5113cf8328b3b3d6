#!/usr/bin/env bash
# Quickstart 2: set up with the dev extras, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
venv="${CORPUS_VENV:-.venv}"

# The notebooks and `corpus report` draw Chinese: they need a Noto CJK font (Debian/Ubuntu:
# fonts-noto-cjk); the report's browser test renders it in headless Chromium (Debian: chromium).
has_cjk_font() {
  { command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -i "Noto S[a-z]* CJK" >/dev/null; } \
    || ls /usr/share/fonts/opentype/noto/Noto*CJK* >/dev/null 2>&1
}
has_chromium() {
  [ -n "${CORPUS_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || command -v google-chrome >/dev/null 2>&1
}
missing=()
has_cjk_font || missing+=(fonts-noto-cjk)
has_chromium || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
  fi
  if [ "$sudo" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "[test] cannot install ${missing[*]}: no root/sudo apt-get" >&2
  else
    echo "[test] installing ${missing[*]} (Chinese in figures; the report's browser test)"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; } \
      || echo "[test] could not install ${missing[*]}" >&2
  fi
fi
if ! has_cjk_font; then
  echo "[test] ERROR: no Noto CJK font: Chinese in the notebooks' and the report's figures would be boxes;" \
       "install one (Debian/Ubuntu: apt-get install fonts-noto-cjk) and run again" >&2
  exit 1
fi
has_chromium || echo "[test] WARNING: no Chromium: tests/test_report.py's browser test will fail" \
                     "(Debian: apt-get install chromium, or set CORPUS_CHROMIUM)" >&2

export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
"$venv/bin/python" -m pytest "$@"

#!/usr/bin/env bash
# Create .venv with Python 3.11 and install twinstudy into it. Idempotent: a second run is quick.
# Usage: bash scripts/setup.sh [extras]   (extras e.g. "dev"; default: none)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras=${1:-}
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
stamp=".venv/.installed-${extras:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # llama-cpp-python compiles from source the first time (about 5 minutes); pip caches the wheel.
  .venv/bin/python -m pip install --quiet -e "$spec"
  touch "$stamp"
fi

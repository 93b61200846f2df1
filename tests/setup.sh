#!/usr/bin/env bash
# Installs what the tests need besides Rust: DuckDB's Python package (interop test), Node.js (the
# reference implementation of the original tools) and Chromium (the HTML dashboard test).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v chromium >/dev/null || missing="$missing chromium"
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

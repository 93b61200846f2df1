#!/usr/bin/env bash
# Installs what the tests need besides Rust: DuckDB's Python package (interop test) and
# statsmodels (the reference for `compare`'s statistics), Node.js (the reference implementation
# of the original tools), Chromium (the HTML dashboard test), Prometheus' promtool (the
# `metrics` test) and Alertmanager (the notification test), and two S3 servers for the
# object-store tests: moto (an emulator that honours conditional writes) and Garage (a real S3
# server; `cargo install`, ~13 min once per machine, kept in ~/.cargo/bin).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb, statsmodels, moto.server" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v chromium >/dev/null || missing="$missing chromium"
# promtool and Alertmanager need none of their packages' recommendations (exporters, web assets).
lean=""
command -v promtool >/dev/null || lean="$lean prometheus"
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null ||
  lean="$lean prometheus-alertmanager"
if [ -n "$missing$lean" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  [ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
  [ -z "$lean" ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $lean >/dev/null
fi
# Garage 2.5.0 with only what a single test node needs (SQLite metadata, bundled C libraries).
# Unoptimised (`--debug`): the tests move a few MB through it, and an optimised build takes
# ~13 min on 2 cores.
[ -x "$HOME/.cargo/bin/garage" ] || command -v garage >/dev/null ||
  cargo install --quiet --locked --debug garage --version 2.5.0 --no-default-features --features bundled-libs,sqlite

#!/usr/bin/env bash
# Side-by-side benchmark of obsq and DuckDB on the same generated data (A B A B, medians, ratios).
# Usage: bench/compare.sh [--skill-gb 1.0] [--runs 3] [--work DIR]
# Installs DuckDB's Python package if it is missing; builds obsq in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
cargo build --release --quiet
exec python3 bench/compare.py --obsq target/release/obsq "$@"

#!/usr/bin/env bash
# Side-by-side benchmarks of obsq and DuckDB on the same generated data (A B A B, medians, ratios).
# Usage: bench/compare.sh [--skill-gb 1.0] [--runs 3] [--work DIR]          ingest (JSONL → Parquet)
#        bench/compare.sh reports [--events 10000000] [--runs 5] [--work DIR] canned-report latency
# Installs DuckDB's Python package if it is missing; builds obsq in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
cargo build --release --quiet
target="${CARGO_TARGET_DIR:-target}"
if [ "${1:-}" = "reports" ]; then
  shift
  exec python3 bench/reports.py --obsq "$target/release/obsq" "$@"
fi
exec python3 bench/compare.py --obsq "$target/release/obsq" "$@"

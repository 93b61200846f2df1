#!/usr/bin/env bash
# Side-by-side benchmarks of obsq and DuckDB on one generated dataset (A B A B, medians, ratios):
# JSONL → Parquet ingest of the skill stream on every generator shape and on two layouts of it (one
# day; files of 1,000 lines in 5,500 folders) (throughput, peak RSS, stored size; a table per
# shape), a backfill of the whole dataset and of a dirty one of another shape (peak RSS), every canned report on the same
# Parquet (30 and 90 days, and a 24 h report pruned), ingest growth (1M, 10M, 30M events), and
# one `obsq record` process; reports on a loopback Ballista cluster and ingest into an S3 root.
# Usage: bench/compare.sh [--events 10000000] [--runs 3] [--work DIR]
#                         [--only ingest|backfill|reports|growth|record|cluster|s3] [--shape NAME|all]
#                         [--baseline OTHER_OBSQ_BINARY]   (ingest A/B of a change, same rotation)
# Installs DuckDB's Python package and native CLI if missing; builds obsq in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
# The native DuckDB binary (PyPI's duckdb-cli), the reference of the report ratios.
command -v duckdb >/dev/null || python3 -m pip install --quiet duckdb-cli
cargo build --release --quiet
target="${CARGO_TARGET_DIR:-target}"
exec python3 bench/compare.py --obsq "$target/release/obsq" "$@"

"""obsq vs DuckDB, measured side by side in one run (called by bench/compare.sh).

Ingest: JSONL skill stream -> date-partitioned zstd Parquet. obsq: `obsq ingest --source DIR`.
DuckDB: COPY (SELECT *, CAST(timestamp AS DATE) AS date FROM read_json(...)) TO ...
(FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd). Both as fresh processes, alternating
A B A B; wall time and peak RSS from /usr/bin/time. Also: stored size, the cost of one
`obsq record` process.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS MiB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = out.stderr.strip().splitlines()[-1]
    if out.returncode not in (0, 3):
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    secs, kb = last.split()
    return float(secs), int(kb) / 1024


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obsq", required=True)
    ap.add_argument("--skill-gb", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--record-calls", type=int, default=200)
    a = ap.parse_args()
    obsq = os.path.abspath(a.obsq)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "skill-src")
    # ~330 bytes per generated skill line.
    rows = int(a.skill_gb * 1e9 / 330)
    if not os.path.exists(os.path.join(src, "logs")):
        subprocess.run([obsq, "generate", "--rows", str(rows), "--seed", "42", "--days", "30",
                        "--end", "2026-11-28", "--streams", "skill", "--out", src], check=True)
    jsonl = du(src)
    print(f"input: {jsonl / 1e9:.2f} GB of skill JSONL ({rows} lines)")

    res = {"obsq": [], "duckdb": []}
    sizes = {}
    for i in range(a.runs):
        for name in ("obsq", "duckdb"):
            out = os.path.join(work, f"{name}-root")
            shutil.rmtree(out, ignore_errors=True)
            if name == "obsq":
                cmd = [obsq, "--root", out, "ingest", "--source", src]
            else:
                os.makedirs(out)
                q = (f"COPY (SELECT *, CAST(timestamp AS DATE) AS date FROM read_json('{src}/logs/*.jsonl', "
                     f"format='newline_delimited')) TO '{out}/data' (FORMAT parquet, PARTITION_BY (date), "
                     f"COMPRESSION zstd)")
                cmd = [sys.executable, "-c", f"import duckdb; duckdb.sql({q!r})"]
            secs, rss = timed(cmd)
            res[name].append((secs, rss))
            sizes[name] = du(os.path.join(out, "data"))
            print(f"  run {i + 1} {name:6s}: {secs:7.2f} s  {jsonl / 1e6 / secs:7.1f} MB/s  peak RSS {rss:7.0f} MiB")

    med = {k: (statistics.median(s for s, _ in v), statistics.median(r for _, r in v)) for k, v in res.items()}
    print("\ningest (median of %d)        obsq        duckdb      ratio" % a.runs)
    print(f"  wall time           {med['obsq'][0]:9.2f} s {med['duckdb'][0]:9.2f} s   {med['duckdb'][0] / med['obsq'][0]:5.2f}x faster")
    print(f"  throughput          {jsonl / 1e6 / med['obsq'][0]:7.1f} MB/s {jsonl / 1e6 / med['duckdb'][0]:7.1f} MB/s")
    print(f"  peak RSS            {med['obsq'][1]:7.0f} MiB {med['duckdb'][1]:7.0f} MiB")
    print(f"  stored / JSONL      {sizes['obsq'] / jsonl:9.4f}   {sizes['duckdb'] / jsonl:9.4f}   (1/{jsonl / sizes['obsq']:.1f} vs 1/{jsonl / sizes['duckdb']:.1f})")

    root = os.path.join(work, "record-root")
    shutil.rmtree(root, ignore_errors=True)
    lat = []
    for i in range(a.record_calls):
        t = time.perf_counter()
        subprocess.run([obsq, "--root", root, "record", "cuj", "--cuj-id", "CUJ-001", "--success", "true",
                        "--duration-ms", str(i)], check=True)
        lat.append((time.perf_counter() - t) * 1000)
    print(f"\n`obsq record` process: median {statistics.median(lat):.2f} ms over {a.record_calls} calls")


if __name__ == "__main__":
    main()

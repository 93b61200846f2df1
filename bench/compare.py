"""obsq vs DuckDB on one generated dataset, measured side by side in one run (called by
bench/compare.sh). Every measurement is a fresh process, alternating A B A B; medians and ratios.

1. ingest: the dataset's skill stream (JSONL) -> date-partitioned zstd Parquet, on every shape
   `obsq generate --shape` makes (or the one given with --shape), with a table per shape.
   obsq: `obsq ingest --source DIR`. DuckDB (its native CLI, PyPI's duckdb-cli; the Python package
   when there is no CLI): COPY (SELECT *, CAST(timestamp AS DATE) AS date FROM read_json(...))
   TO ... (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd).
   Wall time, peak RSS and CPU time (user + system) from /usr/bin/time; stored size of each.
   Two layouts of the `tools` lines join the shapes (LAYOUTS): `one-day`, the events of a whole
   dataset on one day (one partition, as an ingest of today's events writes), and `many-files`,
   the 30 days of `tools` split into files of 1,000 lines, each in a folder of its own (one per
   agent session or project); DuckDB reads those with a `**` glob.
2. backfill: `obsq backfill` of the whole dataset (all four streams), of a dataset of another
   shape (`foreign`) with 5 % bad lines and at least 2.5 GB of JSONL, and of 2.6 GB of long lines
   (0.2-1 MB each, all four streams, 5 % bad; see `long_lines`): wall time, peak RSS.
3. reports: every canned report on the backfilled store, obsq vs DuckDB on the same Parquet
   files (bench/reports.py); then the same on a 90-day store, and a 24 h report on the 90-day
   store against a store of one day of the same density (partition pruning).
4. growth: `obsq ingest` of 1M, 10M and 30M events (all four streams, one shape): time per
   event against linear, each run started on a rested host (see `settle`); then the smallest
   size over 3 days instead of 30, for the share of its fixed cost its partitions take.
5. the cost of one `obsq record` process.
6. cluster and s3 (bench/distributed.py): reports in-process vs on a loopback Ballista cluster,
   and ingest into a local root vs an S3 root on a loopback Garage server.
"""

import argparse
import base64
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

import distributed
import reports


def timed(cmd):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS MiB, CPU seconds: user + system)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S"] + cmd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = out.stderr.strip().splitlines()[-1]
    if out.returncode not in (0, 3):
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    secs, kb, user, system = last.split()
    return float(secs), int(kb) / 1024, float(user) + float(system)


def probe():
    """Wall seconds of a fixed one-thread loop: how fast the host runs right now. On a shared
    host the same loop took 0.70 s rested and 1.38 s right after a 19 s ingest of 30M events,
    so a short run that follows a long one can be slow through no fault of its own."""
    t = time.perf_counter()
    x = 0
    for i in range(1_000_000):
        x += i * i % 7
    return time.perf_counter() - t


def settle(best, limit=45.0):
    """Waits, probing every 2 s, until the host runs the probe within 10 % of `best` (the fastest
    probe seen), at most `limit` seconds; returns (the last probe, seconds waited)."""
    waited = 0.0
    p = probe()
    while p > 1.10 * best and waited < limit:
        time.sleep(2)
        waited += 2
        p = probe()
    return p, waited


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


# The shapes of `obsq generate --shape` (src/generate.rs, SHAPES).
SHAPES = ["tools", "objects", "unique", "long-text", "sparse", "named-steps", "foreign", "merged", "python"]
# Layouts of the `tools` lines that no shape has: see the docstring, and `layout`.
LAYOUTS = ["one-day", "many-files"]
# Lines per file of the `many-files` layout.
MANY_FILES_LINES = 1000


def warm(path):
    """Reads every file under `path` once, so that a timed run finds them in the page cache."""
    for root, _, files in os.walk(path):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                while fh.read(1 << 24):
                    pass


def dataset(obsq, work, events, shape, days=30, dirty=0.0):
    """The generated dataset of one shape (made once, then reused)."""
    name = f"src-{events}" + ("" if shape == "tools" else f"-{shape}")
    name += ("" if days == 30 else f"-{days}d") + ("" if not dirty else f"-dirty{dirty}")
    src = os.path.join(work, name)
    if not os.path.exists(os.path.join(src, "logs")):
        subprocess.run([obsq, "generate", "--rows", str(events), "--seed", "42", "--days", str(days),
                        "--end", "2026-11-28", "--shape", shape, "--dirty", str(dirty), "--out", src],
                       check=True, stdout=subprocess.DEVNULL)
    return src


def skill_only(work, src, name):
    """The skill files of `src`, linked into a folder of their own (made once)."""
    skill = os.path.join(work, f"skill-only-{name}")
    if not os.path.isdir(os.path.join(skill, "logs")):
        os.makedirs(os.path.join(skill, "logs"))
        for f in sorted(os.listdir(os.path.join(src, "logs"))):
            if f.startswith("skill-invocations-"):
                os.link(os.path.join(src, "logs", f), os.path.join(skill, "logs", f))
    return skill


def many_files(work, tools_skill):
    """The `tools` skill lines in files of MANY_FILES_LINES lines, in order, each file in a folder
    of its own: `s<n>/logs/skill-invocations-<day>.jsonl` (made once)."""
    out = os.path.join(work, "skill-only-many-files")
    if os.path.isdir(out):
        return out
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    n = 0
    for f in sorted(os.listdir(os.path.join(tools_skill, "logs"))):
        with open(os.path.join(tools_skill, "logs", f), "rb") as fin:
            while True:
                lines = [line for _, line in zip(range(MANY_FILES_LINES), fin)]
                if not lines:
                    break
                d = os.path.join(tmp, f"s{n:05d}", "logs")
                os.makedirs(d)
                with open(os.path.join(d, f), "wb") as fout:
                    fout.writelines(lines)
                n += 1
    os.rename(tmp, out)
    return out


def layout(obsq, work, events, name):
    """The skill folder of a shape or of a layout (LAYOUTS), and DuckDB's glob of its files."""
    if name == "one-day":
        return skill_only(work, dataset(obsq, work, events, "tools", days=1), name), "logs/*.jsonl"
    if name == "many-files":
        tools = skill_only(work, dataset(obsq, work, events, "tools"), "tools")
        return many_files(work, tools), "**/*.jsonl"
    return skill_only(work, dataset(obsq, work, events, name), name), "logs/*.jsonl"


def ingest(obsq, work, skill, runs, shape="tools", baseline=None, glob="logs/*.jsonl"):
    """obsq vs DuckDB on the skill files in `skill` (DuckDB reads `glob` below it), and another
    obsq build, `baseline`, in the same rotation when given; returns the medians."""
    jsonl = du(skill)
    # The first run of a shape would otherwise read the files from disk (the previous shape's
    # files, or generating this one, pushed them out of the page cache), and it is always obsq's.
    warm(skill)
    print(f"\ningest, shape {shape}: {jsonl / 1e9:.2f} GB of skill JSONL; {runs} runs each, alternating")
    names = ("obsq", "base", "duckdb") if baseline else ("obsq", "duckdb")
    res = {name: [] for name in names}
    sizes = {}
    for i in range(runs):
        for name in names:
            out = os.path.join(work, f"ingest-{name}")
            shutil.rmtree(out, ignore_errors=True)
            if name in ("obsq", "base"):
                cmd = [obsq if name == "obsq" else baseline, "--root", out, "ingest", "--source", skill]
            else:
                os.makedirs(out)
                q = (f"SET enable_progress_bar = false; COPY (SELECT *, CAST(timestamp AS DATE) AS date FROM read_json('{skill}/{glob}', "
                     f"format='newline_delimited')) TO '{out}/data' (FORMAT parquet, PARTITION_BY (date), "
                     f"COMPRESSION zstd)")
                cli = shutil.which("duckdb")
                cmd = [cli, "-c", q] if cli else [sys.executable, "-c", f"import duckdb; duckdb.sql({q!r})"]
            secs, rss, cpu = timed(cmd)
            res[name].append((secs, rss, cpu))
            sizes[name] = du(os.path.join(out, "data"))
            print(f"  run {i + 1} {name:6s}: {secs:7.2f} s  {jsonl / 1e6 / secs:7.1f} MB/s  peak RSS {rss:7.0f} MiB"
                  f"  CPU {cpu:6.2f} s")
    med = {k: tuple(statistics.median(run[j] for run in v) for j in range(3)) for k, v in res.items()}
    print(f"ingest (median of {runs})        obsq        duckdb      ratio")
    print(f"  wall time           {med['obsq'][0]:9.2f} s {med['duckdb'][0]:9.2f} s   "
          f"obsq {med['duckdb'][0] / med['obsq'][0]:4.2f}x DuckDB's throughput")
    # Each round runs obsq and DuckDB back to back: the spread of the rounds' ratios says how
    # far a noisy host moves the ratio of the medians (one host gave 4.3 to 6.5 s for one input).
    rounds = sorted(d[0] / o[0] for o, d in zip(res["obsq"], res["duckdb"]))
    print(f"  each round's ratio  {rounds[0]:4.2f}x to {rounds[-1]:4.2f}x (median {statistics.median(rounds):4.2f}x)")
    print(f"  throughput          {jsonl / 1e6 / med['obsq'][0]:7.1f} MB/s {jsonl / 1e6 / med['duckdb'][0]:7.1f} MB/s")
    print(f"  peak RSS            {med['obsq'][1]:7.0f} MiB {med['duckdb'][1]:7.0f} MiB")
    # Wall time is the target; CPU time (user + system) is the work done, which a busy or noisy
    # machine disturbs less, and whose ratio shows how much of a gap is work and how much is
    # cores left idle.
    print(f"  CPU (user + system) {med['obsq'][2]:9.2f} s {med['duckdb'][2]:9.2f} s   "
          f"obsq does {med['duckdb'][2] / med['obsq'][2]:4.2f}x less work")
    print(f"  stored / JSONL      {sizes['obsq'] / jsonl:9.4f}   {sizes['duckdb'] / jsonl:9.4f}   "
          f"(1/{jsonl / sizes['obsq']:.1f} vs 1/{jsonl / sizes['duckdb']:.1f})")
    base_s = med["base"][0] if baseline else None
    if baseline:
        print(f"  baseline build      {base_s:9.2f} s   obsq {base_s / med['obsq'][0]:4.2f}x the baseline's throughput, "
              f"the baseline {med['duckdb'][0] / base_s:4.2f}x DuckDB's")
    return {"base_s": base_s, "shape": shape, "gb": jsonl / 1e9, "obsq_s": med["obsq"][0], "duckdb_s": med["duckdb"][0],
            "obsq_mbs": jsonl / 1e6 / med["obsq"][0], "duckdb_mbs": jsonl / 1e6 / med["duckdb"][0],
            "rss": med["obsq"][1], "stored": jsonl / sizes["obsq"],
            "obsq_cpu": med["obsq"][2], "duckdb_cpu": med["duckdb"][2], "rounds": (rounds[0], rounds[-1])}


def shape_table(rows):
    """One line per shape: the ingest medians side by side (and the baseline build's, if any)."""
    base = rows and rows[0]["base_s"] is not None
    print("\ningest per shape (medians)  GB     obsq s  DuckDB s  obsq MB/s  ratio  peak MiB  stored"
          "  CPU obsq s  DuckDB s  ratio  rounds' ratios"
          + ("    base s  base ratio  obsq/base" if base else ""))
    for r in rows:
        line = (f"  {r['shape']:<22} {r['gb']:5.2f} {r['obsq_s']:9.2f} {r['duckdb_s']:9.2f} {r['obsq_mbs']:10.1f}"
                f"  {r['duckdb_s'] / r['obsq_s']:4.2f}x {r['rss']:9.0f}  1/{r['stored']:<5.1f}"
                f" {r['obsq_cpu']:10.2f} {r['duckdb_cpu']:9.2f} {r['duckdb_cpu'] / r['obsq_cpu']:5.2f}x"
                f"  {r['rounds'][0]:4.2f}-{r['rounds'][1]:4.2f}x")
        if base:
            line += (f" {r['base_s']:9.2f}  {r['duckdb_s'] / r['base_s']:9.2f}x"
                     f"  {r['base_s'] / r['obsq_s']:8.2f}x")
        print(line)


def backfill(obsq, work, src, events, name=None):
    """Backfills the whole dataset once; returns the store."""
    root = os.path.join(work, name or f"store-{events}")
    shutil.rmtree(root, ignore_errors=True)
    jsonl = du(src)
    secs, rss, _ = timed([obsq, "--root", root, "backfill", src])
    stored = du(os.path.join(root, "data"))
    print(f"\nbackfill of {os.path.basename(src)}: {jsonl / 1e9:.2f} GB, all four streams: {secs:.2f} s, {jsonl / 1e6 / secs:.0f} MB/s, "
          f"peak RSS {rss:.0f} MiB (target < 1024), stored {stored / 1e6:.0f} MB = 1/{jsonl / stored:.1f} of the JSONL")
    return root


def long_lines(obsq, work):
    """2.6 GB of JSONL lines of 0.2 to 1 MB, a quarter in each stream, 5 % of them cut short (bad):
    the lines of the small generated dataset, each given a text of random base64 (which
    compresses little, so a flush's Parquet is nearly as large as its rows) in `error` (or
    `message` for progress). Made once, deterministic."""
    out = os.path.join(work, "src-long-lines")
    if os.path.isdir(out):
        return out
    base = dataset(obsq, work, 1_000_000, "tools")
    rng = random.Random(42)
    blob = base64.b64encode(rng.randbytes(3 << 20)).decode()
    first_skill = sorted(f for f in os.listdir(os.path.join(base, "logs")) if f.startswith("skill-invocations-"))[0]
    files = [(os.path.join("logs", first_skill), "error"), (os.path.join("logs", "progress.jsonl"), "message"),
             (os.path.join("analytics", "cuj-metrics.jsonl"), "error"),
             (os.path.join("analytics", "provider-health.jsonl"), "error")]
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, field in files:
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        written = 0
        with open(os.path.join(base, rel)) as fin, open(os.path.join(tmp, rel), "w") as fout:
            for line in fin:
                if written >= 650_000_000:
                    break
                event = json.loads(line)
                n = rng.randint(200_000, 1_000_000)
                at = rng.randint(0, len(blob) - n)
                event[field] = blob[at:at + n]
                text = json.dumps(event)
                if rng.random() < 0.05:
                    text = text[:len(text) // 2]
                fout.write(text + "\n")
                written += len(text) + 1
    os.rename(tmp, out)
    return out


def growth(obsq, work, sizes, shape, runs):
    """`obsq ingest` of datasets of growing size (one shape): seconds per million events
    (medians of `runs`). The sizes run in rotation (1M, 10M, 30M, 1M, ...), so that a spell in
    which the host runs slow falls on every size alike: run one size after the other and a
    slow few minutes bend the curve (one host ran the same 1M ingest in 0.75 to 1.01 s)."""
    print(f"\ngrowth: obsq ingest of all four streams, shape {shape}; medians of {runs} runs, the sizes in rotation")
    srcs = [dataset(obsq, work, events, shape) for events in sizes]
    root = os.path.join(work, "growth-root")
    times = {events: [] for events in sizes}
    probes = {events: [] for events in sizes}
    best, waited = min(probe() for _ in range(5)), 0.0
    for _ in range(runs):
        for events, src in zip(sizes, srcs):
            shutil.rmtree(root, ignore_errors=True)
            # Read just before its run: a rotation with its waits takes minutes, and a host that
            # pages out file pages unused for a minute (this VM's DAMON) left the 1M source
            # 82 % resident, which ran 0.81 s against 0.63 s right after a read.
            warm(src)
            # Each size starts on a rested host: in the rotation 1M follows 30M, and a host that
            # slows after a long run measured 1M slow for that (the probe, before this wait:
            # 1M 0.103 s, 10M 0.070, 30M 0.068).
            p, w = settle(best)
            best, waited = min(best, p), waited + w
            probes[events].append(p)
            times[events].append(timed([obsq, "--root", root, "ingest", "--source", src]))
    base = None
    points = []
    for events, src in zip(sizes, srcs):
        secs = statistics.median(t for t, _, _ in times[events])
        rss = statistics.median(r for _, r, _ in times[events])
        cpu = statistics.median(c for _, _, c in times[events])
        per = secs / events * 1e6
        base = base or per
        points.append((events / 1e6, secs))
        spread = sorted(t / events * 1e6 for t, _, _ in times[events])
        print(f"  {events:>10,} events  {du(src) / 1e9:6.2f} GB  {secs:7.2f} s  {per:6.3f} s per 1M events"
              f" (runs {spread[0]:.3f} to {spread[-1]:.3f})  ({per / base - 1:+.1%} against linear from the first)"
              f"  peak RSS {rss:5.0f} MiB  CPU {cpu / events * 1e6:6.3f} s per 1M events")
    # Each rotation runs every size back to back: its ratios to the first size, like the
    # ingest table's per-round ratios, say how far the host's drift moves the medians' ratio.
    for events in sizes[1:]:
        per_round = sorted((t / events) / (t1 / sizes[0]) - 1
                           for (t, _, _), (t1, _, _) in zip(times[events], times[sizes[0]]))
        print(f"  {events:>10,} events against {sizes[0]:,} in each rotation: {per_round[0]:+.1%} to"
              f" {per_round[-1]:+.1%} (median {statistics.median(per_round):+.1%})")
    # The host's speed just before each size's runs: a size that always follows a long run
    # (1M after 30M in the rotation) may be measured on a host slowed by that run.
    print("  host probe just before the runs (a fixed one-thread loop, median; larger is slower): "
          + ", ".join(f"{events / 1e6:g}M {statistics.median(probes[events]):.3f} s" for events in sizes)
          + f"; fastest {best:.3f} s; {waited:.0f} s waited in all for the host to settle")
    # Where the curve bends: the time each step up in size adds per million events (its
    # marginal cost) and the fixed cost that leaves on the smaller size.
    for (n1, t1), (n2, t2) in zip(points, points[1:]):
        marginal = (t2 - t1) / (n2 - n1)
        print(f"  {n1:g}M -> {n2:g}M events: {marginal:.3f} s per 1M more events;"
              f" fixed cost left on {n1:g}M: {t1 - marginal * n1:+.3f} s")
    partitions(obsq, work, sizes[0], shape, srcs[0], root, runs, best)
    shutil.rmtree(root, ignore_errors=True)


def parquet_files(root):
    """Parquet files under `root`."""
    return sum(f.endswith(".parquet") for _, _, files in os.walk(root) for f in files)


def partitions(obsq, work, events, shape, src, root, runs, best):
    """How much of the smallest size's fixed cost is its partitions: the same number of events
    over 3 days instead of 30 (a tenth of the day directories and Parquet files, the same
    bytes), alternated with the 30-day dataset. Every file costs the same whatever its rows
    (zstd contexts, the file's and its directory's inodes, fsyncs), so at the smallest size
    they are a larger share of the time."""
    few = dataset(obsq, work, events, shape, days=3)
    times = {src: [], few: []}
    files = {}
    for _ in range(runs):
        for s in (src, few):
            shutil.rmtree(root, ignore_errors=True)
            warm(s)  # as in `growth`
            settle(best)
            times[s].append(timed([obsq, "--root", root, "ingest", "--source", s])[0])
            files[s] = parquet_files(root)
    t30, t3 = (statistics.median(times[s]) for s in (src, few))
    print(f"  {events:,} events over 3 days ({files[few]} Parquet files) instead of 30 ({files[src]}):"
          f" {t3:.2f} s against {t30:.2f} s: the partitions cost {t30 - t3:+.3f} s of the {events / 1e6:g}M run")


def record(obsq, work, calls):
    root = os.path.join(work, "record-root")
    shutil.rmtree(root, ignore_errors=True)
    lat = []
    for i in range(calls):
        t = time.perf_counter()
        subprocess.run([obsq, "--root", root, "record", "cuj", "--cuj-id", "CUJ-001", "--success", "true",
                        "--duration-ms", str(i)], check=True)
        lat.append((time.perf_counter() - t) * 1000)
    print(f"\n`obsq record` process: median {statistics.median(lat):.2f} ms over {calls} calls")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obsq", required=True)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--record-calls", type=int, default=200)
    ap.add_argument("--shape", choices=SHAPES + LAYOUTS + ["all"], default="all",
                    help="the dataset shapes (or layouts) of the ingest comparison (default: all)")
    ap.add_argument("--baseline", metavar="BIN",
                    help="another obsq build whose ingest runs in the same rotation (A/B of a change)")
    ap.add_argument("--growth", default="1000000,10000000,30000000",
                    help="dataset sizes of the growth part (events, comma-separated)")
    ap.add_argument("--only", choices=["ingest", "backfill", "reports", "growth", "record", "cluster", "s3"],
                    help="run one part (reports reuse the backfilled store when present)")
    a = ap.parse_args()
    obsq = os.path.abspath(a.obsq)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    src = dataset(obsq, work, a.events, "tools")
    print(f"dataset: {a.events} events, {du(src) / 1e9:.2f} GB of JSONL in {src}")
    part = a.only
    if part in (None, "ingest"):
        shapes = SHAPES + LAYOUTS if a.shape == "all" else [a.shape]
        baseline = os.path.abspath(a.baseline) if a.baseline else None
        rows = []
        for sh in shapes:
            skill, glob = layout(obsq, work, a.events, sh)
            rows.append(ingest(obsq, work, skill, a.runs, sh, baseline, glob))
        shape_table(rows)
    root = os.path.join(work, f"store-{a.events}")
    if part in (None, "backfill") or (part in ("reports", "cluster") and not os.path.exists(os.path.join(root, "catalog.sqlite"))):
        root = backfill(obsq, work, src, a.events)
    if part in (None, "backfill"):
        # Another shape, 5 % bad lines, at least 2.5 GB: the memory bound holds on it too.
        dirty = dataset(obsq, work, max(a.events, 12_000_000), "foreign", dirty=0.05)
        shutil.rmtree(backfill(obsq, work, dirty, a.events, "store-dirty"), ignore_errors=True)
        # Lines of 0.2-1 MB that compress little: the bound holds whatever the line length.
        shutil.rmtree(backfill(obsq, work, long_lines(obsq, work), a.events, "store-long"), ignore_errors=True)
    if part in (None, "reports"):
        runs = max(a.runs, 5)
        reports.run(obsq, root, src, a.events, runs)
        # 90 days of the same events, and one day of the same density: a 24 h report must prune.
        src90 = dataset(obsq, work, a.events, "tools", days=90)
        root90 = os.path.join(work, f"store-{a.events}-90d")
        if not os.path.exists(os.path.join(root90, "catalog.sqlite")):
            backfill(obsq, work, src90, a.events, os.path.basename(root90))
        reports.run(obsq, root90, src90, a.events, runs, label="90-day store")
        src1 = dataset(obsq, work, a.events // 90, "tools", days=1)
        root1 = os.path.join(work, f"store-{a.events // 90}-1d")
        if not os.path.exists(os.path.join(root1, "catalog.sqlite")):
            backfill(obsq, work, src1, a.events // 90, os.path.basename(root1))
        reports.pruning(obsq, root90, root1, runs)
    if part in (None, "growth"):
        growth(obsq, work, [int(x) for x in a.growth.split(",")], "tools", a.runs)
    if part in (None, "record"):
        record(obsq, work, a.record_calls)
    if part in (None, "cluster"):
        distributed.cluster(obsq, root, max(a.runs, 5))
    if part in (None, "s3"):
        distributed.s3(obsq, work, skill_only(work, src, "tools"), a.runs)


if __name__ == "__main__":
    main()

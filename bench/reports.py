"""Canned-report latency: obsq vs DuckDB on the same Parquet files, and `cuj rate` vs a
whole-file Node.js reader like the original tool (called by bench/compare.py).

One dataset (`obsq generate`, default 10M events over 30 days, all four streams) is ingested
once by obsq; DuckDB then queries the Parquet files obsq wrote (read_parquet with hive
partitioning) with SQL equivalent to each report. Every measurement is a fresh process (start-up
included for both), alternating A B A C; medians and ratios are printed. DuckDB runs twice: as its
native command-line binary (`duckdb -json -c …`, PyPI's duckdb-cli; the reference of the ratio),
and through its Python package, whose wall time includes the interpreter's start and
`import duckdb` (the time DuckDB itself spent inside that process is printed too).
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

NOW = "2026-11-29T00:00:00Z"
NOW_MS = 1795910400000
H, D = 3_600_000, 86_400_000


def ts(ms):
    return f"make_timestamptz({ms} * 1000)"


def window(ms):
    return f"ts BETWEEN {ts(NOW_MS - ms)} AND {ts(NOW_MS)}"


def duck_queries(root):
    t = {s: f"read_parquet('{root}/data/{s}/*/*.parquet', hive_partitioning = true)"
         for s in ("skill_invocations", "cuj_runs", "progress_events", "provider_calls")}
    cuj_all = lambda w: f"""SELECT cuj_id, count(*) AS total, count(*) FILTER (WHERE success) AS successful,
        count(*) FILTER (WHERE NOT success) AS failed,
        count(*) FILTER (WHERE success) / count(*) AS rate,
        sum(coalesce(duration_ms, 0)) / count(*) AS avg_duration_ms
        FROM {t['cuj_runs']} WHERE {window(w)} GROUP BY cuj_id ORDER BY min(ts), cuj_id"""
    cuj_summary = lambda w: f"""WITH per AS (SELECT cuj_id, count(*) AS total,
        count(*) FILTER (WHERE success) AS ok, sum(coalesce(duration_ms, 0)) / count(*) AS avg
        FROM {t['cuj_runs']} WHERE {window(w)} GROUP BY cuj_id)
        SELECT count(*), sum(total), sum(ok), sum(ok) / sum(total), sum(avg * total) / sum(total) FROM per"""
    skills = lambda w: [
        f"""SELECT count(*), count(*) FILTER (WHERE result = 'success'), count(*) FILTER (WHERE result = 'failure'),
            count(*) FILTER (WHERE cache_hit), sum(coalesce(duration_ms, 0)), avg(coalesce(duration_ms, 0))
            FROM {t['skill_invocations']} WHERE {window(w)}""",
        f"""SELECT skill, count(*), sum(coalesce(duration_ms, 0)), count(*) FILTER (WHERE result = 'failure'),
            count(*) FILTER (WHERE cache_hit),
            quantile_disc(coalesce(duration_ms, 0), 0.5), quantile_disc(coalesce(duration_ms, 0), 0.95),
            quantile_disc(coalesce(duration_ms, 0), 0.99)
            FROM {t['skill_invocations']} WHERE {window(w)} GROUP BY skill ORDER BY count(*) DESC""",
        f"""SELECT agent, count(*), sum(coalesce(duration_ms, 0)) FROM {t['skill_invocations']}
            WHERE {window(w)} GROUP BY agent ORDER BY count(*) DESC""",
        f"""SELECT cuj_id, count(*), sum(coalesce(duration_ms, 0)) FROM {t['skill_invocations']}
            WHERE {window(w)} AND cuj_id IS NOT NULL AND cuj_id <> '' GROUP BY cuj_id ORDER BY count(*) DESC""",
    ]
    skills_top = lambda w: f"""SELECT skill, count(*), sum(coalesce(duration_ms, 0)) / count(*),
        count(*) FILTER (WHERE result = 'failure') / count(*), count(*) FILTER (WHERE cache_hit) / count(*)
        FROM {t['skill_invocations']} WHERE {window(w)} GROUP BY skill ORDER BY count(*) DESC LIMIT 10"""
    def failures_of(w, top):
        f = f"""(SELECT ts, cuj_id, duration_ms, error AS raw_error, coalesce(nullif(error, ''), 'Unknown error') AS error,
            coalesce(nullif(error_pattern, ''), 'Unknown error') AS pattern FROM {t['cuj_runs']}
            WHERE NOT success AND {window(w)})"""
        return [
            f"SELECT count(*), count(DISTINCT error), count(DISTINCT pattern) FROM {f}",
            f"""SELECT error, count(*) AS n, min(ts) AS first_seen, max(ts) FROM {f} GROUP BY error
                ORDER BY n DESC, first_seen LIMIT {top}""",
            f"""WITH g AS (SELECT pattern, count(*) AS n, arg_min(error, ts), min(ts) AS first_seen, max(ts) FROM {f} GROUP BY pattern),
                c AS (SELECT pattern, list(cuj_id ORDER BY n DESC, cuj_id) FROM (SELECT pattern, cuj_id, count(*) AS n FROM {f} GROUP BY ALL) GROUP BY pattern)
                SELECT * FROM g JOIN c USING (pattern) ORDER BY n DESC, first_seen LIMIT {top}""",
            f"SELECT * FROM (SELECT ts, raw_error, duration_ms, cuj_id FROM {f} ORDER BY ts DESC LIMIT 5) ORDER BY ts",
        ]

    # The dashboard's trend chart: daily success rate of the 6 busiest CUJs over 7 days.
    trends = f"""WITH runs AS (SELECT cuj_id, ({NOW_MS} - epoch_ms(ts) - 1) // {D} AS i, success FROM {t['cuj_runs']}
        WHERE ts >= {ts(NOW_MS - 7 * D)} AND ts < {ts(NOW_MS)}),
        busiest AS (SELECT cuj_id FROM runs GROUP BY cuj_id ORDER BY count(*) DESC, cuj_id LIMIT 6),
        hits AS (SELECT cuj_id, i, count(*) AS total, count(*) FILTER (WHERE success) AS ok FROM runs
            WHERE cuj_id IN (SELECT cuj_id FROM busiest) GROUP BY ALL)
        SELECT b.cuj_id, r.range, coalesce(total, 0), coalesce(ok, 0), ok / total FROM busiest AS b
        CROSS JOIN range(0, 7) AS r LEFT JOIN hits AS h ON h.cuj_id = b.cuj_id AND h.i = r.range
        ORDER BY b.cuj_id, r.range DESC"""

    # `compare`, as the dashboard's "what changed": 7 days against the 7 before, per group.
    def compare(table, grp, ms):
        ev = f"""(SELECT {grp} AS grp, ts, ts >= {ts(NOW_MS - 7 * D)} AS cur, success AS ok, {ms} AS ms,
            CASE WHEN NOT success THEN coalesce(nullif(error_pattern, ''), 'Unknown error') END AS pattern, error
            FROM {t[table]} WHERE ts BETWEEN {ts(NOW_MS - 14 * D)} AND {ts(NOW_MS)})"""
        return [
            f"""SELECT grp, count(*) FILTER (WHERE cur), count(*) FILTER (WHERE cur AND ok),
                quantile_disc(ms, 0.5) FILTER (WHERE cur), quantile_disc(ms, 0.95) FILTER (WHERE cur),
                count(*) FILTER (WHERE NOT cur), count(*) FILTER (WHERE NOT cur AND ok),
                quantile_disc(ms, 0.5) FILTER (WHERE NOT cur), quantile_disc(ms, 0.95) FILTER (WHERE NOT cur)
                FROM {ev} GROUP BY grp ORDER BY grp""",
            f"""SELECT pattern, count(*), arg_min(error, ts), min(ts), max(ts), list(DISTINCT grp ORDER BY grp)
                FROM {ev} WHERE pattern IS NOT NULL GROUP BY pattern HAVING bool_and(cur) ORDER BY 2 DESC, 1""",
        ]

    failures = failures_of(30 * D, 10)
    trending = f"""WITH hits AS (SELECT ({NOW_MS} - epoch_ms(ts) - 1) // {H} AS i, count(*) AS total,
        count(*) FILTER (WHERE success) AS ok FROM {t['cuj_runs']}
        WHERE ts >= {ts(NOW_MS - 24 * H)} AND ts < {ts(NOW_MS)} AND cuj_id = 'CUJ-001' GROUP BY 1)
        SELECT b.range, coalesce(total, 0), coalesce(ok, 0) FROM range(0, 24) AS b
        LEFT JOIN hits ON hits.i = b.range ORDER BY b.range DESC"""
    provider = lambda w: [
        f"""SELECT provider, count(*), count(*) FILTER (WHERE success), round(avg(latency_ms)),
            quantile_disc(latency_ms, 0.5), quantile_disc(latency_ms, 0.95), quantile_disc(latency_ms, 0.99),
            max(ts) FILTER (WHERE success), max(ts) FILTER (WHERE NOT success), min(ts) AS first_seen
            FROM {t['provider_calls']} WHERE {window(w)} GROUP BY provider ORDER BY first_seen""",
        f"""SELECT provider, list({{'timestamp': epoch_ms(ts), 'error': error}} ORDER BY ts) FROM (
            SELECT provider, ts, error, row_number() OVER (PARTITION BY provider ORDER BY ts DESC) AS k
            FROM {t['provider_calls']} WHERE {window(w)} AND NOT success AND error IS NOT NULL AND error <> '')
            WHERE k <= 10 GROUP BY provider""",
    ]
    highlights = f"""SELECT cuj_id, min(ts), sum(coalesce(duration_ms, 0)) / count(*),
        count(*) FILTER (WHERE success) / count(*) FROM {t['cuj_runs']} WHERE {window(D)} GROUP BY cuj_id"""
    dashboard = []
    for w in (H, D, 7 * D, 30 * D):
        dashboard += [cuj_all(w), cuj_summary(w)]
    for w in (H, D, 7 * D):
        dashboard += skills(w) + [skills_top(w)]
    dashboard += provider(D) + [highlights, trends] + failures_of(7 * D, 8)
    dashboard += compare("cuj_runs", "cuj_id", "duration_ms") + compare("provider_calls", "provider", "latency_ms")
    return {
        "cuj all --window 30d": [cuj_all(30 * D)],
        "skills stats --window 7d": skills(7 * D),
        "cuj failures --window 30d": failures,
        "cuj trending CUJ-001": [trending],
        "provider status --window 24h": provider(D),
        "dashboard": dashboard,
    }


OBSQ_ARGS = {
    "cuj all --window 30d": ["cuj", "all", "--window", "30d"],
    "skills stats --window 7d": ["skills", "stats", "--window", "7d"],
    "cuj failures --window 30d": ["cuj", "failures", "--window", "30d"],
    "cuj trending CUJ-001": ["cuj", "trending", "CUJ-001"],
    "provider status --window 24h": ["provider", "status", "--window", "24h"],
    "dashboard": ["dashboard"],
}

DUCK_RUNNER = """
import sys, time, duckdb
t0 = time.perf_counter()
con = duckdb.connect()
for q in sys.argv[1:]:
    con.sql(q).fetchall()
print(time.perf_counter() - t0)
"""


def wall(cmd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd[:6])} …\n{out.stderr}")
    return secs, out.stdout


def run(obsq, root, src, events, runs, label="30-day store"):
    """Every canned report, obsq vs DuckDB (native CLI and Python) on obsq's Parquet under `root`."""
    base = [obsq, "--root", root]
    queries = duck_queries(root)
    cli = shutil.which("duckdb")
    if cli is None:
        print("\n(no `duckdb` command-line binary: `python3 -m pip install duckdb-cli`; CLI column left out)")
    print(f"\nreports, {label}: {events} events; now = {NOW}; {runs} runs each, alternating; medians")
    print(f"{'report':30s} {'obsq':>8s} {'cli':>8s} {'python':>8s} {'(query)':>8s}  obsq/cli  obsq/python  obsq/query")
    rows = []
    for name, args in OBSQ_ARGS.items():
        o, c, d, dq = [], [], [], []
        for _ in range(runs):
            o.append(wall(base + args + ["--now", NOW, "--format", "json"])[0])
            if cli:
                c.append(wall([cli, "-json", "-c", ";\n".join(queries[name])])[0])
            secs, out = wall([sys.executable, "-c", DUCK_RUNNER] + queries[name])
            d.append(secs)
            dq.append(float(out.strip().splitlines()[-1]))
        mo, md, mq = statistics.median(o), statistics.median(d), statistics.median(dq)
        mc = statistics.median(c) if c else float("nan")
        rows.append((name, mo, mc, md, mq))
        print(f"{name:30s} {mo:7.3f}s {mc:7.3f}s {md:7.3f}s {mq:7.3f}s  {mo / mc:7.2f}x  {mo / md:10.2f}x  {mo / mq:9.2f}x")

    # cuj rate: obsq vs reading and parsing the whole JSONL file, as the original tool did.
    oracle = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle", "seed_tools.mjs")
    o, n = [], []
    for _ in range(runs):
        o.append(wall(base + ["cuj", "rate", "CUJ-001", "--window", "24h", "--now", NOW, "--format", "json"])[0])
        n.append(wall(["node", oracle, src, NOW, "metrics", "rate", "CUJ-001", "86400000"])[0])
    mo, mn = statistics.median(o), statistics.median(n)
    size = os.path.getsize(os.path.join(src, "analytics", "cuj-metrics.jsonl"))
    print(f"\ncuj rate CUJ-001 --window 24h: obsq {mo:.3f} s, Node whole-file ({size / 1e6:.0f} MB) {mn:.3f} s: "
          f"obsq {mn / mo:.1f}x faster")
    return rows


# The 24-hour reports of the pruning check.
DAY_REPORTS = {
    "provider status --window 24h": OBSQ_ARGS["provider status --window 24h"],
    "cuj trending CUJ-001": OBSQ_ARGS["cuj trending CUJ-001"],
    "cuj rate CUJ-001 --window 24h": ["cuj", "rate", "CUJ-001", "--window", "24h"],
}


def pruning(obsq, root_long, root_day, runs):
    """A 24 h report on a long store against the same report on a store of that one day only."""
    print(f"\npruning: 24 h reports on {os.path.basename(root_long)} vs {os.path.basename(root_day)} "
          f"(one day, same density); {runs} runs each, alternating; medians (target <= 1.5x)")
    for name, args in DAY_REPORTS.items():
        long_, day = [], []
        for _ in range(runs):
            long_.append(wall([obsq, "--root", root_long] + args + ["--now", NOW, "--format", "json"])[0])
            day.append(wall([obsq, "--root", root_day] + args + ["--now", NOW, "--format", "json"])[0])
        ml, md = statistics.median(long_), statistics.median(day)
        print(f"  {name:32s} long {ml:6.3f} s   one day {md:6.3f} s   {ml / md:5.2f}x")

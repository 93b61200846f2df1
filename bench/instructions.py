"""Instructions per skill line of `obsq ingest`, counted by valgrind's callgrind, per shape: a
measure of the CPU work of ingest that a noisy host does not move (one host ran the same
ingest in 4.3 to 6.5 s within minutes, so a 3 % change in wall time needs many alternating
runs to show; the same change in instructions shows in one run). Instructions are not time:
cache misses (a merged log's) and memory bandwidth do not count. A memo of each line's keys
counted 3.7 % fewer instructions on the tools shape and took 3 % more CPU in 8 alternating pairs:
use this to find where the work is and to compare two builds (`--baseline`), and judge a change
with bench/compare.sh (`--baseline`) or alternating runs.

    python3 bench/instructions.py --obsq BIN [--baseline OTHER_BIN] [--shape NAME|all]
        [--lines 100000] [--work bench/out] [--top 8]

Each shape's sample is the first `--lines` lines of the first skill file of the dataset that
bench/compare.sh generates (10M events, seed 42); callgrind runs `obsq ingest` of it into a
fresh root. The `merged` sample spans every day of the dataset, so it also counts writing ~30
small files (their per-file cost), which the whole log spreads over many more rows. Needs
`valgrind` (Debian: `apt-get install valgrind`).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import compare


def sample(obsq, work, shape, lines):
    """A source directory holding the first `lines` skill lines of the shape's dataset."""
    src = compare.dataset(obsq, work, 10_000_000, shape)
    out = os.path.join(work, f"instr-{shape}-{lines}")
    logs = os.path.join(out, "logs")
    first = sorted(f for f in os.listdir(os.path.join(src, "logs")) if f.startswith("skill-invocations-"))[0]
    if not os.path.exists(os.path.join(logs, first)):
        os.makedirs(logs, exist_ok=True)
        with open(os.path.join(src, "logs", first), "rb") as fin, open(os.path.join(logs, first), "wb") as fout:
            for i, line in enumerate(fin):
                if i == lines:
                    break
                fout.write(line)
    return out


def count(obsq, src, top):
    """(total instructions, [(instructions, function)] of the `top` largest) of one ingest."""
    with tempfile.TemporaryDirectory() as tmp:
        prof = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prof}", obsq,
                              "--root", os.path.join(tmp, "root"), "ingest", "--source", src],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(f"callgrind run failed ({run.returncode}):\n{run.stderr[-2000:]}")
        total = int(re.search(r"I\s+refs:\s+([\d,]+)", run.stderr).group(1).replace(",", ""))
        ann = subprocess.run(["callgrind_annotate", prof], capture_output=True, text=True).stdout
    funcs = []
    for line in ann.splitlines():
        # `Ir (pct)  file:function [object]`; the file is `???` when there is no debug info.
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+[^:\s]*:(?!:)(.+?)(?: \[.*\])?$", line)
        if m and "PROGRAM TOTALS" not in line:
            funcs.append((int(m.group(1).replace(",", "")), m.group(2)))
        if len(funcs) == top:
            break
    return total, funcs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obsq", required=True)
    ap.add_argument("--baseline", metavar="BIN", help="another obsq build, counted on the same samples")
    ap.add_argument("--shape", choices=compare.SHAPES + ["all"], default="all")
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--work", default="bench/out")
    ap.add_argument("--top", type=int, default=8, help="functions listed per shape")
    a = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    obsq = os.path.abspath(a.obsq)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    shapes = compare.SHAPES if a.shape == "all" else [a.shape]
    rows = []
    for shape in shapes:
        src = sample(obsq, work, shape, a.lines)
        total, funcs = count(obsq, src, a.top)
        print(f"\n{shape}: {total / a.lines:,.0f} instructions per line ({total:,} for {a.lines:,} lines)")
        for n, name in funcs:
            print(f"  {n / a.lines:9,.0f}  {100 * n / total:5.1f} %  {name[:100]}")
        base = count(os.path.abspath(a.baseline), src, 0)[0] if a.baseline else None
        if base:
            print(f"  baseline: {base / a.lines:,.0f} per line; this build {total / base - 1:+.2%}")
        rows.append((shape, total / a.lines, base / a.lines if base else None))
    print("\ninstructions per skill line of `obsq ingest` (callgrind)")
    for shape, per, base in rows:
        print(f"  {shape:12s} {per:9,.0f}" + (f"   baseline {base:9,.0f}   {per / base - 1:+.2%}" if base else ""))


if __name__ == "__main__":
    main()

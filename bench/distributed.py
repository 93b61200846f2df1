"""Beyond one machine, measured on loopback (called by bench/compare.py --only cluster|s3).

cluster: every canned report on the backfilled store, in-process against `--cluster` on a
         scheduler and two executors started from obsq's own binary (`obsq cluster …`): the
         overhead per query of planning, shipping and gathering through Ballista.
s3:      `obsq ingest` of the skill stream into a local root against an S3 root on a Garage
         server on 127.0.0.1: throughput through the object store. tests/setup.sh installs an
         unoptimised Garage (enough for the tests); for throughput figures point `GARAGE` at an
         optimised one (`cargo install --root DIR garage --version 2.5.0 --no-default-features
         --features bundled-libs,sqlite`).
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import reports


def free_port(pair=False):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p > 65000:
            continue
        if not pair:
            return p
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + 1))
                return p
            except OSError:
                continue


def wait_port(port, what):
    t0 = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.time() - t0 > 60:
                sys.exit(f"{what} did not listen on {port}")
            time.sleep(0.05)


def cluster(obsq, root, runs):
    """Reports in-process vs on a loopback cluster (one scheduler, two executors)."""
    work = tempfile.mkdtemp(prefix="obsq-cluster-")
    procs = []
    try:
        sched = free_port()
        log = open(os.path.join(work, "scheduler.log"), "w")
        procs.append(subprocess.Popen([obsq, "cluster", "scheduler", "--bind", f"127.0.0.1:{sched}"],
                                      stdout=log, stderr=log))
        wait_port(sched, "scheduler")
        for i in range(2):
            p = free_port(pair=True)
            log = open(os.path.join(work, f"executor{i}.log"), "w")
            procs.append(subprocess.Popen(
                [obsq, "cluster", "executor", "--scheduler", f"127.0.0.1:{sched}", "--bind",
                 f"127.0.0.1:{p}", "--work-dir", os.path.join(work, f"e{i}")], stdout=log, stderr=log))
            wait_port(p, "executor")
        url = f"df://127.0.0.1:{sched}"
        base = [obsq, "--root", root]
        t0 = time.time()
        while subprocess.run(base + ["--cluster", url, "sql", "SELECT 1"], capture_output=True).returncode:
            if time.time() - t0 > 60:
                sys.exit("the cluster did not answer")
            time.sleep(0.3)
        print(f"\nreports in-process vs on a loopback cluster (2 executors, {os.cpu_count()} cores in all); "
              f"{runs} runs each, alternating; medians")
        print(f"{'report':30s} {'local':>8s} {'cluster':>8s}  overhead  ratio")
        for name, args in reports.OBSQ_ARGS.items():
            lo, cl = [], []
            for _ in range(runs):
                lo.append(reports.wall(base + args + ["--now", reports.NOW, "--format", "json"])[0])
                cl.append(reports.wall(base + ["--cluster", url] + args + ["--now", reports.NOW,
                                                                           "--format", "json"])[0])
            ml, mc = statistics.median(lo), statistics.median(cl)
            print(f"{name:30s} {ml:7.3f}s {mc:7.3f}s  {mc - ml:+7.3f}s  {mc / ml:5.2f}x")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


def garage_binary():
    """`$GARAGE`, else the one tests/setup.sh installs (an unoptimised build, for the tests)."""
    if os.environ.get("GARAGE"):
        return os.environ["GARAGE"]
    path = os.path.expanduser("~/.cargo/bin/garage")
    return path if os.path.exists(path) else shutil.which("garage")


def s3(obsq, work, skill_src, runs):
    """`obsq ingest` of one source directory into a local root vs an S3 root on loopback Garage."""
    garage = garage_binary()
    if not garage:
        print("\n(no garage binary: run tests/setup.sh; the S3 part is left out)")
        return
    gdir = tempfile.mkdtemp(prefix="obsq-garage-")
    s3p, rpc, admin = free_port(), free_port(), free_port()
    key, secret = "GK" + uuid.uuid4().hex[:24], uuid.uuid4().hex + uuid.uuid4().hex
    with open(os.path.join(gdir, "garage.toml"), "w") as f:
        f.write(f'metadata_dir = "{gdir}/meta"\ndata_dir = "{gdir}/data"\ndb_engine = "sqlite"\n'
                f'replication_factor = 1\nrpc_bind_addr = "127.0.0.1:{rpc}"\n'
                f'rpc_public_addr = "127.0.0.1:{rpc}"\nrpc_secret = "{uuid.uuid4().hex}{uuid.uuid4().hex}"\n'
                f'[s3_api]\ns3_region = "garage"\napi_bind_addr = "127.0.0.1:{s3p}"\n'
                f'root_domain = ".s3.garage.localhost"\n[admin]\napi_bind_addr = "127.0.0.1:{admin}"\n'
                f'admin_token = "{uuid.uuid4().hex}"\n')
    env = dict(os.environ, GARAGE_CONFIG_FILE=os.path.join(gdir, "garage.toml"),
               GARAGE_DEFAULT_ACCESS_KEY=key, GARAGE_DEFAULT_SECRET_KEY=secret,
               GARAGE_DEFAULT_BUCKET="obsq-bench")
    log = open(os.path.join(gdir, "server.log"), "w")
    server = subprocess.Popen([garage, "server", "--single-node", "--default-bucket"], env=env,
                              stdout=log, stderr=log)
    client = dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{s3p}", AWS_REGION="garage",
                  AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_ALLOW_HTTP="true")
    try:
        wait_port(s3p, "garage")
        time.sleep(1)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(skill_src) for f in fs)
        print(f"\ningest of {size / 1e9:.2f} GB (skill stream) into a local root vs an S3 root "
              f"(Garage on 127.0.0.1, same disk: {garage}); {runs} runs each, alternating; medians")
        lo, s3t = [], []
        for i in range(runs):
            root = os.path.join(work, "s3bench-local")
            shutil.rmtree(root, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([obsq, "--root", root, "ingest", "--source", skill_src], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lo.append(time.perf_counter() - t0)
            shutil.rmtree(root, ignore_errors=True)
            cache = tempfile.mkdtemp(prefix="obsq-cache-")
            t0 = time.perf_counter()
            subprocess.run([obsq, "--root", f"s3://obsq-bench/run{i}", "ingest", "--source", skill_src],
                           check=True, env=dict(client, XDG_CACHE_HOME=cache),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            s3t.append(time.perf_counter() - t0)
            shutil.rmtree(cache, ignore_errors=True)
        ml, ms = statistics.median(lo), statistics.median(s3t)
        print(f"local {ml:.2f} s ({size / ml / 1e6:.0f} MB/s), S3 {ms:.2f} s ({size / ms / 1e6:.0f} MB/s): "
              f"S3/local {ms / ml:.2f}x")
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(gdir, ignore_errors=True)

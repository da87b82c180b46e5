"""bench/postgres.py: GetOperation, DiscoverInstances (MaxResults 100) and RegisterInstance on a
PostgreSQL store with one and with two replicas, beside SQLite (`--data-dir`), at c=16.

Starts a throwaway PostgreSQL cluster (Debian's `postgresql`, its own temp dir and port, fsync on),
reuses bench.py's seeding and wrk driver, and appends a table to bench/RESULTS.md. With two replicas
the load is split across both (two wrk processes of c=8) and their rates are summed.
"""

import argparse
import concurrent.futures
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench  # noqa: E402


def start_postgres() -> tuple[str, Path, str]:
    pg_bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    d = Path(tempfile.mkdtemp(prefix="lp-bench-pg-"))
    runas = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    if os.getuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    subprocess.run(runas + [f"{pg_bin}/initdb", "-D", str(d / "data"), "-U", "postgres", "--auth=trust",
                            "-E", "UTF8", "--no-locale"], check=True, capture_output=True)
    port = bench.free_port()
    with open(d / "data" / "postgresql.conf", "a") as f:
        f.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\n"
                "max_connections = 200\n")
    subprocess.run(runas + [f"{pg_bin}/pg_ctl", "-D", str(d / "data"), "-l", str(d / "log"), "-w", "start"],
                   check=True, capture_output=True)
    stop = " ".join(runas + [f"{pg_bin}/pg_ctl", "-D", str(d / "data"), "-m", "immediate", "stop"])
    return f"postgres://postgres@127.0.0.1:{port}/postgres", d, stop


def serve(binary: str, store_args: list[str], logs: Path) -> tuple[subprocess.Popen, int]:
    port = bench.free_port()
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--timing", "instant", "--dns-listen", "off", *store_args]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(logs / f"lp-{port}.log", "w"),
                         env=dict(os.environ, LOCALPLANE_LOG="warn"))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_localplane/health", timeout=1)
            return p, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"localplane {cmd} did not start")


def measure(wrk: "bench.Wrk", ports: list[int], env: dict, seconds: float) -> dict:
    conc = 16 // len(ports)
    with concurrent.futures.ThreadPoolExecutor(len(ports)) as ex:
        runs = list(ex.map(lambda p: wrk.run(p, conc, seconds, env), ports))
    return {"rps": sum(r["rps"] for r in runs), "p50": max(r["p50"] for r in runs),
            "p99": max(r["p99"] for r in runs), "non2xx": sum(r["non2xx"] for r in runs)}


def rows_for(binary: str, wrk, store_args: list[str], replicas: int, seconds: float, logs: Path) -> dict:
    procs = [serve(binary, store_args, logs) for _ in range(replicas)]
    try:
        ports = [p for _, p in procs]
        seed = bench.seed_cloudmap(ports[0], n=1000)
        out = {
            "GetOperation": measure(wrk, ports, bench.fixed_env("GetOperation", {"OperationId": seed["operation"]},
                                                                 '"Operation"'), seconds),
            "DiscoverInstances (100)": measure(wrk, ports, bench.fixed_env(
                "DiscoverInstances", {"NamespaceName": "bench", "ServiceName": "web", "MaxResults": 100},
                '"Instances"'), seconds),
        }
        c = bench.sd(ports[0])
        services = [(bench.ACCOUNT, bench.create_service(c, seed["namespace"], f"reg-{i}")) for i in range(40)]
        out["RegisterInstance (durable)"] = measure(wrk, ports, bench.register_env(services, f"pg{replicas}"), seconds)
        return out
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait(timeout=15)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args()
    wrk = bench.Wrk(args.wrk)
    logs = Path(tempfile.mkdtemp(prefix="lp-bench-logs-"))
    data = Path(tempfile.mkdtemp(prefix="lp-bench-sqlite-"))
    url, pg_dir, stop = start_postgres()
    results = {}
    try:
        results["SQLite (--data-dir), 1 process"] = rows_for(args.bin, wrk, ["--data-dir", str(data)], 1, args.seconds, logs)
        subprocess.run(["psql", url, "-qc", "CREATE DATABASE lp1"], check=True, capture_output=True)
        subprocess.run(["psql", url, "-qc", "CREATE DATABASE lp2"], check=True, capture_output=True)
        base = url.rsplit("/", 1)[0]
        results["PostgreSQL, 1 replica"] = rows_for(args.bin, wrk, ["--store", f"{base}/lp1"], 1, args.seconds, logs)
        results["PostgreSQL, 2 replicas"] = rows_for(args.bin, wrk, ["--store", f"{base}/lp2"], 2, args.seconds, logs)
    finally:
        subprocess.run(stop, shell=True, capture_output=True)
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    lines = ["", "## Stores: SQLite beside PostgreSQL with one and two replicas (c=16)", "",
             f"{args.seconds:g} s per cell, `--timing instant`; with two replicas the 16 connections are split "
             "across both and the rates summed. Writes are durable in every column (PostgreSQL with fsync on).", "",
             "| row | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for row in next(iter(results.values())):
        cells = [f"{r[row]['rps']:,.0f} req/s, p99 {r[row]['p99'] / 1000:.1f} ms, non-2xx {r[row]['non2xx']}"
                 for r in results.values()]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.results, "a") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

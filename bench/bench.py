#!/usr/bin/env python3
"""The driver of bench/run: starts localplane, moto_server and the floor on loopback ports, seeds
them through boto3, drives them with wrk (bench/lua/bench.lua) alternating A B A B, measures the
footprint and the growth, and writes bench/RESULTS.md.

Run through bench/run, which builds the binaries and the venv first. Every loop is bounded in time
and count; every child process is ours and is stopped at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3
from botocore.config import Config

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LUA = BENCH / "lua" / "bench.lua"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRET = "bench-secret"
CONFIG = Config(inject_host_prefix=False, retries={"max_attempts": 2, "mode": "standard"})

CHILDREN: list[subprocess.Popen] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(port: int, timeout: float = 0.5) -> bool:
    """One ListNamespaces over a fresh connection: True on a 200."""
    body = b"{}"
    req = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: Route53AutoNaming_v20170314.ListNamespaces\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=" + ACCOUNT.encode() +
        b"/20260101/us-east-1/servicediscovery/aws4_request, SignedHeaders=host, Signature=00\r\n"
        b"X-Amz-Date: 20260101T000000Z\r\nConnection: close\r\nContent-Length: 2\r\n\r\n" + body
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(req)
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def start(cmd: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    f = open(log_path, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    CHILDREN.append(p)
    return p


def wait_ready(p: subprocess.Popen, port: int, limit_s: float = 60.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if p.poll() is not None:
            raise RuntimeError(f"{p.args[0]} exited with {p.returncode}")
        if http_ok(port):
            return time.monotonic() - t0
        time.sleep(0.0005)
    raise RuntimeError(f"{p.args[0]} did not answer within {limit_s} s")


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
    if p in CHILDREN:
        CHILDREN.remove(p)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1024 * 1024)


def localplane_cmd(binary: str, port: int, data_dir: Path | None) -> list[str]:
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{port}", "--timing", "instant", "--dns-listen", "off"]
    cmd += ["--data-dir", str(data_dir)] if data_dir else ["--ephemeral"]
    return cmd


# --------------------------------------------------------------------------- seeding (boto3)


def sd(port: int, key: str = ACCOUNT):
    return boto3.client("servicediscovery", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=SECRET, config=CONFIG)


def kc(port: int, key: str = ACCOUNT):
    return boto3.client("kafkaconnect", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=SECRET, config=CONFIG)


def wait_op(c, op_id: str) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        op = c.get_operation(OperationId=op_id)["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            if op["Status"] == "FAIL":
                raise RuntimeError(f"operation {op_id} failed: {op}")
            return op
        time.sleep(0.01)
    raise RuntimeError(f"operation {op_id} did not finish")


def create_namespace(c, name: str) -> str:
    op_id = c.create_http_namespace(Name=name)["OperationId"]
    return wait_op(c, op_id)["Targets"]["NAMESPACE"]


def create_service(c, ns_id: str, name: str) -> str:
    return c.create_service(Name=name, NamespaceId=ns_id, Type="HTTP")["Service"]["Id"]


def attrs(i: int) -> dict:
    return {"AWS_INSTANCE_IPV4": f"10.0.{i // 250}.{i % 250}", "AWS_INSTANCE_PORT": "8080",
            "stage": "blue" if i % 2 else "green", "zone": f"us-east-1{'abc'[i % 3]}"}


def seed_cloudmap(port: int, n: int = 1000) -> dict:
    c = sd(port)
    ns_op = c.create_http_namespace(Name="bench")["OperationId"]
    ns = wait_op(c, ns_op)["Targets"]["NAMESPACE"]
    srv = create_service(c, ns, "web")

    def reg(i: int) -> str:
        cl = clients[i % len(clients)]
        return cl.register_instance(ServiceId=srv, InstanceId=f"i-{i:05d}", Attributes=attrs(i))["OperationId"]

    clients = [sd(port) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ops = list(ex.map(reg, range(n)))
    wait_op(c, ops[-1])
    listed = c.discover_instances(NamespaceName="bench", ServiceName="web", MaxResults=1000)["Instances"]
    if len(listed) != n:
        raise RuntimeError(f"seeded {n} instances, DiscoverInstances sees {len(listed)}")
    # GetOperation reads the namespace's operation: moto's ListOperations drops every operation
    # that has no NAMESPACE target, so an instance operation would be gone after the first list.
    return {"namespace": ns, "service": srv, "operation": ns_op}


def seed_msk(port: int, updates: int = 100) -> dict:
    c = kc(port)
    plugin = c.create_custom_plugin(
        name="bench-plugin", contentType="ZIP",
        location={"s3Location": {"bucketArn": "arn:aws:s3:::bench", "fileKey": "plugins/p.zip"}},
    )["customPluginArn"]
    wc = c.create_worker_configuration(name="bench-wc", propertiesFileContent="a2V5PXZhbHVlCg==")[
        "workerConfigurationArn"]
    config = {"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "tasks.max": "1"}
    arn = c.create_connector(
        connectorName="bench-connector",
        capacity={"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
        connectorConfiguration=config,
        kafkaCluster={"apacheKafkaCluster": {"bootstrapServers": "b-1.bench:9092",
                                             "vpc": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0123abcd"]}}},
        kafkaClusterClientAuthentication={"authenticationType": "NONE"},
        kafkaClusterEncryptionInTransit={"encryptionType": "PLAINTEXT"},
        kafkaConnectVersion="2.7.1",
        serviceExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/msk-connect",
        plugins=[{"customPlugin": {"customPluginArn": plugin, "revision": 1}}],
        workerConfiguration={"workerConfigurationArn": wc, "revision": 1},
    )["connectorArn"]
    op_arn = None
    for i in range(updates):
        d = c.describe_connector(connectorArn=arn)
        if d["connectorState"] != "RUNNING":
            raise RuntimeError(f"connector is {d['connectorState']} before update {i}")
        config = dict(config, **{"tasks.max": str(2 + i % 4), "bench.update": str(i)})
        op_arn = c.update_connector(connectorArn=arn, currentVersion=d["currentVersion"],
                                    connectorConfiguration=config)["connectorOperationArn"]
    op = c.describe_connector_operation(connectorOperationArn=op_arn)
    if op["connectorOperationState"] != "UPDATE_COMPLETE":
        raise RuntimeError(f"last update is {op['connectorOperationState']}")
    n = 0
    kw = {}
    for _ in range(20):
        page = c.list_connector_operations(connectorArn=arn, **kw)
        n += len(page["connectorOperations"])
        if "nextToken" not in page:
            break
        kw = {"nextToken": page["nextToken"]}
    return {"connector": arn, "operation": op_arn, "operations": n}


# --------------------------------------------------------------------------- wrk


class Wrk:
    def __init__(self, binary: str):
        self.binary = binary

    def run(self, port: int, conc: int, duration: float, env: dict, timeout_s: float = 10.0) -> dict:
        threads = min(conc, 2)
        full_env = dict(os.environ, BENCH_THREADS=str(threads), **env)
        cmd = [self.binary, "-t", str(threads), "-c", str(conc), "-d", f"{max(1, int(round(duration)))}s",
               "--timeout", f"{int(timeout_s)}s", "-s", str(LUA), f"http://127.0.0.1:{port}"]
        out = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=duration + 60)
        for line in out.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                r = json.loads(line[len("BENCHJSON "):])
                secs = r["duration_us"] / 1e6
                r["rps"] = r["ok"] / secs if secs > 0 else 0.0
                errs = [ln[len("BENCHERR "):] for ln in out.stderr.splitlines() if ln.startswith("BENCHERR ")]
                if errs:
                    r["first_error"] = errs[0]
                    log(f"  non-2xx from port {port}: {errs[0][:200]}")
                return r
        raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")


def fill(wrk: "Wrk", port: int, services: list[tuple[str, str]], tag: str, count: int) -> tuple[int, int]:
    """Registers about `count` new instances over `services` with wrk (c=16), in chunks bounded in
    time; returns (registered, non-2xx). wrk runs for its whole -d even when its threads have met
    their quota, so each chunk's duration follows the rate measured so far."""
    done, failed, rate = 0, 0, 3000.0
    for chunk in range(40):
        left = count - done
        if left <= 0:
            break
        d = max(1, min(60, int(left / rate * 1.1) + 1))
        t = time.monotonic()
        r = wrk.run(port, 16, d, register_env(services, f"{tag}c{chunk}", quota=max(1, left // 2)))
        done += r["ok"]
        failed += r["non2xx"]
        if r["ok"]:
            rate = max(100.0, r["ok"] / (time.monotonic() - t))
        if r["non2xx"] > 100:
            break
    return done, failed


def fixed_env(target: str, body: dict, expect: str, key: str = ACCOUNT) -> dict:
    return {"BENCH_MODE": "fixed", "BENCH_METHOD": "POST", "BENCH_PATH": "/",
            "BENCH_TARGET": f"Route53AutoNaming_v20170314.{target}", "BENCH_SERVICE": "servicediscovery",
            "BENCH_KEY": key, "BENCH_BODY": json.dumps(body, separators=(",", ":")), "BENCH_EXPECT": expect}


def rest_env(path: str, expect: str) -> dict:
    return {"BENCH_MODE": "fixed", "BENCH_METHOD": "GET", "BENCH_PATH": path, "BENCH_TARGET": "",
            "BENCH_SERVICE": "kafkaconnect", "BENCH_KEY": ACCOUNT, "BENCH_BODY": "", "BENCH_EXPECT": expect}


def register_env(services: list[tuple[str, str]], tag: str, quota: int = 0) -> dict:
    return {"BENCH_MODE": "register", "BENCH_TARGET": "Route53AutoNaming_v20170314.RegisterInstance",
            "BENCH_SERVICE": "servicediscovery", "BENCH_SERVICES": ",".join(f"{k}:{s}" for k, s in services),
            "BENCH_TAG": tag, "BENCH_QUOTA": str(quota), "BENCH_EXPECT": '"OperationId"'}


def median_run(runs: list[dict]) -> dict:
    """Three or more runs of one growth cell: the median req/s, p50 and p99 (a single 3 s run's
    p99 at c=1 is a few slow requests out of tens of thousands, and moves with the machine)."""
    out = combine(runs)
    for k in ("rps", "p50", "p99"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def combine(runs: list[dict]) -> dict:
    """Two or more runs of one cell: mean req/s and p50, the worse p99, summed failures."""
    if not runs:
        return {}
    return {
        "rps": statistics.mean(r["rps"] for r in runs),
        "p50": statistics.mean(r["p50"] for r in runs),
        "p99": max(r["p99"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "bad": sum(r["badbody"] + r["connect"] + r["read"] + r["write"] + r["timeout"] for r in runs),
        "ok": sum(r["ok"] for r in runs),
        "runs": len(runs),
        "first_error": next((r["first_error"] for r in runs if "first_error" in r), None),
    }


# --------------------------------------------------------------------------- the run


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem": mem, "kernel": platform.release(),
            "load": Path("/proc/loadavg").read_text().split()[:3]}


def versions(args) -> dict:
    import boto3 as b3
    import moto

    def sh(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    rev = sh(["git", "rev-parse", "--short=12", "HEAD"])
    if sh(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "crates"]):
        rev += " + uncommitted changes in src/"
    wrk_v = sh([args.wrk, "-v"]).splitlines()
    return {"localplane": rev, "moto": moto.__version__, "boto3": b3.__version__,
            "python": platform.python_version(), "wrk": wrk_v[0].split(" Copyright")[0] if wrk_v else "wrk ?"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--floor-bin", required=True)
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--moto-server", required=True)
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--json", default=str(BENCH / "work" / "results.json"))
    args = ap.parse_args()

    quick = args.quick
    duration = 1.0 if quick else 3.0
    concs = [16] if quick else [1, 16, 64]
    growth_sizes = [100, 1_000, 10_000] if quick else [100, 10_000, 100_000]
    startup_n = 3 if quick else 5

    work = BENCH / "work"
    work.mkdir(exist_ok=True)
    logs = work / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="lp-bench-"))
    wrk = Wrk(args.wrk)
    res: dict = {"quick": quick, "duration_s": duration, "concs": concs, "machine": machine(),
                 "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    t_begin = time.monotonic()

    try:
        # ---- footprint: start to first 200 (fresh process each time), idle RSS
        log("footprint: start to first 200")
        starts, starts_dd, idle = [], [], None
        for i in range(startup_n):
            port = free_port()
            p = start(localplane_cmd(args.bin, port, None), logs / "startup.log")
            starts.append(wait_ready(p, port) * 1000)
            if i == 0:
                time.sleep(1.0)
                idle = rss_mb(p.pid)
            stop(p)
            port = free_port()
            p = start(localplane_cmd(args.bin, port, tmp / f"start-{i}"), logs / "startup.log")
            starts_dd.append(wait_ready(p, port) * 1000)
            stop(p)
        res["startup_ms"] = statistics.median(starts)
        res["startup_ms_all"] = starts
        res["startup_dd_ms"] = statistics.median(starts_dd)
        res["rss_idle_mb"] = idle

        # ---- the three servers of the matrix and the durable one for RegisterInstance
        lp_port, moto_port, floor_port, dur_port = free_port(), free_port(), free_port(), free_port()
        lp = start(localplane_cmd(args.bin, lp_port, None), logs / "localplane.log")
        dur = start(localplane_cmd(args.bin, dur_port, tmp / "durable"), logs / "localplane-durable.log")
        t0 = time.monotonic()
        moto = start([args.moto_server, "-H", "127.0.0.1", "-p", str(moto_port)], logs / "moto.log")
        floor = start([args.floor_bin, f"127.0.0.1:{floor_port}"], logs / "floor.log")
        wait_ready(lp, lp_port)
        wait_ready(dur, dur_port)
        res["moto_startup_ms"] = wait_ready(moto, moto_port) * 1000
        wait_ready(floor, floor_port)
        res["moto_rss_idle_mb"] = rss_mb(moto.pid)

        log("seeding localplane and moto (1 namespace, 1 service, 1,000 instances)")
        t = time.monotonic()
        lp_seed = seed_cloudmap(lp_port)
        res["seed_lp_s"] = time.monotonic() - t
        t = time.monotonic()
        moto_seed = seed_cloudmap(moto_port)
        res["seed_moto_s"] = time.monotonic() - t
        log("seeding localplane MSK Connect (plugin, worker configuration, connector, 100 updates)")
        msk = seed_msk(lp_port)
        res["msk_operations"] = msk["operations"]
        dur_c = sd(dur_port)
        dur_ns = create_namespace(dur_c, "bench")
        moto_c = sd(moto_port)
        res["rss_seeded_mb"] = rss_mb(lp.pid)
        res["moto_rss_seeded_mb"] = rss_mb(moto.pid)

        def cm_rows(seed: dict) -> dict:
            return {
                "GetOperation": fixed_env("GetOperation", {"OperationId": seed["operation"]}, '"SUCCESS"'),
                "DiscoverInstances (MaxResults 100)": fixed_env(
                    "DiscoverInstances", {"NamespaceName": "bench", "ServiceName": "web", "MaxResults": 100},
                    '"InstanceId"'),
                "DiscoverInstances (MaxResults 1000)": fixed_env(
                    "DiscoverInstances", {"NamespaceName": "bench", "ServiceName": "web", "MaxResults": 1000},
                    '"InstanceId"'),
                "ListInstances": fixed_env("ListInstances", {"ServiceId": seed["service"]}, '"Instances"'),
                "ListOperations": fixed_env("ListOperations", {}, '"Operations"'),
            }

        lp_rows, moto_rows = cm_rows(lp_seed), cm_rows(moto_seed)
        q = urllib.parse.quote
        msk_rows = {
            "DescribeConnectorOperation": rest_env(f"/v1/connectorOperations/{q(msk['operation'], safe='')}",
                                                   '"connectorOperationArn"'),
            "ListConnectorOperations": rest_env(f"/v1/connectors/{q(msk['connector'], safe='')}/operations",
                                                '"connectorOperations"'),
        }

        matrix: dict = {}
        reps = 2

        def a_b(row: str, a, b, runs_each: int) -> dict:
            """a, b: (label, warm-up fn, measured fn); each fn runs wrk once and returns its result. One
            warm-up of each (not counted; it proves the row is set up right), then A B A B."""
            runs: dict = {a[0]: [], b[0]: []}
            for label, warm_up, _ in (a, b):
                r = warm_up()
                if r["ok"] == 0:
                    raise RuntimeError(f"{label} {row}: no correct 200 in the warm-up ({r})")
            for _ in range(runs_each):
                runs[a[0]].append(a[2]())
                runs[b[0]].append(b[2]())
            return {k: combine(v) for k, v in runs.items()}

        def summary(m: dict) -> str:
            return "  ".join(f"{k} {v['rps']:9.0f}/s p50 {v['p50'] / 1000:7.2f} ms p99 {v['p99'] / 1000:7.2f} ms "
                             f"non2xx {v['non2xx']}" for k, v in m.items())

        def cell(row: str, c: int, a, b) -> None:
            matrix.setdefault(row, {})[c] = a_b(row, a, b, reps)
            log(f"{row:38s} c={c:<3d} " + summary(matrix[row][c]))

        warm = 1  # wrk counts whole seconds
        for c in concs:
            # the floor beside localplane's GetOperation
            fl = lambda d: wrk.run(floor_port, c, d, fixed_env("GetOperation", {"OperationId": "x"}, '"SUCCESS"'))
            lg = lambda d: wrk.run(lp_port, c, d, lp_rows["GetOperation"])
            cell("floor (fixed GetOperation body)", c, ("floor", lambda: fl(warm), lambda: fl(duration)),
                 ("localplane", lambda: lg(warm), lambda: lg(duration)))
        for row in lp_rows:
            for c in concs:
                la = lambda d, row=row, c=c: wrk.run(lp_port, c, d, lp_rows[row])
                mb = lambda d, row=row, c=c: wrk.run(moto_port, c, d, moto_rows[row])
                cell(row, c, ("localplane", lambda: la(warm), lambda: la(duration)),
                     ("moto", lambda: mb(warm), lambda: mb(duration)))

        # RegisterInstance: durable localplane (data dir, fsync) vs moto (memory only)
        reg_seq = [0]

        def register_run(port: int, client, ns: str, c: int, d: float, nserv: int) -> dict:
            reg_seq[0] += 1
            n = reg_seq[0]
            services = [(ACCOUNT, create_service(client, ns, f"reg-{n}-{k}")) for k in range(nserv)]
            return wrk.run(port, c, d, register_env(services, f"r{n}"))

        moto_ns = moto_seed["namespace"]
        for c in concs:
            la = lambda d, c=c: register_run(dur_port, dur_c, dur_ns, c, d, 60 if c > 1 else 20)
            mb = lambda d, c=c: register_run(moto_port, moto_c, moto_ns, c, d, 10)
            cell("RegisterInstance (durable)", c, ("localplane", lambda: la(warm), lambda: la(duration)),
                 ("moto", lambda: mb(warm), lambda: mb(duration)))

        for row, env in msk_rows.items():
            for c in concs:
                la = lambda d, env=env, c=c: wrk.run(lp_port, c, d, env)
                fl = lambda d, c=c: wrk.run(floor_port, c, d, fixed_env("GetOperation", {"OperationId": "x"},
                                                                          '"SUCCESS"'))
                cell(row, c, ("localplane", lambda: la(warm), lambda: la(duration)),
                     ("floor", lambda: fl(warm), lambda: fl(duration)))
        res["matrix"] = matrix

        # ---- paced latency at c=16: 16 connections, each pausing a random time between calls, the
        # mean pause one that would halve the row's back-to-back rate if answers took no time; the
        # floor at the same pause. Back to back, wrk, the server and the kernel share two saturated
        # cores and a p99 is the scheduler's queue (the floor's own included); paced, it is the server's.
        log("paced latency at c=16 (a pause per connection sized for half of each row's back-to-back rate)")
        paced: dict = {}
        pc = 16
        floor_env = fixed_env("GetOperation", {"OperationId": "x"}, '"SUCCESS"')
        read_rows = [(r, lp_rows[r]) for r in lp_rows] + list(msk_rows.items())
        for row, env in read_rows:
            full = matrix[row][pc]["localplane"]["rps"]
            pause = round(2 * pc / max(full, 1.0) * 1000, 2)  # ms between a response and the next call
            la = lambda d, env=env, pause=pause: wrk.run(lp_port, pc, d, dict(env, BENCH_PAUSE_MS=str(pause)))
            fl = lambda d, pause=pause: wrk.run(floor_port, pc, d, dict(floor_env, BENCH_PAUSE_MS=str(pause)))
            m = a_b(row, ("localplane", lambda la=la: la(warm), lambda la=la: la(duration)),
                    ("floor", lambda fl=fl: fl(warm), lambda fl=fl: fl(duration)), 1 if quick else reps)
            paced[row] = {"pause_ms": pause, "back_to_back_rps": full, **m}
            log(f"{row:38s} paced {pause:5.2f} ms  " + summary(m))
        res["paced"] = paced
        res["rss_after_matrix_mb"] = rss_mb(lp.pid)
        res["moto_rss_after_matrix_mb"] = rss_mb(moto.pid)
        res["durable_dir_mb"] = dir_mb(tmp / "durable")
        for p in (lp, dur, moto, floor):
            stop(p)

        # ---- growth and footprint with many items elsewhere (data dir, fsync, default mode)
        log("growth: a localplane with a data dir; items in 10 other accounts")
        g_port = free_port()
        g_dir = tmp / "growth"
        g = start(localplane_cmd(args.bin, g_port, g_dir), logs / "localplane-growth.log")
        wait_ready(g, g_port)
        g_seed = seed_cloudmap(g_port)
        g_rows = {k: v for k, v in cm_rows(g_seed).items()
                  if k in ("GetOperation", "DiscoverInstances (MaxResults 100)", "ListOperations")}
        others = []
        for a in range(10):
            key = f"2000000000{a:02d}"
            c_ = sd(g_port, key)
            ns = create_namespace(c_, f"other-{a}")
            for s in range(11):
                others.append((key, create_service(c_, ns, f"svc-{s}")))
        growth: dict = {"stages": []}
        have = 0
        g_concs = [16] if quick else [1, 16]
        for stage, size in enumerate(growth_sizes):
            add = size - have
            t = time.monotonic()
            added, failed = fill(wrk, g_port, others, f"g{stage}", add)
            have += added
            st = {"items": have, "wanted": size, "register_s": time.monotonic() - t, "non2xx": failed}
            time.sleep(0.5)
            st["rss_mb"] = rss_mb(g.pid)
            st["dir_mb"] = dir_mb(g_dir)
            wal = g_dir / "localplane.db-wal"
            st["wal_mb"] = wal.stat().st_size / (1024 * 1024) if wal.exists() else 0.0
            st["rows"] = {}
            for row, env in g_rows.items():
                for c in g_concs:
                    wrk.run(g_port, c, warm, env)
                    st["rows"].setdefault(row, {})[c] = median_run([wrk.run(g_port, c, duration, env)
                                                                    for _ in range(3)])
            log(f"growth {have:7d} items elsewhere: RSS {st['rss_mb']:.1f} MB, dir {st['dir_mb']:.1f} MB, " +
                ", ".join(f"{k} p50 {v[16]['p50'] / 1000:.2f} p99 {v[16]['p99'] / 1000:.2f} ms"
                          for k, v in st["rows"].items()))
            growth["stages"].append(st)
        res["growth"] = growth
        stop(g)

        # ---- the same 100,000 items in an ephemeral (in-memory) localplane: RSS only
        if not quick:
            e_port = free_port()
            e = start(localplane_cmd(args.bin, e_port, None), logs / "localplane-eph100k.log")
            wait_ready(e, e_port)
            e_others = []
            for a in range(10):
                key = f"2000000000{a:02d}"
                c_ = sd(e_port, key)
                ns = create_namespace(c_, f"other-{a}")
                for s in range(11):
                    e_others.append((key, create_service(c_, ns, f"svc-{s}")))
            added, failed = fill(wrk, e_port, e_others, "e", growth_sizes[-1])
            time.sleep(0.5)
            res["ephemeral_100k"] = {"items": added, "non2xx": failed, "rss_mb": rss_mb(e.pid)}
            stop(e)
    finally:
        for p in list(CHILDREN):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    res["elapsed_s"] = time.monotonic() - t_begin
    res["versions"] = versions(args)
    notes = BENCH / "NOTES.md"
    if notes.exists():
        res["notes"] = notes.read_text()
    Path(args.json).write_text(json.dumps(res, indent=1))
    from report import write_report  # noqa: E402 (bench/report.py)
    write_report(res, Path(args.out))
    log(f"done in {res['elapsed_s']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

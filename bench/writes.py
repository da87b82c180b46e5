#!/usr/bin/env python3
"""The write rows of bench/run: RegisterInstance (re-registrations cycling over a fixed set of ids),
DeregisterInstance (alternating with the registration of the same id), CreateService,
UpdateService, CreateConnector and UpdateConnector (each after the DescribeConnector that reads
its version), at c=16 with plain `wrk -t2 -c16`, on three servers: `--ephemeral --timing instant`,
`--data-dir --timing instant` (every write durable before the answer) and `--ephemeral --timing fast`
(the operation is scheduled, not applied inline). Each row is given as req/s and as its ratio to the
floor (bench/floor) measured just before and after it in the same run. Appends a section to
bench/RESULTS.md. Setup and the correctness pass use plain HTTP (no SDK): one call of each row is
checked for its answer before the timed run, and wrk counts every non-200.

    writes.py --bin target/release/localplane --floor-bin bench/floor/... --wrk wrk [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "lua" / "bench.lua"
ACCOUNT = "123456789012"
AUTH = (f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20260101/us-east-1/servicediscovery/aws4_request, "
        "SignedHeaders=host, Signature=00")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, op: str, body: dict) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/x-amz-json-1.1", "Authorization": AUTH,
                 "X-Amz-Target": f"Route53AutoNaming_v20170314.{op}", "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def wait_op(port: int, op_id: str) -> dict:
    for _ in range(600):
        op = call(port, "GetOperation", {"OperationId": op_id})["Operation"]
        if op["Status"] in ("SUCCESS", "FAIL"):
            if op["Status"] == "FAIL":
                raise RuntimeError(f"operation {op_id} failed: {op}")
            return op
        time.sleep(0.02)
    raise RuntimeError(f"operation {op_id} did not finish")


def start(cmd: list[str], port: int, log_path: Path) -> subprocess.Popen:
    p = subprocess.Popen(cmd, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(2000):
        if p.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited with {p.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{cmd[0]} did not listen")


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def wrk(binary: str, port: int, seconds: int, env: dict) -> dict:
    full = dict(os.environ, BENCH_THREADS="2", **env)
    cmd = [binary, "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            r = json.loads(line[len("BENCHJSON "):])
            r["rps"] = r["ok"] / (r["duration_us"] / 1e6)
            errs = [ln for ln in out.stderr.splitlines() if ln.startswith("BENCHERR ")]
            if errs:
                r["first_error"] = errs[0][9:]
            return r
    raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")


def against_floor(binary: str, floor_port: int, port: int, seconds: int, env: dict) -> tuple[dict, float]:
    """One row run by wrk, and the floor's req/s measured just before and after it (their mean)."""
    f1 = wrk(binary, floor_port, seconds, floor_env())["rps"]
    r = wrk(binary, port, seconds, env)
    f2 = wrk(binary, floor_port, seconds, floor_env())["rps"]
    return r, (f1 + f2) / 2


def arguments() -> argparse.ArgumentParser:
    """The options every bench script of bench/run takes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--floor-bin", required=True)
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    return ap


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat, jiffies): user … steal."""
    return [int(x) for x in open("/proc/stat").readline().split()[1:9]]


def floor_env() -> dict:
    return {"BENCH_MODE": "fixed", "BENCH_TARGET": "Route53AutoNaming_v20170314.GetOperation",
            "BENCH_BODY": '{"OperationId":"x"}', "BENCH_EXPECT": '"SUCCESS"'}


def setup(port: int, nserv: int = 16) -> dict:
    """An HTTP namespace with `nserv` services, a private DNS namespace with `nserv` services."""
    http_ns = wait_op(port, call(port, "CreateHttpNamespace", {"Name": "w"})["OperationId"])["Targets"]["NAMESPACE"]
    dns_ns = wait_op(port, call(port, "CreatePrivateDnsNamespace", {"Name": "w.local", "Vpc": "vpc-0bench"})[
        "OperationId"])["Targets"]["NAMESPACE"]
    http = [call(port, "CreateService", {"Name": f"s{i}", "NamespaceId": http_ns, "Type": "HTTP"})["Service"]["Id"]
            for i in range(nserv)]
    dns = [call(port, "CreateService", {"Name": f"d{i}", "NamespaceId": dns_ns,
                                        "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 60}]}})["Service"]["Id"]
           for i in range(nserv)]
    return {"http_ns": http_ns, "http": http, "dns": dns, "connector_body": connector_body(port)}


def connectors(port: int, body: str, n: int = 128) -> list[str]:
    """`n` RUNNING connectors (the server runs `--timing instant`), for the UpdateConnector row."""
    arns = [kc_call(port, "POST", "/v1/connectors", json.loads(body.replace("@N@", f"u{i}")))["connectorArn"]
            for i in range(n)]
    for arn in arns:
        state = kc_call(port, "GET", "/v1/connectors/" + urllib.parse.quote(arn, safe=""))["connectorState"]
        if state != "RUNNING":
            raise RuntimeError(f"connector {arn} is {state}, not RUNNING")
    return arns


def kc_call(port: int, method: str, path: str, body: dict | None = None) -> dict:
    auth = AUTH.replace("/servicediscovery/", "/kafkaconnect/")
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json", "Authorization": auth, "X-Amz-Date": "20260101T000000Z"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def connector_body(port: int) -> str:
    """A CreateConnector body (its name `@N@`) over a custom plugin, created and waited for here."""
    plugin = kc_call(port, "POST", "/v1/custom-plugins", {
        "name": "w-plugin", "contentType": "ZIP",
        "location": {"s3Location": {"bucketArn": "arn:aws:s3:::bench", "fileKey": "p.zip"}}})["customPluginArn"]
    for _ in range(600):
        got = kc_call(port, "GET", "/v1/custom-plugins/" + urllib.parse.quote(plugin, safe=""))
        if got["customPluginState"] == "ACTIVE":
            break
        time.sleep(0.02)
    body = {
        "connectorName": "@N@", "capacity": {"provisionedCapacity": {"mcuCount": 1, "workerCount": 1}},
        "connectorConfiguration": {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                                   "tasks.max": "1"},
        "kafkaCluster": {"apacheKafkaCluster": {"bootstrapServers": "b-1.bench:9092",
                                                "vpc": {"subnets": ["subnet-0a1b2c3d"], "securityGroups": ["sg-0123abcd"]}}},
        "kafkaClusterClientAuthentication": {"authenticationType": "NONE"},
        "kafkaClusterEncryptionInTransit": {"encryptionType": "PLAINTEXT"},
        "kafkaConnectVersion": "2.7.1", "serviceExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/msk-connect",
        "plugins": [{"customPlugin": {"customPluginArn": plugin, "revision": 1}}]}
    return json.dumps(body, separators=(",", ":"))


def rows(ids: dict, tag: str, fast: bool) -> dict:
    sv = lambda xs: ",".join(f"{ACCOUNT}:{x}" for x in xs)  # noqa: E731
    return {
        "RegisterInstance": {"BENCH_MODE": "register-cycle", "BENCH_SERVICES": sv(ids["http"]), "BENCH_TAG": tag,
                             "BENCH_IDS": "60000" if fast else "3000", "BENCH_EXPECT": '"OperationId"'},
        "CreateService": {"BENCH_MODE": "create-service", "BENCH_SERVICES": sv(ids["http"][:1]),
                          "BENCH_NAMESPACE": ids["http_ns"], "BENCH_TAG": tag + "c", "BENCH_EXPECT": '"Service"'},
        "CreateConnector": {"BENCH_MODE": "unique-body", "BENCH_METHOD": "POST", "BENCH_PATH": "/v1/connectors",
                            "BENCH_TARGET": "", "BENCH_SERVICE": "kafkaconnect", "BENCH_KEY": ACCOUNT,
                            "BENCH_BODY": ids["connector_body"], "BENCH_TAG": tag + "k",
                            "BENCH_EXPECT": '"connectorArn"'},
    } | ({} if fast else {
        # Under `fast` an id's deregistration must wait for its registration's 2 s.
        "DeregisterInstance (alternating with RegisterInstance)": {
            "BENCH_MODE": "deregister", "BENCH_SERVICES": sv(ids["http"]), "BENCH_TAG": tag + "d",
            "BENCH_EXPECT": '"OperationId"'},
        # Under `fast` an UPDATE_SERVICE takes 2 s and a service takes one at a time (as on AWS):
        # the row would measure the number of services, not the server.
        "UpdateService": {"BENCH_MODE": "update-service", "BENCH_SERVICES": sv(ids["dns"]), "BENCH_TAG": tag,
                          "BENCH_EXPECT": '"OperationId"'},
        # Under `fast` an update takes its steps' time and a connector takes one at a time (as on
        # AWS). Each update needs the connector's currentVersion: a DescribeConnector reads it.
        "UpdateConnector (each after a DescribeConnector)": {
            "BENCH_MODE": "update-connector", "BENCH_SERVICE": "kafkaconnect", "BENCH_TARGET": "",
            "BENCH_KEY": ACCOUNT, "BENCH_CONNECTORS": ",".join(ids["connectors"]),
            "BENCH_EXPECT": '"connectorArn"'},
    })


def main() -> int:
    args = arguments().parse_args()
    work = Path(tempfile.mkdtemp(prefix="lp-writes-"))
    floor_port = free_port()
    floor = start([args.floor_bin, f"127.0.0.1:{floor_port}"], floor_port, work / "floor.log")
    servers = [("--ephemeral --timing instant", ["--ephemeral", "--timing", "instant"]),
               ("--data-dir --timing instant", ["--data-dir", str(work / "dd"), "--timing", "instant"]),
               ("--ephemeral --timing fast", ["--ephemeral", "--timing", "fast"])]
    table = []
    load0 = open("/proc/loadavg").read().split()[0]
    cpu0 = cpu_times()
    try:
        for label, flags in servers:
            port = free_port()
            # Re-registrations under `fast` wait for the operation before them on the same id (2 s):
            # the cycle is long enough there (60,000 ids per thread), and a raised quota holds them.
            cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--dns-listen", "off",
                   "--quota", "instances_per_service=100000", *flags]
            p = start(cmd, port, work / "localplane.log")
            ids = setup(port)
            ids["connectors"] = [] if "fast" in flags else connectors(port, ids["connector_body"])
            for row, env in rows(ids, f"t{len(table)}", "fast" in flags).items():
                r, fl = against_floor(args.wrk, floor_port, port, args.seconds, env)
                table.append({"server": label, "row": row, "rps": r["rps"], "floor": fl, "ratio": r["rps"] / fl,
                              "p99_ms": r["p99"] / 1000, "non2xx": r["non2xx"] + r["badbody"],
                              "first_error": r.get("first_error")})
                log(f"{label:32s} {row:55s} {r['rps']:8.0f}/s floor {fl:8.0f}/s ratio {r['rps'] / fl:.3f} "
                    f"p99 {r['p99'] / 1000:.1f} ms non2xx {r['non2xx']}")
            stop(p)
    finally:
        stop(floor)
        shutil.rmtree(work, ignore_errors=True)
    load1 = open("/proc/loadavg").read().split()[0]
    # Time the hypervisor gave to other machines while this one wanted to run (the 8th counter).
    spent = [b - a for a, b in zip(cpu0, cpu_times())]
    steal = 100 * spent[7] / max(1, sum(spent))
    lines = ["", "## Writes at c=16 (bench/writes.py)", "",
             f"`wrk -t2 -c16`, {args.seconds} s per row, the floor measured just before and after each row; "
             f"load average {load0} before, {load1} after; CPU time stolen by the hypervisor during the run: "
             f"{steal:.0f}% (the ratios hold the floor and the row to the same machine).", "",
             "| server | row | req/s | floor req/s | ratio to the floor | p99 ms | non-2xx |", "|---|---|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| `{t['server']}` | {t['row']} | {t['rps']:.0f} | {t['floor']:.0f} | {t['ratio']:.3f} | "
                     f"{t['p99_ms']:.1f} | {t['non2xx']} |")
    with open(args.results, "a") as f:
        f.write("\n".join(lines) + "\n")
    (BENCH / "work").mkdir(exist_ok=True)
    (BENCH / "work" / "writes.json").write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

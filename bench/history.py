#!/usr/bin/env python3
"""The history rows of bench/run: what 1,000,000 stored operations cost. One `--ephemeral --timing
instant` server (operations kept forever, so none is dropped by retention while it fills): the rows
GetOperation, ListOperations (first page), DiscoverInstances (100 instances) and RegisterInstance
measured fresh, then `--ops` re-registrations stored (wrk, cycling over a fixed set of ids), then the
same rows again. Each row is given as req/s and as its ratio to the floor (bench/floor) measured just
before and after it, and the after/before ratio of the two ratios; the server's RSS growth per stored
operation is read from /proc. Appends a section to bench/RESULTS.md.

    history.py --bin target/release/localplane --floor-bin bench/floor/... --wrk wrk [--ops 1000000]
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from writes import ACCOUNT, against_floor, arguments, call, free_port, log, start, stop, wait_op, wrk

STORED = re.compile(r'^localplane_operations_finished_total\{[^}]*type="REGISTER_INSTANCE"[^}]*\} (\d+)', re.M)


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def stored(port: int) -> int:
    """Registrations the server has finished (its /metrics counter)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    return sum(int(n) for n in STORED.findall(text))


def setup(port: int) -> dict:
    ns = wait_op(port, call(port, "CreateHttpNamespace", {"Name": "h"})["OperationId"])["Targets"]["NAMESPACE"]
    fill = [call(port, "CreateService", {"Name": f"f{i}", "NamespaceId": ns})["Service"]["Id"] for i in range(16)]
    disc = call(port, "CreateService", {"Name": "disc", "NamespaceId": ns})["Service"]["Id"]
    op = ""
    for i in range(100):
        op = call(port, "RegisterInstance", {"ServiceId": disc, "InstanceId": f"d{i}",
                                             "Attributes": {"AWS_INSTANCE_IPV4": f"10.0.0.{i}"}})["OperationId"]
    wait_op(port, op)
    return {"fill": fill, "op": op}


def rows(ids: dict) -> dict:
    sv = ",".join(f"{ACCOUNT}:{x}" for x in ids["fill"])
    target = "Route53AutoNaming_v20170314."
    return {
        "GetOperation": {"BENCH_TARGET": target + "GetOperation",
                         "BENCH_BODY": json.dumps({"OperationId": ids["op"]}), "BENCH_EXPECT": '"SUCCESS"'},
        "ListOperations (first page)": {"BENCH_TARGET": target + "ListOperations", "BENCH_BODY": "{}",
                                        "BENCH_EXPECT": '"Operations"'},
        "DiscoverInstances (100)": {"BENCH_TARGET": target + "DiscoverInstances",
                                    "BENCH_BODY": json.dumps({"NamespaceName": "h", "ServiceName": "disc"}),
                                    "BENCH_EXPECT": '"Instances"'},
        "RegisterInstance": {"BENCH_MODE": "register-cycle", "BENCH_SERVICES": sv, "BENCH_TAG": "r",
                             "BENCH_IDS": "3000", "BENCH_EXPECT": '"OperationId"'},
    }


def measure(args, floor_port: int, port: int, ids: dict) -> dict:
    out = {}
    for row, env in rows(ids).items():
        r, fl = against_floor(args.wrk, floor_port, port, args.seconds, env)
        out[row] = {"rps": r["rps"], "floor": fl, "ratio": r["rps"] / fl, "non2xx": r["non2xx"] + r["badbody"]}
        log(f"{row:30s} {r['rps']:8.0f}/s floor {fl:8.0f}/s ratio {r['rps'] / fl:.3f} non2xx {r['non2xx']}")
    return out


def main() -> int:
    ap = arguments()
    ap.add_argument("--ops", type=int, default=1_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lp-history-"))
    floor_port, port = free_port(), free_port()
    floor = start([args.floor_bin, f"127.0.0.1:{floor_port}"], floor_port, work / "floor.log")
    cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--dns-listen", "off", "--ephemeral",
           "--timing", "instant", "--operation-retention", "forever", "--quota", "instances_per_service=100000"]
    p = start(cmd, port, work / "localplane.log")
    try:
        ids = setup(port)
        log("fresh server")
        fresh = measure(args, floor_port, port, ids)
        rss0, ops0 = rss_kb(p.pid), stored(port)
        fill = rows(ids)["RegisterInstance"] | {"BENCH_TAG": "h"}
        started = time.monotonic()
        while stored(port) < ops0 + args.ops:
            wrk(args.wrk, port, 10, fill)
        filled = time.monotonic() - started
        rss1, ops1 = rss_kb(p.pid), stored(port)
        log(f"stored {ops1 - ops0} operations in {filled:.0f} s; RSS {rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MiB")
        after = measure(args, floor_port, port, ids)
    finally:
        stop(p)
        stop(floor)
        shutil.rmtree(work, ignore_errors=True)
    per_op = (rss1 - rss0) * 1024 / max(1, ops1 - ops0)
    lines = ["", "## History: 1,000,000 stored operations (bench/history.py)", "",
             f"`--ephemeral --timing instant --operation-retention forever`, `wrk -t2 -c16`, {args.seconds} s per "
             f"row, the floor measured just before and after each row. Between the two columns "
             f"{ops1 - ops0:,} re-registrations were stored ({filled:.0f} s); the server's RSS went from "
             f"{rss0 / 1024:.0f} to {rss1 / 1024:.0f} MiB: **{per_op:.0f} bytes per stored operation**.", "",
             "| row | fresh req/s (ratio to the floor) | after req/s (ratio to the floor) | after / fresh | non-2xx |",
             "|---|---|---|---|---|"]
    for row, f in fresh.items():
        a = after[row]
        lines.append(f"| {row} | {f['rps']:.0f} ({f['ratio']:.3f}) | {a['rps']:.0f} ({a['ratio']:.3f}) | "
                     f"{a['ratio'] / f['ratio']:.2f} | {f['non2xx'] + a['non2xx']} |")
    with open(args.results, "a") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

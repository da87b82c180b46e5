"""bench/dns.py: DNS queries per second for a 100-instance MULTIVALUE service, measured with dnsperf (Debian).

Starts localplane with its DNS listener on a free loopback port, creates a private DNS namespace
`bench.local` with a MULTIVALUE A service `web` and 100 instances through boto3, then runs dnsperf for
a bounded time at 1 and 16 clients. Prints a Markdown table and appends it to bench/RESULTS.md.
"""

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.config


def free_port(kind=socket.SOCK_STREAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args()
    http, dns = free_port(), free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        [args.bin, "serve", "--ephemeral", "--timing", "instant", "--listen", f"127.0.0.1:{http}",
         "--dns-listen", f"127.0.0.1:{dns}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"LOCALPLANE_LOG": "warn", "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http}/_localplane/health", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        c = boto3.client(
            "servicediscovery", endpoint_url=f"http://127.0.0.1:{http}", region_name="us-east-1",
            aws_access_key_id="123456789012", aws_secret_access_key="x",
            config=botocore.config.Config(inject_host_prefix=False),
        )
        op = c.create_private_dns_namespace(Name="bench.local", Vpc="vpc-1")["OperationId"]
        ns = c.get_operation(OperationId=op)["Operation"]["Targets"]["NAMESPACE"]
        svc = c.create_service(
            Name="web", NamespaceId=ns,
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 60}]},
        )["Service"]["Id"]
        for i in range(100):
            c.register_instance(ServiceId=svc, InstanceId=f"i-{i}",
                                Attributes={"AWS_INSTANCE_IPV4": f"10.0.{i // 250}.{i % 250 + 1}"})
        queries = Path(tempfile.mkdtemp()) / "queries.txt"
        queries.write_text("web.bench.local A\n")
        rows = []
        for clients in (1, 16):
            out = subprocess.run(
                ["dnsperf", "-s", "127.0.0.1", "-p", str(dns), "-d", str(queries), "-l", str(args.seconds),
                 "-c", str(clients), "-T", str(min(clients, 2)), "-q", str(max(clients * 4, 10))],
                capture_output=True, text=True, timeout=args.seconds + 30,
            ).stdout
            qps = re.search(r"Queries per second:\s+([\d.]+)", out)
            lat = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
            lost = re.search(r"Queries lost:\s+(\d+)", out)
            noerror = re.search(r"NOERROR (\d+)", out)
            rows.append((clients, float(qps.group(1)) if qps else 0.0, float(lat.group(1)) * 1000 if lat else 0.0,
                         int(lost.group(1)) if lost else -1, int(noerror.group(1)) if noerror else -1))
        table = ["", "## DNS: queries per second (dnsperf)", "",
                 "`web.bench.local A` against a MULTIVALUE service of 100 healthy instances (8 records per answer),"
                 f" {args.seconds:g} s per row, loopback UDP.", "",
                 "| clients | queries/s | mean latency (ms) | lost | NOERROR |", "|---|---|---|---|---|"]
        for clients, qps, lat, lost, ok in rows:
            table.append(f"| {clients} | {qps:,.0f} | {lat:.3f} | {lost} | {ok:,} |")
        text = "\n".join(table) + "\n"
        print(text)
        with open(args.results, "a") as f:
            f.write(text)
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

"""Writes bench/RESULTS.md from the results of bench/bench.py (also: python3 report.py results.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGETS = """\
| target | wanted | measured | met |
|---|---|---|---|
"""


def ms(us: float) -> str:
    return f"{us / 1000:.2f}"


def fmt_rps(x: float) -> str:
    return f"{x:,.0f}"


def ratio(a: float, b: float) -> str:
    if not b:
        return "—"
    r = a / b
    if r >= 10:
        return f"{r:,.0f}×"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×"


def targets(res: dict) -> list[tuple[str, str, str, bool | None]]:
    m = res.get("matrix", {})
    out = []

    def cell(row, c, who):
        return m.get(row, {}).get(c, {}).get(who)

    for row in ("GetOperation", "DiscoverInstances (MaxResults 100)"):
        lp, mo = cell(row, 16, "localplane"), cell(row, 16, "moto")
        if lp and mo and mo["rps"]:
            r = lp["rps"] / mo["rps"]
            out.append((f"{row} vs moto, c=16", "≥ 100×", f"{r:,.0f}×", r >= 100))
    lp, fl = cell("GetOperation", 16, "localplane"), cell("floor (fixed GetOperation body)", 16, "floor")
    if lp and fl:
        r = lp["rps"] / fl["rps"]
        out.append(("GetOperation vs the floor, c=16", "≥ 0.6×", f"{r:.2f}×", r >= 0.6))
    worst = None
    for row in ("GetOperation", "DiscoverInstances (MaxResults 100)", "DiscoverInstances (MaxResults 1000)",
                "ListInstances", "ListOperations", "DescribeConnectorOperation", "ListConnectorOperations"):
        lp = cell(row, 16, "localplane")
        if lp and (worst is None or lp["p99"] > worst[1]):
            worst = (row, lp["p99"])
    if worst:
        floor_p99 = f"; the floor's own: {ms(fl['p99'])} ms" if fl else ""
        out.append(("p99 of reads at c=16, back to back (worst row)", "< 2 ms",
                    f"{ms(worst[1])} ms ({worst[0]}{floor_p99})", worst[1] < 2000))
    paced = res.get("paced") or {}
    if paced:
        row, worst_p = max(paced.items(), key=lambda kv: kv[1]["localplane"]["p99"])
        lp = worst_p["localplane"]
        out.append(("p99 of reads at c=16, paced below each row's back-to-back rate (worst row)", "< 2 ms",
                    f"{ms(lp['p99'])} ms ({row}, {fmt_rps(lp['rps'])} req/s; the floor at that pace: "
                    f"{ms(worst_p['floor']['p99'])} ms)", lp["p99"] < 2000))
    if "startup_ms" in res:
        out.append(("start to first 200 (median)", "< 50 ms", f"{res['startup_ms']:.1f} ms",
                    res["startup_ms"] < 50))
    if res.get("rss_idle_mb") is not None:
        out.append(("RSS idle", "< 30 MB", f"{res['rss_idle_mb']:.1f} MB", res["rss_idle_mb"] < 30))
    st = (res.get("growth") or {}).get("stages") or []
    if st:
        last = st[-1]
        out.append((f"RSS with {last['items']:,} instances (data dir)", "< 150 MB", f"{last['rss_mb']:.1f} MB",
                    last["rss_mb"] < 150 if last["items"] >= 100_000 else None))
    best = None
    for c in res.get("concs", []):
        lp = cell("RegisterInstance (durable)", c, "localplane")
        if lp and (best is None or lp["rps"] > best[1]):
            best = (c, lp["rps"])
    if best:
        out.append(("RegisterInstance, durable writes/s (best c)", "≥ 5,000", f"{fmt_rps(best[1])} (c={best[0]})",
                    best[1] >= 5000))
    if len(st) >= 2:
        first, last = st[0], st[-1]
        worst_g = None
        for row in first["rows"]:
            for c in first["rows"][row]:
                for q in ("p50", "p99"):
                    a, b = first["rows"][row][c][q], last["rows"][row][c][q]
                    g = b / a if a else 0
                    if worst_g is None or g > worst_g[0]:
                        worst_g = (g, row, c, q)
        if worst_g:
            g, row, c, q = worst_g
            out.append((f"growth {first['items']:,} → {last['items']:,} items (worst of p50/p99)", "≤ 1.5×",
                        f"{g:.2f}× ({row}, c={c}, {q})",
                        g <= 1.5 if last["items"] >= 100_000 else None))
    return out


def _int_keys(res: dict) -> None:
    """JSON turns the concurrency keys into strings; back to ints."""
    for row, cells in res.get("matrix", {}).items():
        res["matrix"][row] = {int(c): v for c, v in cells.items()}
    for st in (res.get("growth") or {}).get("stages", []):
        for row, cells in st["rows"].items():
            st["rows"][row] = {int(c): v for c, v in cells.items()}


def headline(res: dict) -> str:
    """The short table for the README: c=16 rows and the footprint."""
    m = res.get("matrix", {})
    L = ["| at c=16, 2 shared cores | localplane req/s | p50 / p99 ms | moto req/s | localplane/moto |",
         "|---|---|---|---|---|"]
    for row in ("GetOperation", "DiscoverInstances (MaxResults 100)", "ListInstances", "ListOperations",
                "RegisterInstance (durable)", "DescribeConnectorOperation"):
        cell = m.get(row, {}).get(16)
        if not cell:
            continue
        lp, mo = cell.get("localplane"), cell.get("moto")
        L.append(f"| {row} | {fmt_rps(lp['rps'])} | {ms(lp['p50'])} / {ms(lp['p99'])} | "
                 f"{fmt_rps(mo['rps']) if mo else '(no MSK Connect)'} | {ratio(lp['rps'], mo['rps']) if mo else '—'} |")
    fl = m.get("floor (fixed GetOperation body)", {}).get(16, {}).get("floor")
    if fl:
        L.append(f"| the floor (bare axum, fixed body) | {fmt_rps(fl['rps'])} | {ms(fl['p50'])} / {ms(fl['p99'])} | | |")
    foot = []
    if "startup_ms" in res:
        foot.append(f"start to first 200 {res['startup_ms']:.0f} ms (moto {res.get('moto_startup_ms', 0):,.0f} ms)")
        foot.append(f"RSS idle {res['rss_idle_mb']:.0f} MB (moto {res.get('moto_rss_idle_mb', 0):.0f} MB)")
    st = (res.get("growth") or {}).get("stages") or []
    if st:
        foot.append(f"RSS with {st[-1]['items']:,} instances {st[-1]['rss_mb']:.0f} MB, data dir {st[-1]['dir_mb']:.0f} MB")
    return "\n".join(L) + "\n\n" + "; ".join(foot) + ".\n"


def write_report(res: dict, path: Path) -> None:
    _int_keys(res)
    work = Path(__file__).resolve().parent / "work"
    work.mkdir(exist_ok=True)
    (work / "readme-table.md").write_text(headline(res))
    mach = res["machine"]
    v = res.get("versions", {})
    L = []
    L.append("# Benchmarks: localplane beside moto\n")
    L.append(f"Written by `bench/run{' --quick' if res['quick'] else ''}` on {res['started']} "
             f"({res.get('elapsed_s', 0):.0f} s).{' **Quick run: short durations, c=16 only; not the published numbers.**' if res['quick'] else ''}\n")
    L.append("## Machine and versions\n")
    L.append(f"- machine: {mach['nproc']} CPUs (`nproc`), {mach['cpu']}, {mach['mem']} memory, Linux {mach['kernel']}; "
             f"load average at the start {' '.join(mach['load'])}")
    L.append(f"- localplane {v.get('localplane', '?')} (release build), moto {v.get('moto', '?')} (`moto_server`, "
             f"Python {v.get('python', '?')}), boto3 {v.get('boto3', '?')}, {v.get('wrk', 'wrk ?')}")
    L.append("- the load generator, the server under test and everything else share these CPUs: the numbers are "
             "what one laptop-class machine does with a client on it, not a server's ceiling\n")
    L.append("## How it was measured\n")
    L.append(f"- every server on 127.0.0.1; localplane `serve --ephemeral --timing instant --dns-listen off`, default "
             "logging (one `info` line per request, to a file); `moto_server` with its defaults (werkzeug, threaded)")
    L.append("- seeded through boto3 with the same data: 1 HTTP namespace `bench`, 1 service `web`, 1,000 instances "
             "with 4 attributes each; localplane also gets an MSK Connect plugin, worker configuration, connector and "
             f"100 completed configuration updates ({res.get('msk_operations', '?')} connector operations listed)")
    L.append(f"- `wrk` with `bench/lua/bench.lua`, min(c, 2) threads, c connections, {res['duration_s']:g} s per run, "
             "2 runs per server per cell after a 1 s warm-up of each, alternating A B A B; **req/s counts only 200 responses "
             "whose body holds the expected field** (the Lua `response` callback checks status and body); p50/p99 are "
             "wrk's latency percentiles (mean p50 of the runs, worse p99 of the runs)")
    L.append("- RegisterInstance: localplane runs with `--data-dir` on a temp dir (SQLite WAL, `synchronous=FULL`: a "
             "200 means fsynced, with group commit); each request registers a new instance id, spread over fresh "
             "services so the 1,000-instances-per-service quota is never hit. **moto keeps everything in memory: its "
             "RegisterInstance is not durable**, so that row compares a durable write with a dictionary insert")
    L.append("- MSK Connect rows: moto has no MSK Connect; they compare against the floor")
    L.append("- GetOperation reads the namespace's CREATE_NAMESPACE operation on both servers. moto's ListOperations "
             "has no pagination and, on its first call, drops every operation without a NAMESPACE target (moto "
             "5.2.5 `list_operations`), so from then on moto lists 1 operation while localplane pages 100 of its "
             "~1,100: the ListOperations row flatters moto")
    L.append("- the floor: `bench/floor`, a minimal axum/tokio server (same crate versions as localplane) answering a "
             "fixed GetOperation body with no routing, parsing, state or logging — what this machine can do\n")

    t = targets(res)
    if t:
        L.append("## Targets\n")
        L.append(TARGETS.rstrip("\n"))
        for name, want, got, met in t:
            L.append(f"| {name} | {want} | {got} | {'yes' if met else ('—' if met is None else '**no**')} |")
        L.append("")

    m = res.get("matrix", {})
    floor = m.get("floor (fixed GetOperation body)", {})
    L.append("## Throughput and latency\n")
    L.append("req/s = correct 200s per second; latencies in ms; `other` = wrong bodies, socket errors and timeouts.\n")
    L.append("| row | c | localplane req/s | p50 | p99 | non-2xx | other | moto req/s | p50 | p99 | non-2xx | other "
             "| localplane/moto | localplane/floor |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row, cells in m.items():
        for c, cell in sorted(cells.items(), key=lambda kv: int(kv[0])):
            lp = cell.get("localplane")
            mo = cell.get("moto")
            fl = cell.get("floor") or (floor.get(c) or {}).get("floor")
            if row.startswith("floor"):
                L.append(f"| floor: fixed body | {c} | {fmt_rps(fl['rps'])} | {ms(fl['p50'])} | {ms(fl['p99'])} | "
                         f"{fl['non2xx']} | {fl['bad']} | | | | | | | 1× |")
                continue
            mcols = (f"{fmt_rps(mo['rps'])} | {ms(mo['p50'])} | {ms(mo['p99'])} | {mo['non2xx']} | {mo['bad']}"
                     if mo else "no MSK Connect | | | |")
            L.append(f"| {row} | {c} | {fmt_rps(lp['rps'])} | {ms(lp['p50'])} | {ms(lp['p99'])} | {lp['non2xx']} | "
                     f"{lp['bad']} | {mcols} | {ratio(lp['rps'], mo['rps']) if mo else '—'} | "
                     f"{ratio(lp['rps'], fl['rps']) if fl else '—'} |")
    L.append("")

    paced = res.get("paced") or {}
    if paced:
        L.append("## Latency at c=16, paced\n")
        L.append("Back to back, wrk and the server saturate the two shared cores and a p99 is mostly time spent "
                 "waiting for a core (the floor, which does nothing, shows the same). Here each of the 16 "
                 "connections pauses between a response and its next request, a random whole number of "
                 "milliseconds averaging the pause below, chosen per row as 2 × 16 / (the row's back-to-back "
                 "req/s): the pause that would halve the row's rate if answers took no time (with their own "
                 "time and wrk's whole-millisecond timers the rows run at 35–45% of it). The floor runs at the "
                 "same pause, alternating A B A B as above; latencies in ms.\n")
        L.append("| row | pause (mean) | back-to-back req/s | localplane req/s | p50 | p99 | floor req/s | p50 | p99 |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for row, v in paced.items():
            lp, fl = v["localplane"], v["floor"]
            L.append(f"| {row} | {v['pause_ms']:.2f} ms | {fmt_rps(v['back_to_back_rps'])} | {fmt_rps(lp['rps'])} | "
                     f"{ms(lp['p50'])} | {ms(lp['p99'])} | {fmt_rps(fl['rps'])} | {ms(fl['p50'])} | {ms(fl['p99'])} |")
        L.append("")

    L.append("## Footprint\n")
    L.append("| measure | localplane | moto |")
    L.append("|---|---|---|")
    if "startup_ms" in res:
        L.append(f"| start to first 200 (ListNamespaces), median of {len(res['startup_ms_all'])}, `--ephemeral` | "
                 f"{res['startup_ms']:.1f} ms | {res.get('moto_startup_ms', 0):.0f} ms (one start) |")
        L.append(f"| start to first 200, fresh `--data-dir` | {res['startup_dd_ms']:.1f} ms | |")
        L.append(f"| RSS idle (just started) | {res['rss_idle_mb']:.1f} MB | {res.get('moto_rss_idle_mb', 0):.1f} MB |")
    if "rss_seeded_mb" in res:
        L.append(f"| RSS seeded (1,000 instances; localplane also MSK Connect) | {res['rss_seeded_mb']:.1f} MB | "
                 f"{res['moto_rss_seeded_mb']:.1f} MB |")
        L.append(f"| RSS after the whole matrix | {res['rss_after_matrix_mb']:.1f} MB | "
                 f"{res['moto_rss_after_matrix_mb']:.1f} MB |")
        L.append(f"| data dir of the durable RegisterInstance server after its runs | {res['durable_dir_mb']:.1f} MB | "
                 "(no disk) |")
    for st in (res.get("growth") or {}).get("stages", []):
        L.append(f"| RSS / data dir with {st['items']:,} instances in other accounts (+1,000 own), `--data-dir` | "
                 f"{st['rss_mb']:.1f} MB / {st['dir_mb']:.1f} MB (WAL {st.get('wal_mb', 0):.1f} MB) | |")
    if "ephemeral_100k" in res:
        e = res["ephemeral_100k"]
        L.append(f"| RSS with {e['items']:,} instances, `--ephemeral` (the in-memory store: the data is in the RSS) | "
                 f"{e['rss_mb']:.1f} MB | |")
    L.append("")

    st = (res.get("growth") or {}).get("stages", [])
    if st:
        L.append("## Growth: the cost of a call with more items elsewhere\n")
        L.append("One localplane with `--data-dir` (the default mode). The measured account holds the seed above "
                 "(1 namespace, 1 service, 1,000 instances, their operations); the other items are instances (each "
                 "with its REGISTER_INSTANCE operation) in 10 other accounts, 110 services. p50 / p99 in ms, "
                 f"the median of 3 runs of {res['duration_s']:g} s.\n")
        rows = list(st[0]["rows"].keys())
        concs = sorted({int(c) for r in rows for c in st[0]["rows"][r]})
        head = "| row | c | " + " | ".join(f"{s['items']:,} items" for s in st) + f" | {st[-1]['items']:,} / {st[0]['items']:,} (p50, p99) |"
        L.append(head)
        L.append("|---" * (3 + len(st)) + "|")
        for r in rows:
            for c in concs:
                vals = [s["rows"][r][c] for s in st]
                cells = " | ".join(f"{ms(x['p50'])} / {ms(x['p99'])} ({fmt_rps(x['rps'])}/s)" for x in vals)
                g50 = vals[-1]["p50"] / vals[0]["p50"] if vals[0]["p50"] else 0
                g99 = vals[-1]["p99"] / vals[0]["p99"] if vals[0]["p99"] else 0
                L.append(f"| {r} | {c} | {cells} | {g50:.2f}×, {g99:.2f}× |")
        L.append("")
        L.append("Registering them (c=16, durable): " + ", ".join(
            f"{s['items']:,} items in {s['register_s']:.1f} s" + (f" ({s['non2xx']} non-2xx)" if s['non2xx'] else "")
            for s in st) + ".\n")

    notes = res.get("notes")
    if notes:
        L.append("## Notes\n")
        L.append(notes.strip() + "\n")
    path.write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        data["notes"] = notes.read_text()
    write_report(data, Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).with_name("RESULTS.md"))

#!/usr/bin/python3
"""tools/bench/report.py RAW OUT RUNS SECONDS - `make bench`'s table and JSON.

RAW holds one JSON object per measured figure (tools/bench/run.sh writes
it): {"bench", "gw", "metric", "value", "run"}. Each figure is reported as
the median of its runs with min and max; ftpgwd's figures are also given as
a ratio to the kernel helper (session rate, data path) or to the accept-all
floor (per-packet figures), measured in the same run, next to the goals of
issue 12. Nothing here fails on a figure: a benchmark, not a test.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

raw, out, runs, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fig = {}
for line in open(raw):
    line = line.strip()
    if not line:
        continue
    try:
        r = json.loads(line)
    except ValueError:
        continue          # a figure a tool did not print (already noted)
    fig.setdefault(r["bench"], {}).setdefault(r["gw"], {}).setdefault(
        r["metric"], []).append(r["value"])


def stat(bench, gw, metric):
    v = fig.get(bench, {}).get(gw, {}).get(metric)
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v),
            "runs": v}


def med(bench, gw, metric):
    s = stat(bench, gw, metric)
    return None if s is None else s["median"]


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def f(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer() and nd == 0:
        v = int(v)
    return f"{v:,.{nd}f}"


def cell(bench, gw, metric, nd=1):
    s = stat(bench, gw, metric)
    if s is None:
        return "-"
    if len(s["runs"]) == 1:
        return f(s["median"], nd)
    return f"{f(s['median'], nd)} [{f(s['min'], nd)}-{f(s['max'], nd)}]"


goals = []


def goal(name, value, target, higher_better, unit=""):
    met = None if value is None else (value >= target if higher_better
                                      else value <= target)
    goals.append({"goal": name, "value": value, "target": target,
                  "higher_is_better": higher_better, "met": met,
                  "unit": unit})


def table(title, head, rows):
    print(f"\n{title}")
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for i, r in enumerate([head] + rows):
        print("  " + "  ".join(str(x).ljust(w[j]) if j == 0 else
                               str(x).rjust(w[j]) for j, x in enumerate(r)))
        if i == 0:
            print("  " + "  ".join("-" * n for n in w))


print(f"make bench: median [min-max] of {runs} runs; ratios are of medians")

# 1. control-session rate
if "sessions" in fig:
    rows = []
    for m, label in (("epsv_p1", "EPSV, sequential"), ("epsv_p32", "EPSV, 32 parallel"),
                     ("pasv_p32", "PASV, 32 parallel")):
        r = ratio(med("sessions", "ftpgwd", m + "_rate"), med("sessions", "kernel", m + "_rate"))
        errs = sum(sum(fig["sessions"].get(g, {}).get(m + "_errors", [0]))
                   for g in ("none", "kernel", "floor", "ftpgwd"))
        rf = ratio(med("sessions", "floor", m + "_rate"), med("sessions", "kernel", m + "_rate"))
        rows.append([label] + [cell("sessions", g, m + "_rate", 0)
                               for g in ("none", "kernel", "floor", "ftpgwd")] +
                    [f(rf, 3), f(r, 3), errs])
        goal(f"session rate {label}, ftpgwd/kernel", r, 0.95, True)
    table("1. Control sessions per second (login, EPSV/PASV, LIST, QUIT; vsftpd)",
          ["", "no ALG", "kernel helper", "floor", "ftpgwd", "floor/kernel",
           "ftpgwd/kernel", "errors"], rows)

# 2. latency
if "latency" in fig:
    base = med("latency", "none", "median_us")
    rows = []
    added = {}
    for g in ("none", "kernel", "floor", "ftpgwd"):
        m = med("latency", g, "median_us")
        added[g] = None if m is None or base is None else m - base
        ppx = med("latency", g, "pkts_per_exchange")
        rows.append([g, cell("latency", g, "median_us"), cell("latency", g, "p99_us"),
                     f(added[g], 1),
                     f(ppx, 2) if ppx else "-",
                     f(added[g] / ppx, 2) if ppx and added[g] is not None else "-"])
    r = ratio(added["ftpgwd"], added["floor"])
    goal("added median latency, ftpgwd/floor", r, 1.5, False)
    table("2. NOOP/200 round trip, µs (client, responder and reader on CPU 0)",
          ["", "median", "p99", "added", "queued pkts/exch", "added µs/pkt"], rows)
    print(f"  ftpgwd's added median latency / the floor's: {f(r, 2)}")

# 3. packet-path throughput
if "flood" in fig:
    rows = []
    for n in ("none", "kernel", "kernel-port", "floor-1w", "floor-2w", "ftpgwd-1w",
              "ftpgwd-2w", "ftpgwd-1w-ackmark", "ftpgwd-1w-port", "ftpgwd-2w-port"):
        if n not in fig["flood"]:
            continue
        fl = "floor-2w" if "2w" in n else "floor-1w"
        r = ratio(med("flood", n, "queued_pps"), med("flood", fl, "queued_pps")) \
            if n.startswith("ftpgwd") else None
        rr = ratio(med("flood", n, "replies_s"), med("flood", fl, "replies_s")) \
            if n.startswith("ftpgwd") else None
        drops = sum(fig["flood"][n].get("queue_drops", [])) if "queue_drops" in fig["flood"][n] else "-"
        errs = sum(fig["flood"][n].get("errors", [0]))
        rows.append([n, cell("flood", n, "replies_s", 0), cell("flood", n, "queued_pps", 0),
                     drops, f(r, 3), f(rr, 3), errs])
        if n in ("ftpgwd-1w", "ftpgwd-2w"):
            goal(f"queued packets/s {n}, ftpgwd/floor", r, 0.8, True)
    table("3. Control-packet flood (32 connections x 4 commands in flight; ftpgwd-1w/2w "
          "with --ack-mark 0: every packet queued, as for the floor)",
          ["", "replies/s", "queued pkts/s", "queue drops", "pkts/floor", "replies/floor",
           "conns failed"], rows)

# callgrind
if "callgrind" in fig:
    fp = med("callgrind", "floor", "noop_ir_per_pkt")
    gp = med("callgrind", "ftpgwd", "noop_ir_per_pkt")
    ge = med("callgrind", "ftpgwd", "noop_ir_per_exchange")
    gpe = med("callgrind", "ftpgwd", "port_ir_per_exchange")
    rew = None if None in (gp, ge, gpe) else gpe - ge + gp
    pp = med("callgrind", "path", "noop_ir_per_pkt")
    pe = med("callgrind", "path", "noop_ir_per_exchange")
    ppe = med("callgrind", "path", "port_ir_per_exchange")
    prew = None if None in (pp, pe, ppe) else ppe - pe + pp
    rows = [
        ["floor, accepted packet", f(fp, 0), "", ""],
        ["ftpgwd, pass-through packet (kernel seqadj, delta -1)", f(gp, 0),
         f(ratio(gp, fp), 2), "≤ 2,000"],
        ["ftpgwd, NOOP exchange", f(ge, 0), "", ""],
        ["ftpgwd, PORT exchange (rewrite + pinhole)", f(gpe, 0), "", ""],
        ["ftpgwd, rewritten packet (PORT exch - NOOP exch + packet)", f(rew, 0),
         f(ratio(rew, fp), 2), "≤ 5,000"],
        ["path_packet() alone, pass-through (own adjuster, delta +4)", f(pp, 0), "", ""],
        ["path_packet() alone, rewritten packet (same estimate)", f(prew, 0), "", ""],
    ]
    goal("instructions per pass-through packet (ftpgwd, whole process)", gp, 2000, False)
    goal("instructions per rewritten packet (ftpgwd, whole process)", rew, 5000, False)
    table("Userspace instructions (valgrind --tool=callgrind; the daemon's runs are the "
          "difference of two runs)", ["", "Ir", "/floor", "goal"], rows)

# 4. scale
if "scale" in fig:
    rows = []
    for n in (1000, 10000, 100000):
        g = f"n{n}"
        if g not in fig["scale"]:
            continue
        rows.append([f"{n:,}", cell("scale", g, "bytes_per_session", 0),
                     cell("scale", g, "lookup_ns"), cell("scale", g, "packet_ns")])
    sz = med("scale", "n100000", "sizeof_sess")
    goal("bytes per idle session at 100,000", med("scale", "n100000", "bytes_per_session"),
         1024, False, "B")
    flat = ratio(med("scale", "n100000", "lookup_ns"), med("scale", "n1000", "lookup_ns"))
    goal("lookup time 100,000 / 1,000 sessions (flat = 1)", flat, 1.5, False)
    table(f"4. Idle sessions (sessbench: path_packet() in a private namespace; "
          f"sizeof(struct sess) = {f(sz, 0)})",
          ["sessions", "RSS bytes/session", "sess_find ns", "NOOP packet ns"], rows)

# 5. pinholes
if "pins" in fig:
    rows = []
    for k, label in (("pin", "pinhole"), ("pin_dnat", "pinhole + DNAT map entry")):
        if k not in fig["pins"]:
            continue
        rows.append([label, cell("pins", k, "batch_add_ms"), cell("pins", k, "batch_del_ms"),
                     cell("pins", k, "single_add_ms"), cell("pins", k, "single_del_ms"),
                     f(ratio(med("pins", k, "single_add_ms"), med("pins", k, "batch_add_ms")), 1)])
    table("5. 10,000 pinholes, ms (batches of 256 vs one by one)",
          ["", "add, batched", "remove, batched", "add, single", "remove, single",
           "single/batched"], rows)

# 6. data path
if "bulk" in fig:
    r = ratio(med("bulk", "ftpgwd", "mib_s"), med("bulk", "none", "mib_s"))
    rk = ratio(med("bulk", "kernel", "mib_s"), med("bulk", "none", "mib_s"))
    table("6. Data path: one download through the router, MiB/s (curl, EPSV, vsftpd)",
          ["", "no ALG", "kernel helper", "ftpgwd", "ftpgwd/none", "kernel/none"],
          [["download", cell("bulk", "none", "mib_s"), cell("bulk", "kernel", "mib_s"),
            cell("bulk", "ftpgwd", "mib_s"), f(r, 3), f(rk, 3)]])
    q = stat("bulk", "ftpgwd", "queued_pkts")
    if q:
        print(f"  packets ftpgwd queued during one download (the control "
              f"connection's only): {f(q['median'], 0)} [{f(q['min'], 0)}-{f(q['max'], 0)}]")
    goal("data-path throughput, ftpgwd/none", r, 0.98, True)

print("\nGoals (issue 12)")
for g in goals:
    mark = "-" if g["met"] is None else ("met" if g["met"] else "NOT met")
    op = "≥" if g["higher_is_better"] else "≤"
    v = "-" if g["value"] is None else f"{g['value']:,.3g}"
    print(f"  {mark:8} {g['goal']}: {v} (goal {op} {g['target']:,})")

meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": platform.release(), "cpus": os.cpu_count(), "runs": runs,
        "seconds": secs}
try:
    meta["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True,
                                    cwd=os.path.dirname(os.path.abspath(__file__))
                                    ).stdout.strip()
except OSError:
    pass
res = {"meta": meta, "goals": goals,
       "figures": {b: {g: {m: stat(b, g, m) for m in ms} for g, ms in gs.items()}
                   for b, gs in fig.items()}}
with open(out, "w") as fh:
    json.dump(res, fh, indent=1)
    fh.write("\n")
print(f"\nJSON: {out} ({secs} s)")

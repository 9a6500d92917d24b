#!/usr/bin/env python3
"""Turns the raw measurements of bench/run into Markdown tables and checks the targets of BENCHMARKS.md.

Usage: report.py WORKDIR "sipreg sipsak [sipx]" QUICK
Exits non-zero only when a sipreg measurement is missing (so the smoke run catches a rotten script);
missed targets are reported, never asserted."""
import json
import os
import statistics
import sys

work, tools, quick = sys.argv[1], sys.argv[2].split(), sys.argv[3] == "1"


def load(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def median_ms(result):
    return statistics.median(result["times"]) * 1000


def rss(key):
    path = os.path.join(work, f"rss_{key}")
    if not os.path.exists(path):
        return None
    values = [int(x) for x in open(path).read().split() if x.strip().isdigit()]
    return statistics.median(values) / 1024 if values else None


def jsonl(name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    # --json prints a pretty document; fall back to splitting documents
    if not out:
        text = open(path).read()
        dec = json.JSONDecoder()
        i = 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            obj, i = dec.raw_decode(text, i)
            out.append(obj)
    return out


missing = []
checks = []
notes = []
RUNS_LABEL = "the"
lines = ["# sipreg benchmark results", ""]
if quick:
    lines += ["(quick smoke run: few iterations, figures are not meaningful)", ""]

lines += ["## One authenticated registration (kept), whole process, median wall time", ""]
header = "| transport | " + " | ".join(tools) + " | " + " | ".join(f"sipreg / {t}" for t in tools if t != "sipreg") + " |"
lines += [header, "|" + "---|" * (1 + len(tools) + len(tools) - 1)]
reg = {}
for t in ["udp", "tcp", "tls"]:
    row = {}
    failures = {}
    for part in ("sipreg", "others"):
        data = load(f"reg_{t}_{part}.json")
        for r in (data or {}).get("results", []):
            tool = r["command"].split("_")[0]
            row[tool] = median_ms(r)
            codes = r.get("exit_codes") or []
            failures[tool] = sum(1 for c in codes if c not in (0, None))
    for tool, n in failures.items():
        if n:
            notes.append(f"{tool} over {t.upper()}: {n} of {RUNS_LABEL} runs failed (timed anyway)")
    reg[t] = row
    if "sipreg" not in row:
        missing.append(f"sipreg registration over {t}")
    cells = [f"{row[x]:.2f} ms" if x in row else "—" for x in tools]
    ratios = []
    for x in tools:
        if x == "sipreg":
            continue
        ratios.append(f"{row['sipreg'] / row[x]:.3f}" if "sipreg" in row and x in row else "—")
    label = "TLS 1.2" if t == "tls" else t.upper()
    lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    if "sipreg" in row and "sipsak" in row:
        limit = 0.25 if t == "tls" else 0.1
        checks.append((f"{label}: sipreg ≤ {limit} × sipsak", row["sipreg"] <= limit * row["sipsak"],
                       f"{row['sipreg']:.2f} ms vs {limit * row['sipsak']:.2f} ms"))
    if "sipreg" in row and "sipx" in row:
        checks.append((f"{label}: sipreg faster than sipx", row["sipreg"] < row["sipx"],
                       f"{row['sipreg']:.2f} ms vs {row['sipx']:.2f} ms"))

if notes:
    lines += [""] + [f"- {n}" for n in notes]
lines += ["", "## Peak RSS (median of 5 runs, /usr/bin/time)", ""]
lines += ["| transport | " + " | ".join(tools) + " |", "|" + "---|" * (1 + len(tools))]
for t in ["udp", "tcp", "tls"]:
    cells = []
    for x in tools:
        v = rss(f"{x}_{t}")
        cells.append(f"{v:.1f} MiB" if v else "—")
        if x == "sipreg":
            if v is None:
                missing.append(f"sipreg RSS over {t}")
            else:
                limit = 6 if t == "tls" else 4
                checks.append((f"{t.upper()}: sipreg peak RSS ≤ {limit} MiB", v <= limit, f"{v:.2f} MiB"))
    lines.append(f"| {t.upper()} | " + " | ".join(cells) + " |")
dyn = [rss(f"sipregdyn_{t}") for t in ["udp", "tcp", "tls"]]
if any(dyn):
    lines += ["", "sipreg with glibc linked dynamically (`RUSTFLAGS=\"\" cargo build --release`): "
              + ", ".join(f"{t.upper()} {v:.1f} MiB" for t, v in zip(["udp", "tcp", "tls"], dyn) if v) + "."]

lines += ["", "## sipreg itself", ""]
size = open(os.path.join(work, "size")).read().strip() if os.path.exists(os.path.join(work, "size")) else None
version = load("version.json")
size_dyn_path = os.path.join(work, "size_dynamic")
if size:
    lines.append(f"- binary size: {int(size) / 1024 / 1024:.2f} MiB ({size} bytes, release, stripped, static glibc)")
    if os.path.exists(size_dyn_path):
        d = int(open(size_dyn_path).read())
        lines.append(f"- binary size, dynamic glibc: {d / 1024 / 1024:.2f} MiB ({d} bytes)")
else:
    missing.append("binary size")
if version:
    lines.append(f"- `sipreg --version` start-up: {median_ms(version['results'][0]):.2f} ms median")
else:
    missing.append("start-up time")

lines += ["", "## Time to verdict (sipreg's own clock, median)", ""]
def with_attempts(docs, n):
    return [d for d in docs if isinstance(d, dict) and len(d.get("attempts", [])) >= n]


refused = with_attempts(jsonl("refused.jsonl"), 2)
if refused:
    tcp_verdict = statistics.median(r["attempts"][0]["elapsed_ms"] for r in refused)
    udp_start = statistics.median(r["attempts"][1]["started_ms"] for r in refused)
    lines.append(f"- TCP refused: verdict after {tcp_verdict:.3f} ms; first UDP attempt starts at {udp_start:.3f} ms")
    checks.append(("refused-TCP verdict within 5 ms", tcp_verdict <= 5, f"{tcp_verdict:.3f} ms"))
else:
    missing.append("refused TCP timing")
unreach = with_attempts(jsonl("unreachable.jsonl"), 1)
wall = load("unreachable_wall.json")
if unreach:
    v = statistics.median(r["attempts"][0]["elapsed_ms"] for r in unreach)
    w = median_ms(wall["results"][0]) if wall else float("nan")
    lines.append(f"- UDP port unreachable: verdict after {v:.3f} ms (whole process {w:.2f} ms)")
    checks.append(("port-unreachable verdict within 5 ms", v <= 5, f"{v:.3f} ms"))
else:
    missing.append("port unreachable timing")
sipx_unreach = os.path.join(work, "sipx_unreachable_ms")
if os.path.exists(sipx_unreach):
    lines.append(f"- sipx against the same closed UDP port: {float(open(sipx_unreach).read()):.0f} ms")
black = with_attempts(jsonl("blackhole.jsonl"), 2)
if black:
    errs = [r["attempts"][1]["started_ms"] - 2000 for r in black if len(r["attempts"]) > 1]
    if errs:
        e = statistics.median(errs)
        lines.append(f"- black-holed TCP, `--connect-timeout 2s`: UDP attempt starts at 2000 ms + {e:.3f} ms (median of {len(errs)}, max +{max(errs):.3f} ms)")
        checks.append(("fallback within 20 ms of the connect timeout", e <= 20, f"+{e:.3f} ms"))
    else:
        missing.append("black-hole fallback")
else:
    missing.append("black-hole timing")

lines += ["", "## Targets", "", "| target | met | measured |", "|---|---|---|"]
for name, ok, measured in checks:
    lines.append(f"| {name} | {'yes' if ok else 'NO'} | {measured} |")
print("\n".join(lines))
if missing:
    print("\nmissing measurements: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)

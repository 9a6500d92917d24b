#!/usr/bin/env python3
"""bench/storm_peak.py WORK N PAIRS: the pairs of bench/storm.sh's peak case (BENCH_STORM_CASE=peak), sipreg
storm and SIPp with their default flags at one offered rate over one shared UDP socket, pair by pair."""
import csv
import json
import re
import statistics
import sys

WORK, N, PAIRS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def time_of(name):
    try:
        wall, user, system, rss = open(f"{WORK}/{name}.time").read().split()[-4:]
        return float(wall), float(user) + float(system), int(rss)
    except (OSError, ValueError):
        return None, None, None


def registrar(name, messages):
    """Kamailio's CPU seconds during the run, and per 1,000 requests it received."""
    try:
        before, after = map(float, open(f"{WORK}/{name}.registrar").read().split())
    except (OSError, ValueError):
        return None, None
    return after - before, (after - before) / messages * 1000 if messages else None


def sipreg(k):
    try:
        j = json.load(open(f"{WORK}/peak{k}_sipreg.json"))
    except (OSError, ValueError):
        return None
    reg, lat = j["registered"], j["latency_ms"]
    # Requests the registrar got: the registrations' (with retransmissions) and the removals.
    kcpu, kper = registrar(f"peak{k}_sipreg", j["requests"] + j["retransmissions"] + j["unregistered"])
    return {
        "kcpu": kcpu,
        "kper": kper,
        "registered": reg,
        "rate": j["registrations_per_s"],
        "cpu": j["cpu_registration_s"] / reg * 1000 if reg else None,
        "requests": j["requests"],
        "retrans": j["retransmissions"],
        "lat": (lat["p50"], lat["p99"], lat["max"]),
        "warnings": j.get("warnings", []),
    }


def percentile(buckets, q):
    """The upper bound (ms) of the bucket that holds the q-th quantile; `buckets` is [(bound, count)]."""
    total = sum(c for _, c in buckets)
    seen = 0
    for bound, count in buckets:
        seen += count
        if total and seen >= q * total:
            return bound
    return None


def sipp(k):
    _, cpu, _ = time_of(f"peak{k}_sipp")
    try:
        out = open(f"{WORK}/peak{k}_sipp.out", errors="replace").read()
        rows = list(csv.reader(open(f"{WORK}/peak{k}_sipp.csv"), delimiter=";"))
    except OSError:
        return None
    head, last = rows[0], rows[-1]
    col = {name: i for i, name in enumerate(head)}

    def cum(name):
        return int(last[col[name]]) if name in col and last[col[name]].isdigit() else 0

    ok = cum("SuccessfulCall(C)")
    # SIPp's own window, as sipreg's: from the start of its traffic to the dump at its end (the last 200).
    first = next((r for r in rows[1:] if r[col["SuccessfulCall(C)"]] == str(ok)), last)
    window = float(first[col["CurrentTime"]].split("\t")[-1]) - float(first[col["StartTime"]].split("\t")[-1])
    retrans = cum("Retransmissions(C)")
    buckets = []
    for name, i in col.items():
        m = re.match(r"ResponseTimeRepartition1_(<|>=)(\d+)$", name)
        if m:
            bound = int(m.group(2)) if m.group(1) == "<" else float("inf")
            buckets.append((bound, int(last[i] or 0)))
    buckets.sort()
    kcpu, kper = registrar(f"peak{k}_sipp", 2 * ok + retrans)
    return {
        "kcpu": kcpu,
        "kper": kper,
        "registered": ok,
        "rate": ok / window if window > 0 else None,
        "cpu": cpu / ok * 1000 if ok and cpu is not None else None,
        "requests": 2 * ok,
        "retrans": retrans,
        "lat": (percentile(buckets, 0.5), percentile(buckets, 0.99), None),
        "warnings": [],
        "out": out,
    }


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


print(f"### Storm at SIPp's best rate: {N} digest accounts, one shared UDP socket, default flags, {PAIRS} pairs\n")
print("| pair | tool | registered | registrations/s | CPU s per 1,000 | retransmissions | latency p50 / p99 / max ms "
      "| registrar CPU s (per 1,000 requests) |")
print("|---|---|---|---|---|---|---|---|")
ratios = []
notes = []
for k in range(1, PAIRS + 1):
    a, b = sipreg(k), sipp(k)
    for tool, r in (("sipreg", a), ("SIPp", b)):
        if r is None:
            print(f"| {k} | {tool} | – | – | – | – | – | – |")
            continue
        lat = " / ".join(fmt(x, ".1f") if isinstance(x, float) else fmt(x, "") for x in r["lat"])
        print(f"| {k} | {tool} | {r['registered']} | {fmt(r['rate'], '.0f')} | {fmt(r['cpu'], '.4f')} "
              f"| {r['retrans']} | {lat} | {fmt(r['kcpu'], '.2f')} ({fmt(r['kper'], '.4f')}) |")
        notes += [f"- pair {k}, {tool}: {w}" for w in r["warnings"]]
    if a and b and a["rate"] and b["rate"] and a["cpu"] and b["cpu"]:
        ratios.append((a["rate"] / b["rate"], a["cpu"] / b["cpu"]))
if ratios:
    med = statistics.median
    print(f"\nsipreg / SIPp, median of {len(ratios)} pairs: registrations/s {med(r for r, _ in ratios):.3f}, "
          f"CPU per 1,000 {med(c for _, c in ratios):.3f}")
if notes:
    print("\nWhat sipreg said about its limits:\n")
    print("\n".join(notes))

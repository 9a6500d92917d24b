#!/usr/bin/env python3
"""bench/storm_report.py WORK N LIMIT [PAIRS]: the table of bench/storm.sh, sipreg storm next to SIPp per
mode; with PAIRS, the pair-by-pair comparison of that many interleaved pairs per close mode."""
import json
import os
import re
import statistics
import sys

WORK, N, LIMIT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PAIRS = int(sys.argv[4]) if len(sys.argv) > 4 else 0
# BENCH_STORM_RATE: both tools were paced at that many registrations started per second, sipreg in groups of
# BENCH_STORM_BURST (bench/storm.sh sets it).
RATE = os.environ.get("BENCH_STORM_RATE", "")
BURST = os.environ.get("BENCH_STORM_BURST", "")
PACE = f", {RATE} started per second, sipreg --burst {BURST}" if RATE else ""
MODES = [
    ("shared", "udp", "one UDP socket", "u1"),
    ("shared", "tcp", "one TCP connection", "t1"),
    ("per-account", "udp", "a UDP socket per account", "un"),
    ("per-account", "tcp", "a TCP connection per account", "tn"),
]


def time_of(name):
    try:
        wall, user, system, rss = open(f"{WORK}/{name}.time").read().split()[-4:]
        return float(wall), float(user) + float(system), int(rss)
    except (OSError, ValueError):
        return None, None, None


def sipreg(name):
    wall, cpu, rss = time_of(name)
    try:
        j = json.load(open(f"{WORK}/{name}.json"))
    except (OSError, ValueError):
        return None
    reg = j["registered"]
    per_1000 = j["cpu_registration_s"] / reg * 1000 if reg else None
    return {
        "registered": reg,
        "failed": j["failed"],
        "rate": j["registrations_per_s"],
        "cpu": per_1000,
        "rss": rss,
        "retrans": j["retransmissions"],
        "p99": j["latency_ms"]["p99"],
        "warnings": j.get("warnings", []),
    }


def sipp(name):
    wall, cpu, rss = time_of(name)
    try:
        out = open(f"{WORK}/{name}.out", errors="replace").read()
    except OSError:
        return None

    def last(label):
        found = re.findall(label + r"\s*\|\s*(\d+)\s*\|\s*(\d+)", out)
        return int(found[-1][1]) if found else 0

    ok = last("Successful call")
    failed = last("Failed call")
    retrans = sum(int(n) for n in re.findall(r"Retransmissions?\D*?(\d+)", out)[-1:]) if "Retrans" in out else 0
    return {
        "registered": ok,
        "failed": failed,
        "rate": ok / wall if wall else None,
        "cpu": cpu / ok * 1000 if ok and cpu is not None else None,
        "rss": rss,
        "retrans": retrans,
        "p99": None,
        "warnings": [],
    }


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def pairs():
    """Per close mode: the medians of sipreg/SIPp for the rate and the CPU per 1,000, pair by pair."""
    print(f"### Storms: sipreg against SIPp, {PAIRS} interleaved pairs per mode ({N} accounts, {LIMIT} under way{PACE})\n")
    print("| mode | sipreg / SIPp rate, median | sipreg faster in | sipreg / SIPp CPU per 1,000, median "
          "| sipreg less CPU in | medians sipreg, SIPp |")
    print("|---|---|---|---|---|---|")
    for socket, transport, words, _ in MODES[:3]:
        got = [(sipreg(f"pair{k}_sipreg_{socket}_{transport}"), sipp(f"pair{k}_sipp_{socket}_{transport}"))
               for k in range(1, PAIRS + 1)]
        got = [(a, b) for a, b in got if a and b and a["rate"] and b["rate"] and a["cpu"] and b["cpu"]]
        if not got:
            print(f"| {words} | – | – | – | – | – |")
            continue
        rate = [a["rate"] / b["rate"] for a, b in got]
        cpu = [a["cpu"] / b["cpu"] for a, b in got]
        med = statistics.median
        print(
            f"| {words} | {med(rate):.3f} | {sum(r > 1 for r in rate)} of {len(got)} | {med(cpu):.3f} "
            f"| {sum(c < 1 for c in cpu)} of {len(got)} | {med(a['rate'] for a, _ in got):.0f}/s at "
            f"{med(a['cpu'] for a, _ in got):.4f}, {med(b['rate'] for _, b in got):.0f}/s at "
            f"{med(b['cpu'] for _, b in got):.4f} |"
        )


if PAIRS:
    pairs()
    sys.exit(0)

print(f"### Storms: sipreg against SIPp ({N} accounts, at most {LIMIT} under way{PACE})\n")
print("| mode | tool | registered | failed | registrations/s | CPU s per 1,000 | peak RSS | p99 ms |")
print("|---|---|---|---|---|---|---|---|")
notes = []
for socket, transport, words, sippmode in MODES:
    for tool, res in (
        ("sipreg --threads 1", sipreg(f"sipreg1_{socket}_{transport}")),
        ("sipreg", sipreg(f"sipreg_{socket}_{transport}")),
        (f"SIPp -t {sippmode}", sipp(f"sipp_{socket}_{transport}")),
    ):
        if res is None:
            print(f"| {words} | {tool} | – | – | – | – | – | – |")
            continue
        rss = f"{res['rss'] / 1024:.1f} MiB" if res["rss"] else "–"
        print(
            f"| {words} | {tool} | {res['registered']} | {res['failed']} | {fmt(res['rate'], '.0f')} "
            f"| {fmt(res['cpu'], '.3f')} | {rss} | {fmt(res['p99'], '.1f')} |"
        )
        for w in res["warnings"]:
            notes.append(f"- {words}, {tool}: {w}")
if notes:
    print("\nWhat sipreg said about its limits:\n")
    print("\n".join(notes))

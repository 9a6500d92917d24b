#!/usr/bin/env python3
"""Figures of one `sipreg watch` held against Kamailio: CPU, peak RSS, refresh lateness, keep-alives.

Usage: watch_report.py EVENTS.jsonl TIME_FILE  (TIME_FILE holds `/usr/bin/time -f "%e %U %S %M"`).
Missed targets are reported, never asserted; a missing summary line is an error (the smoke run catches it)."""
import json
import statistics
import sys

events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
elapsed, user, system, rss_kib = open(sys.argv[2]).read().split()[-4:]
elapsed, cpu = float(elapsed), float(user) + float(system)
summary = next(e["summary"] for e in events if "summary" in e)
late, previous = [], None
for e in events:
    if e.get("event") in ("registered", "refreshed"):
        if e["event"] == "refreshed" and previous is not None:
            planned = previous["t_ms"] + 0.9 * previous["expires"] * 1000
            late.append(e["t_ms"] - planned)
        previous = e
cpu_pct = cpu / elapsed * 100 if elapsed else 0.0
rss_mib = int(rss_kib) / 1024
worst = max((abs(x) for x in late), default=None)
rtt = summary["keepalive_rtt_ms"]
print("## Holding one registration (`sipreg watch`)\n")
print(f"- watched {elapsed:.0f} s over TCP with `--expires 60` (a refresh every 54 s) and keep-alives every 30 s")
print(f"- CPU: {cpu:.2f} s in {elapsed:.0f} s = {cpu_pct:.3f} % of a core; peak RSS {rss_mib:.2f} MiB")
if late:
    print(f"- refreshes: {len(late)}, landing {statistics.median(late):.2f} ms (median) and at most "
          f"{worst:.2f} ms from their planned time")
print(f"- keep-alives: {summary['keepalives']} sent, {summary['keepalives_missed']} missed, RTT p50 {rtt['p50']} ms, "
      f"max {rtt['max']} ms; drops {summary['drops']}; exit {summary['exit_code']}\n")
print("| target | met | measured |\n|---|---|---|")
print(f"| CPU under 0.1 % of a core | {'yes' if cpu_pct < 0.1 else 'NO'} | {cpu_pct:.3f} % |")
print(f"| RSS under 5 MiB | {'yes' if rss_mib < 5 else 'NO'} | {rss_mib:.2f} MiB |")
if worst is not None:
    print(f"| refreshes within 50 ms of plan | {'yes' if worst <= 50 else 'NO'} | {worst:.2f} ms |")

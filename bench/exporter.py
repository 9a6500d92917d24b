#!/usr/bin/env python3
"""bench/exporter.py BIN REGISTRAR PLAIN_JSON QUICK: `sipreg exporter` against the benchmark's Kamailio.

Starts the exporter with 100 modules (each with a password from the environment and one target), then
measures: idle RSS with 100 modules; sequential probes over one keep-alive connection (wall time per
probe, next to the plain one-shot registration that hyperfine timed into PLAIN_JSON); probes per second
with 16 clients at once; CPU per probe and RSS after the load. Prints Markdown.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN, REGISTRAR, PLAIN_JSON, QUICK = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
MODULES = 100
SEQUENTIAL = 20 if QUICK else 300
LOAD_SECONDS = 1.0 if QUICK else 10.0
CLIENTS = 16


def config():
    lines = []
    for i in range(MODULES):
        lines += [
            f"[modules.m{i}]",
            "udp = true",
            'user = "alice"',
            'password_env = "BENCH_PASSWORD"',
            f'targets = ["{REGISTRAR}"]',
            "",
        ]
    return "\n".join(lines)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(conn, module="m0"):
    conn.request("GET", f"/probe?module={module}&target={REGISTRAR}")
    r = conn.getresponse()
    body = r.read().decode()
    ok = r.status == 200 and "\nprobe_success 1\n" in body
    took = next(
        (float(l.split()[1]) for l in body.splitlines() if l.startswith("probe_duration_seconds ")),
        None,
    )
    return ok, took


def start(cfg_path):
    env = dict(os.environ, BENCH_PASSWORD="secret")
    p = subprocess.Popen(
        [BIN, "exporter", "--listen", "127.0.0.1:0", "--config", cfg_path, "--max-concurrent", str(CLIENTS)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )
    line = p.stderr.readline()
    addr = line.split("http://")[1].split("/")[0]
    host, port = addr.rsplit(":", 1)
    return p, host, int(port)


def load(host, port, seconds):
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(i):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while time.monotonic() < stop_at:
            ok, _ = probe(conn, f"m{i % MODULES}")
            with lock:
                counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts, time.monotonic() - started


def main():
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "exporter.toml")
        with open(cfg, "w") as f:
            f.write(config())
        p, host, port = start(cfg)
        try:
            time.sleep(0.2)
            idle_rss = proc_status(p.pid, "VmRSS")
            conn = http.client.HTTPConnection(host, port, timeout=30)
            probe(conn)  # warm-up
            walls, durations, failures = [], [], 0
            for _ in range(SEQUENTIAL):
                t0 = time.perf_counter()
                ok, took = probe(conn)
                walls.append((time.perf_counter() - t0) * 1000)
                failures += 0 if ok else 1
                if took is not None:
                    durations.append(took * 1000)
            cpu0 = cpu_seconds(p.pid)
            counts, elapsed = load(host, port, LOAD_SECONDS)
            cpu = cpu_seconds(p.pid) - cpu0
            busy_rss = proc_status(p.pid, "VmHWM")
        finally:
            p.terminate()
            p.wait()
    with open(PLAIN_JSON) as f:
        plain = statistics.median(json.load(f)["results"][0]["times"]) * 1000
    probes = counts["ok"] + counts["failed"]
    wall = statistics.median(walls)
    print("### `sipreg exporter` (issue 14)\n")
    print(f"{MODULES} modules, UDP with digest against Kamailio on loopback; {SEQUENTIAL} sequential probes over one")
    print(f"keep-alive connection, then {CLIENTS} clients at once for {LOAD_SECONDS:g} s.\n")
    print("| figure | value |")
    print("|---|---|")
    print(f"| plain one-shot registration (`sipreg -q --udp`, whole process, median) | {plain:.2f} ms |")
    print(f"| one probe, HTTP request to answer (median) | {wall:.2f} ms |")
    inside = statistics.median(durations)
    print(f"| `probe_duration_seconds`: the registration inside the exporter (median) | {inside:.2f} ms |")
    print(f"| exporter overhead per probe (HTTP, checks, metrics page) | {wall - inside:.2f} ms |")
    print(f"| a probe against a whole `sipreg` process | {wall - plain:+.2f} ms |")
    print(f"| sequential probes that failed | {failures} of {SEQUENTIAL} |")
    print(f"| probes per second, {CLIENTS} clients | {probes / elapsed:.0f} ({counts['failed']} failed of {probes}) |")
    print(f"| exporter CPU per probe under load | {cpu / max(probes, 1) * 1000:.3f} ms |")
    print(f"| RSS with {MODULES} modules, idle | {idle_rss / 1024:.1f} MiB |")
    print(f"| peak RSS after the load | {busy_rss / 1024:.1f} MiB |")
    if failures or counts["failed"]:
        sys.exit(1)


main()

#!/usr/bin/env python3
"""bench/siege.py BIN [BIN...]: `sipreg exporter` under hostile load, one column per binary.

Starts each binary's exporter on loopback with one UDP module, against a small UDP registrar this script
runs itself (200 to every REGISTER), and measures:
  - a flood of FLOOD (10,000) connections that each sent half a request head and then nothing: how many
    could connect, the time of `/metrics` and of a `/probe` (beyond the probe's own time) while they are
    held, the exporter's RSS and open files, and how long until the exporter closed them all;
  - hostile requests, each on its own connection, with a `/metrics` timed beside it: a 1 MiB head, 10,000
    headers, an endless body, pipelined requests, non-HTTP bytes, a client that reads its answers one byte a
    second: what the exporter answered, and whether it closed the connection;
  - the exporter's own refusal counters at the end.
Prints Markdown. SIEGE_FLOOD=N changes the flood's size.
"""
import os
import re
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

FLOOD = int(os.environ.get("SIEGE_FLOOD", "10000"))


def registrar():
    """A UDP registrar on loopback that answers every REGISTER with 200 and the Contact it got."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve():
        while True:
            data, peer = sock.recvfrom(65535)
            text = data.decode("utf-8", "replace")
            if not text.startswith("REGISTER"):
                continue
            keep = [l for l in text.split("\r\n") if re.match(r"(?i)(via|from|to|call-id|cseq|contact):", l)]
            expires = "0" if re.search(r"(?im)^expires:\s*0\s*$", text) else "60"
            answer = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + f"\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n"
            sock.sendto(answer.encode(), peer)

    threading.Thread(target=serve, daemon=True).start()
    return "127.0.0.1:%d" % sock.getsockname()[1]


def start(binary, directory):
    path = os.path.join(directory, "siege.toml")
    with open(path, "w") as f:
        f.write('[modules.udp]\nudp = true\ntimeout = "2s"\n')
    proc = subprocess.Popen([binary, "exporter", "--listen", "127.0.0.1:0", "--config", path],
                            stderr=subprocess.PIPE, text=True)
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"{binary}: the exporter ended at start")
        m = re.search(r"http://([0-9.]+):(\d+)/", line)
        if m:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, (m.group(1), int(m.group(2)))


def get(addr, path, timeout=30.0):
    """GET path: (status or None, body, seconds)."""
    t = time.monotonic()
    try:
        s = socket.create_connection(addr, timeout=timeout)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
        s.close()
    except OSError:
        return None, "", time.monotonic() - t
    head, _, body = raw.decode("utf-8", "replace").partition("\r\n\r\n")
    parts = head.split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, body, time.monotonic() - t


def sample(page, series):
    for line in page.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def proc_figures(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def timed_metrics(addr):
    status, _, took = get(addr, "/metrics", timeout=15)
    return f"{took * 1000:.0f} ms" if status == 200 else f"no answer after {took:.1f} s"


def flood(addr, pid, target, row):
    socks, worst, began = [], 0.0, time.monotonic()
    for i in range(FLOOD):
        try:
            s = socket.create_connection(addr, timeout=0.2)
            s.sendall(b"GET /probe?target=127.0.0.1&mod")
            socks.append(s)
        except OSError:
            pass
        if i % 500 == 499:
            status, _, took = get(addr, "/metrics", timeout=15)
            worst = max(worst, took if status == 200 else 15.0)
    row["flood: connections made"] = f"{len(socks):,} of {FLOOD:,} in {time.monotonic() - began:.1f} s"
    row["flood: slowest /metrics while it is made"] = f"{worst * 1000:,.0f} ms"
    row["flood: /metrics"] = timed_metrics(addr)
    status, body, took = get(addr, f"/probe?target={target}&module=udp", timeout=30)
    own = sample(body, "probe_duration_seconds") if status == 200 else None
    row["flood: /probe beyond its own time"] = (
        f"{(took - own) * 1000:.0f} ms" if own is not None else f"no answer after {took:.1f} s")
    rss, fds = proc_figures(pid)
    row["flood: exporter RSS"] = f"{rss / 1024:.1f} MiB"
    row["flood: exporter open files"] = f"{fds:,}"
    start, left = time.monotonic(), {s.fileno(): s for s in socks}
    poll = select.poll()
    for fd in left:
        poll.register(fd, select.POLLIN)
    while left and time.monotonic() - start < 60:
        for fd, _ in poll.poll(500):
            try:
                ended = not left[fd].recv(4096)
            except OSError:
                ended = True
            if ended:
                poll.unregister(fd)
                del left[fd]
    row["flood: all closed by the exporter after"] = (
        f"{time.monotonic() - start:.1f} s" if not left else f"{len(left):,} still open after 60 s")
    for s in socks:
        s.close()


def hostile(addr, payload, read_slowly=False):
    """Sends payload; returns what came back (status lines) and whether the exporter closed."""
    s = socket.create_connection(addr, timeout=5)
    side = {}

    def beside():
        time.sleep(0.3)
        side["metrics"] = timed_metrics(addr)

    t = threading.Thread(target=beside)
    t.start()
    try:
        s.sendall(payload)
    except OSError:
        pass
    raw, closed, started = b"", False, time.monotonic()
    s.settimeout(1.0 if read_slowly else 12.0)
    while time.monotonic() - started < (20 if read_slowly else 12):
        try:
            chunk = s.recv(1 if read_slowly else 65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        raw += chunk
        if read_slowly:
            time.sleep(1.0)
    t.join()
    if not closed:
        # Did the exporter end it meanwhile? Take what is left quickly.
        s.settimeout(5.0)
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    closed = True
                    break
                raw += chunk
        except socket.timeout:
            pass
        except OSError:
            closed = True
    s.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", raw)
    answer = ",".join(sorted(set(x.decode() for x in statuses))) or "nothing"
    count = f" x{len(statuses)}" if len(statuses) > 1 else ""
    end = f"closed after {time.monotonic() - started:.1f} s" if closed else "left open"
    return f"{answer}{count}, {end}; /metrics beside: {side.get('metrics')}"


CASES = [
    ("1 MiB head", b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20), False),
    ("10,000 headers", b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 10000 + b"\r\n", False),
    ("endless body", b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n" + b"a" * 65536, False),
    ("3 pipelined requests", b"GET /-/healthy HTTP/1.1\r\n\r\n" * 2 + b"GET /-/healthy HTTP/1.1\r\nConnection: close\r\n\r\n", False),
    ("non-HTTP bytes", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500) + b"\r\n\r\n", False),
    ("reads 1 byte/s (2,000 pipelined /metrics)", b"GET /metrics HTTP/1.1\r\n\r\n" * 2000, True),
]


def column(binary, target):
    row = {}
    with tempfile.TemporaryDirectory() as d:
        proc, addr = start(binary, d)
        try:
            row["version"] = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
            row["idle: /metrics"] = timed_metrics(addr)
            flood(addr, proc.pid, target, row)
            for name, payload, slow in CASES:
                row[name] = hostile(addr, payload, slow)
            _, page, _ = get(addr, "/metrics")
            refused = [l for l in page.splitlines() if l.startswith("sipreg_exporter_http_connections_refused_total{")]
            pairs = [(re.search(r'reason="(\w+)"', l).group(1), int(float(l.split()[-1]))) for l in refused]
            row["refusals counted"] = "; ".join(f"{r} {n}" for r, n in pairs) or "(none)"
            rss, fds = proc_figures(proc.pid)
            row["at the end: RSS, open files"] = f"{rss / 1024:.1f} MiB, {fds}"
        finally:
            proc.kill()
            proc.wait()
    return row


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    target = registrar()
    columns = [column(b, target) for b in sys.argv[1:]]
    keys = list(columns[0].keys())
    print("| | " + " | ".join(c["version"] for c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for k in keys[1:]:
        print(f"| {k} | " + " | ".join(c.get(k, "") for c in columns) + " |")


if __name__ == "__main__":
    main()

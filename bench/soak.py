#!/usr/bin/env python3
"""bench/soak.py BIN MINUTES OUT: the soak itself; bench/soak.sh runs it inside a network namespace.

Kamailio (fixtures/kamailio, WITH_MANY_USERS and WITH_RELAY) on 127.0.0.1: UDP and TCP on 5060, TLS on 5061.
  - `sipreg exporter` with 20 modules (UDP, TCP and TLS in turn, users u100..u119), scraped 50 times a second
    round the modules by 24 client threads, each scrape with a 5 s scrape timeout;
  - three `sipreg watch --json` (UDP u1, TCP u2, TLS u3) with --expires 60, --keepalive 10s and
    --check-inbound=30s, for the whole run;
  - faults: Kamailio restarted every 5 minutes (its location table is in memory: every binding is gone), and
    an nftables rule dropping TCP port 5060 for 30 s every 7 minutes (the TCP watch only). With MINUTES < 10
    (the CI smoke run) the schedule is every 25 s and every 40 s for 10 s.
Every 10 s: each process's RSS, open files, threads and CPU; every minute a row on stdout. At the end: the
report (OUT/soak.md, also printed), OUT/samples.csv and the plot OUT/soak.svg.
A drop is a watch's registration_lost, binding_lost or flow_lost (those within 5 s of each other count once);
it is explained by a fault that began at most 90 s before it (restarts: every watch; the firewall: TCP). A
restart that a watch's refresh repaired before its next inbound check is counted apart: no phone sees it (the
registrar's 2xx does not say the binding was new). OUT/faults.csv lists the faults.
"""
import csv
import glob
import http.client
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN, MINUTES, OUT = sys.argv[1], float(sys.argv[2]), sys.argv[3]
SMOKE = MINUTES < 10
RESTART_EVERY = 25 if SMOKE else 300
FIREWALL_EVERY, FIREWALL_FOR = (40, 10) if SMOKE else (420, 30)
SCRAPES_PER_S, MODULES, CLIENTS = 50, 20, 24
A, B, C, D = 5060, 5061, 5062, 5070
EXPLAINED_WITHIN = 90.0
CHECK_EVERY = 30
ROOT = os.getcwd()
WORK = tempfile.mkdtemp(prefix="sipreg-soak-")
T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=WORK)


def certificates():
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=sipreg-soak-ca")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(f"{WORK}/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "30", "-extfile", "ext.cnf")


def render(template):
    modules = os.path.dirname(sorted(glob.glob("/usr/lib/*/kamailio/modules/tls.so"))[0])
    text = open(os.path.join(ROOT, "fixtures/kamailio", template)).read()
    for k, v in {"DIR": WORK, "LISTEN_IP": "127.0.0.1", "PORT_UDP_ONLY": D, "PORT_UDP": A, "PORT_TLS": B,
                 "PORT_MTLS": C, "USER": "alice", "PASSWORD": "secret", "AUTH_ALGORITHM": "MD5",
                 "MIN_EXPIRES": 10, "MODULES_DIR": modules, "SERVER_CERT": f"{WORK}/server.pem",
                 "SERVER_KEY": f"{WORK}/server.key", "CA_CERT": f"{WORK}/ca.pem", "TLS_METHOD": "TLSv1.2"}.items():
        text = text.replace(f"@{k}@", str(v))
    return text.replace("debug=2", "debug=0").replace('"max_contacts", 10', '"max_contacts", 0')


class Registrar:
    def __init__(self):
        for name in ("kamailio.cfg", "tls.cfg"):
            with open(f"{WORK}/{name}", "w") as f:
                f.write(render(name + ".in"))
        self.proc = None

    def start(self):
        """Starts Kamailio; a start that does not answer is retried (a port still held, say)."""
        for attempt in range(5):
            if self.try_start():
                return
            self.stop()
            time.sleep(1 + attempt)
        raise SystemExit("soak: Kamailio did not start (see its log in " + WORK + ")")

    def try_start(self):
        log = open(f"{WORK}/kamailio.log", "a")
        self.proc = subprocess.Popen(
            ["kamailio", "-DD", "-E", "-m", "64", "-M", "8", "-A", "WITH_MANY_USERS", "-A", "WITH_RELAY",
             "-f", f"{WORK}/kamailio.cfg", "-Y", WORK, "-P", f"{WORK}/kamailio.pid"],
            stdout=log, stderr=log, start_new_session=True)
        for _ in range(100):
            if self.answers():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def answers(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        s.sendto(f"OPTIONS sip:127.0.0.1:{A} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKs\r\n"
                 "From: <sip:s@s>;tag=1\r\nTo: <sip:s@s>\r\nCall-ID: s\r\nCSeq: 1 OPTIONS\r\n"
                 "Content-Length: 0\r\n\r\n".encode(), ("127.0.0.1", A))
        try:
            return s.recv(2000).startswith(b"SIP/2.0 200")
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Its children may outlive the main process for a moment: the ports are free once they are gone.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None

    def bindings(self):
        out = subprocess.run(["kamcmd", "-s", f"unix:{WORK}/kamailio_ctl", "ul.dump"],
                             capture_output=True, text=True).stdout
        return sum(1 for line in out.splitlines() if line.strip().startswith("Address:"))


def password(user):
    path = f"{WORK}/{user}.pw"
    with open(path, "w") as f:
        f.write(f"pw-{user}\n")
    return path


def exporter_config():
    lines = []
    for i in range(MODULES):
        kind = ("udp", "tcp", "tls")[i % 3]
        user = f"u{100 + i}"
        target = f"127.0.0.1:{B if kind == 'tls' else A}"
        lines += [f"[modules.m{i:02}]", f"{kind} = true", f'user = "{user}"',
                  f'password_file = "{password(user)}"', f'targets = ["{target}"]', 'timeout = "3s"']
        if kind == "tls":
            lines.append(f'ca_file = "{WORK}/ca.pem"')
    path = f"{WORK}/exporter.toml"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start_exporter():
    err = open(f"{WORK}/exporter.log", "w")
    proc = subprocess.Popen([BIN, "exporter", "--listen", "127.0.0.1:0", "--config", exporter_config()],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    threading.Thread(target=lambda: err.write(proc.stderr.read()), daemon=True).start()
    return proc, port


WATCHES = [("udp", "u1", A), ("tcp", "u2", A), ("tls", "u3", B)]


def start_watch(kind, user, port, seconds):
    cmd = [BIN, "watch", f"--{kind}", f"127.0.0.1:{port}", "--user", user, "--password-file", password(user),
           "--expires", "60", "--keepalive", "10s", f"--check-inbound={CHECK_EVERY}s", "--json",
           "--duration", f"{int(seconds)}s"]
    if kind == "tls":
        cmd += ["--ca-file", f"{WORK}/ca.pem"]
    out = open(f"{WORK}/watch-{kind}.ndjson", "w")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL), time.time()


class Scrapes:
    def __init__(self, port):
        self.port, self.lock, self.jobs = port, threading.Lock(), queue.Queue()
        self.results, self.skipped, self.stop = {}, 0, False
        self.latency = []

    def count(self, key):
        with self.lock:
            self.results[key] = self.results.get(key, 0) + 1

    def schedule(self, until):
        k, started = 0, time.monotonic()
        while not self.stop and now() < until:
            if self.jobs.qsize() > 200:
                with self.lock:
                    self.skipped += 1
            else:
                self.jobs.put(k % MODULES)
            k += 1
            time.sleep(max(0.0, started + k / SCRAPES_PER_S - time.monotonic()))
        self.stop = True

    def client(self):
        while not (self.stop and self.jobs.empty()):
            try:
                m = self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            target = f"127.0.0.1:{B if m % 3 == 2 else A}"
            began = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("GET", f"/probe?target={target}&module=m{m:02}",
                          headers={"X-Prometheus-Scrape-Timeout-Seconds": "5"})
                r = c.getresponse()
                body = r.read().decode()
                c.close()
            except OSError as e:
                self.count(f"http error: {type(e).__name__}")
                continue
            with self.lock:
                self.latency.append(time.monotonic() - began)
            if r.status != 200:
                self.count(f"http {r.status}")
            elif "\nprobe_success 1" in body:
                self.count("success")
            else:
                outcomes = [l.split('outcome="')[1].split('"')[0] for l in body.splitlines()
                            if l.startswith("probe_sip_attempts{") and l.endswith(" 1") and 'outcome="' in l]
                self.count("failure: " + (",".join(sorted(set(outcomes))) or "cut short"))


def figures(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return int(status["VmRSS"].split()[0]), fds, int(status["Threads"]), cpu


def faults(registrar, log, until):
    """Injects the faults; appends (kind, start, end) to log."""
    next_restart, next_firewall = RESTART_EVERY, FIREWALL_EVERY
    while now() < until - 5:
        t = now()
        if t >= next_restart:
            registrar.stop()
            registrar.start()
            log.append(("restart", t, now()))
            next_restart += RESTART_EVERY
        elif t >= next_firewall:
            subprocess.run(["nft", "-f", "-"], check=True, input=(
                "table inet soak {\n chain input {\n  type filter hook input priority 0;\n"
                f"  tcp dport {A} drop\n }}\n}}\n"), text=True)
            time.sleep(min(FIREWALL_FOR, max(0.0, until - 5 - now())))
            subprocess.run(["nft", "delete", "table", "inet", "soak"], check=True)
            log.append(("firewall", t, now()))
            next_firewall += FIREWALL_EVERY
        time.sleep(0.2)


def drops(path, started_wall):
    """The watch's drop incidents (seconds since T0), refresh lateness (ms) and its summary."""
    events, summary = [], None
    for line in open(path):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "event" in o:
            events.append(o)
        elif "summary" in o:
            summary = o["summary"]
    offset = started_wall - (time.time() - now())
    incidents, last = [], None
    late, granted, refreshes = [], None, []
    for o in events:
        t = offset + o["t_ms"] / 1000
        if o["event"] == "refreshed":
            refreshes.append(t)
        if o["event"] in ("registration_lost", "binding_lost", "flow_lost"):
            if last is None or t - last > 5:
                incidents.append(t)
            last = t
        if o["event"] == "refreshed" and granted is not None:
            late.append(o["t_ms"] - (granted[0] + 0.9 * granted[1] * 1000))
        if o["event"] in ("registered", "refreshed") and o.get("expires"):
            granted = (o["t_ms"], o["expires"])
        elif o["event"] in ("registration_lost", "binding_lost", "flow_lost"):
            granted = None
    return incidents, late, summary, refreshes


def slope(points):
    """Least-squares slope (per hour) of (seconds, value) and the residuals' standard deviation."""
    if len(points) < 3:
        return 0.0, 0.0
    xs, ys = [p[0] / 3600 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    resid = [y - (my + k * (x - mx)) for x, y in zip(xs, ys)]
    return k, statistics.pstdev(resid)


def p99(values):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(0.99 * len(v)))]


def svg(samples, names, fault_log, incidents, path):
    """Three panels over time: RSS (MiB), open files, drops; faults shaded."""
    width, height, left, top, panel, gap = 900, 620, 70, 30, 160, 40
    end = max([s[0] for s in samples] + [1.0])
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>']

    def x(t):
        return left + (width - left - 20) * t / end

    series = [("RSS, MiB", lambda s, i: s[2 + 4 * i] / 1024), ("open files", lambda s, i: s[3 + 4 * i])]
    for p, (title, value) in enumerate(series + [("drops (cumulative)", None)]):
        y0 = top + p * (panel + gap)
        out.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{title}</text>')
        for kind, t1, t2 in fault_log:
            shade = "#fde0c5" if kind == "restart" else "#d5e8f7"
            out.append(f'<rect x="{x(t1):.1f}" y="{y0}" width="{max(2.0, x(t2) - x(t1)):.1f}" height="{panel}" '
                       f'fill="{shade}"/>')
        out.append(f'<rect x="{left}" y="{y0}" width="{width - left - 20}" height="{panel}" fill="none" stroke="#888"/>')
        if value is None:
            lines = [[(t, k + 1) for k, t in enumerate(incidents[n])] for n in names[1:]]
            lines = [[(0.0, 0)] + l + [(end, len(l))] for l in lines]
            lines = [None] + lines
        else:
            lines = [[(s[0], value(s, i)) for s in samples if s[2 + 4 * i] is not None] for i in range(len(names))]
        top_value = max([v for l in lines if l for _, v in l] + [1.0]) * 1.1
        for i, l in enumerate(lines):
            if not l:
                continue
            pts = " ".join(f"{x(t):.1f},{y0 + panel - panel * v / top_value:.1f}" for t, v in l)
            step = ' stroke-linejoin="miter"' if value is None else ""
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colors[i]}" stroke-width="1.5"{step}/>')
        for frac in (0, 0.5, 1):
            out.append(f'<text x="{left - 6}" y="{y0 + panel - panel * frac + 4:.1f}" text-anchor="end">'
                       f'{top_value * frac:.4g}</text>')
    for i, n in enumerate(names):
        out.append(f'<text x="{left + 10 + 130 * i}" y="{height - 12}" fill="{colors[i]}">&#9632; {n}</text>')
    out.append(f'<text x="{width - 20}" y="{height - 12}" text-anchor="end">minutes 0..{end / 60:.0f}; shaded: '
               'restarts (orange), TCP dropped (blue)</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(out))


def main():
    seconds = MINUTES * 60
    certificates()
    registrar = Registrar()
    registrar.start()
    exporter, port = start_exporter()
    watches = {k: start_watch(k, u, p, seconds) for k, u, p in WATCHES}
    procs = {"exporter": exporter.pid, **{f"watch {k}": w[0].pid for k, w in watches.items()}}
    names = list(procs)
    scrapes = Scrapes(port)
    threads = [threading.Thread(target=scrapes.schedule, args=(seconds,), daemon=True)]
    threads += [threading.Thread(target=scrapes.client, daemon=True) for _ in range(CLIENTS)]
    fault_log = []
    threads.append(threading.Thread(target=faults, args=(registrar, fault_log, seconds), daemon=True))
    for t in threads:
        t.start()
    samples, next_row = [], 60.0
    header = "| minute | " + " | ".join(f"{n}: RSS KiB, files, threads, CPU s" for n in names) + " | scrapes ok / failed |"
    print(header, flush=True)
    print("|---" * (len(names) + 2) + "|", flush=True)
    while now() < seconds:
        time.sleep(min(10.0, max(0.1, seconds - now())))
        row = [now(), time.time()]
        for n in names:
            f = figures(procs[n])
            row += list(f) if f else [None] * 4
        samples.append(row)
        if now() >= next_row or now() >= seconds:
            next_row += 60
            with scrapes.lock:
                ok = scrapes.results.get("success", 0)
                bad = sum(v for k, v in scrapes.results.items() if k != "success")
            cells = [f"{row[2 + 4 * i]}, {row[3 + 4 * i]}, {row[4 + 4 * i]}, {row[5 + 4 * i]:.1f}"
                     if row[2 + 4 * i] is not None else "ended" for i in range(len(names))]
            print(f"| {now() / 60:.0f} | " + " | ".join(cells) + f" | {ok} / {bad} |", flush=True)
    scrapes.stop = True
    for k, w in watches.items():
        try:
            w[0].wait(timeout=60)
        except subprocess.TimeoutExpired:
            w[0].send_signal(signal.SIGTERM)
            w[0].wait(timeout=30)
    time.sleep(3)
    final = {n: figures(procs[n]) for n in names}
    left = registrar.bindings()
    exporter.send_signal(signal.SIGTERM)
    exporter.wait(timeout=30)
    registrar.stop()
    report(samples, names, fault_log, watches, scrapes, left, final, seconds)


def report(samples, names, fault_log, watches, scrapes, left, final, seconds):
    lines = [f"Soak: {MINUTES:g} minutes, {len(fault_log)} faults "
             f"({sum(1 for f in fault_log if f[0] == 'restart')} restarts, "
             f"{sum(1 for f in fault_log if f[0] == 'firewall')} TCP drops of {FIREWALL_FOR} s)", ""]
    lines += ["| process | RSS KiB first / last / max | RSS slope KiB/h (residual sd) | open files first / last / max "
              "| files slope /h | threads max | CPU s per hour |", "|---|---|---|---|---|---|---|"]
    warm = 300 if not SMOKE else 10
    for i, n in enumerate(names):
        pts = [(s[0], s[2 + 4 * i], s[3 + 4 * i], s[4 + 4 * i], s[5 + 4 * i]) for s in samples if s[2 + 4 * i]]
        if not pts:
            continue
        rss_k, rss_sd = slope([(p[0], p[1]) for p in pts if p[0] >= warm])
        fd_k, _ = slope([(p[0], p[2]) for p in pts if p[0] >= warm])
        cpu_h = (pts[-1][4] - pts[0][4]) / max(1e-9, (pts[-1][0] - pts[0][0]) / 3600)
        lines.append(f"| {n} | {pts[0][1]:,} / {pts[-1][1]:,} / {max(p[1] for p in pts):,} | {rss_k:+,.0f} ({rss_sd:,.0f}) "
                     f"| {pts[0][2]} / {pts[-1][2]} / {max(p[2] for p in pts)} | {fd_k:+.1f} | {max(p[3] for p in pts)} "
                     f"| {cpu_h:,.1f} |")
    total = sum(scrapes.results.values())
    lat = p99(scrapes.latency)
    lines += ["", f"Scrapes: {total:,} answered or failed ({total / seconds:.1f}/s), {scrapes.skipped} not sent "
              f"(200 waiting), p99 {lat * 1000:.0f} ms" if lat else "", ""]
    lines += ["| scrape result | count |", "|---|---|"]
    lines += [f"| {k} | {v:,} |" for k, v in sorted(scrapes.results.items(), key=lambda kv: -kv[1])]
    lines += ["", "| watch | drops | explained by a fault | without a fault | faults that touched it | faults it saw "
              "| repaired by a refresh before a check could see them | refresh lateness p99, ms | registered % "
              "| unregistered | exit |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    incidents = {}
    for kind, (proc, started_wall) in watches.items():
        got, late, summary, refreshes = drops(f"{WORK}/watch-{kind}.ndjson", started_wall)
        incidents[f"watch {kind}"] = got
        touching = [f for f in fault_log if f[0] == "restart" or kind == "tcp"]
        explained = [t for t in got if any(f[1] - 1 <= t <= f[2] + EXPLAINED_WITHIN for f in touching)]
        seen = [f for f in touching if any(f[1] - 1 <= t <= f[2] + EXPLAINED_WITHIN for t in got)]
        # A restart the next refresh repaired before the next inbound check (30 s) is one a phone
        # cannot see either: the registrar's 2xx does not say the binding was new.
        repaired = [f for f in touching if f not in seen and f[0] == "restart"
                    and any(f[1] <= r <= f[2] + CHECK_EVERY + 1 for r in refreshes)]
        s = summary or {}
        lp99 = p99(late)
        lines.append(f"| {kind} | {len(got)} | {len(explained)} | {len(got) - len(explained)} | {len(touching)} "
                     f"| {len(seen)} | {len(repaired)} | {'%.0f' % lp99 if lp99 is not None else '-'} "
                     f"| {s.get('registered_pct', '-')} | {s.get('unregistered', '-')} | {proc.returncode} |")
    lines += ["", f"Bindings left at the registrar at the end: {left}"]
    ex = final.get("exporter")
    lines += ["The exporter after the watches ended, before its SIGTERM: " +
              (f"RSS {ex[0]:,} KiB, {ex[1]} open files, {ex[2]} threads" if ex else "ended")]
    text = "\n".join(lines)
    print("\n" + text)
    with open(os.path.join(OUT, "soak.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(OUT, "faults.csv"), "w", newline="") as f:
        csv.writer(f).writerows([("fault", "start_s", "end_s")] + fault_log)
    with open(os.path.join(OUT, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seconds", "unix"] + [f"{n} {x}" for n in names for x in ("rss_kib", "fds", "threads", "cpu_s")])
        w.writerows(samples)
    svg(samples, names, fault_log, incidents, os.path.join(OUT, "soak.svg"))


if __name__ == "__main__":
    main()

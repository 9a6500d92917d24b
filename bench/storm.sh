#!/usr/bin/env bash
# bench/storm.sh BIN QUICK: `sipreg storm` against SIPp (Debian's sip-tester), mode by mode, on the same
# Kamailio (fixtures/kamailio, -A WITH_MANY_USERS: user uN has the password pw-uN) with the same accounts.
#
#   shared UDP socket      sipreg --socket shared --udp        vs  sipp -t u1 -buff_size 1048576
#   shared TCP connection  sipreg --socket shared --tcp        vs  sipp -t t1
#   socket per account     sipreg --udp (default per-account)  vs  sipp -t un
#   connection per account sipreg --tcp                        vs  sipp -t tn
#
# Each run gets a freshly started Kamailio (an empty location table). Both tools run with at most
# BENCH_STORM_LIMIT (200) registrations under way: with 2000, Kamailio's UDP receive buffer overflows and both
# tools wait for retransmissions. sipreg runs twice per mode: on one thread (`--threads 1`, as SIPp) and with its
# default multi-threaded runtime. Figures: registrations per second (sipreg: its
# registration window from the JSON; SIPp: accounts / wall time), CPU seconds per 1,000 registrations
# (sipreg: until its last registration, from the JSON; SIPp: user + system of the whole process), peak
# RSS, failures. BENCH_STORM_ACCOUNTS (10000; 200 in the quick smoke run), BENCH_STORM_BUFFER (Kamailio's
# UDP receive buffer, 4 MiB; empty for its 256 KiB default). SIPp's REGISTERs carry sipreg's headers
# (bench/sipp/register.xml), so the registrar does the same work for both. Prints a Markdown table; with
# BENCH_STORM_PAIRS=K, the pair-by-pair comparison of K interleaved pairs per close mode instead. With
# BENCH_STORM_RATE=R, both tools start R registrations per second (sipreg --rate R, SIPp -r R) instead of as
# many as they can: the CPU per 1,000 at a pace the registrar keeps up with. SIPp starts its calls in groups,
# about every 4 ms (at -r 2000 groups of 8 or 16, at -r 5000 of 20 or 40: its send times in a
# `perf record -e raw_syscalls:sys_enter` trace); sipreg gets the same groups, --burst R/250
# (BENCH_STORM_BURST=1: one by one, its default).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$1
QUICK=${2:-0}
N=${BENCH_STORM_ACCOUNTS:-10000}
[ "$QUICK" = 1 ] && N=200
LIMIT=${BENCH_STORM_LIMIT:-200}
BUFFER=${BENCH_STORM_BUFFER-4194304}
RATE=${BENCH_STORM_RATE:-}
BURST=""
if [ -n "$RATE" ]; then
  BURST=${BENCH_STORM_BURST:-$(( RATE / 250 > 1 ? RATE / 250 : 1 ))}
fi
WORK=$(mktemp -d)
KPID=""
stop_kamailio() {
  if [ -n "$KPID" ]; then
    kill -TERM "$KPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$KPID" 2>/dev/null || true
    KPID=""
  fi
}
trap 'stop_kamailio; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"' EXIT

if ! command -v sipp >/dev/null; then
  echo "bench: installing sip-tester (SIPp)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends sip-tester >/dev/null
fi

python3 - "$N" "$WORK" <<'PY'
import sys, uuid
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/accounts.csv", "w") as f:
    f.write("user,password\n")
    for i in range(n):
        f.write(f"u{i},pw-u{i}\n")
with open(f"{work}/sipp.csv", "w") as f:
    f.write("SEQUENTIAL\n")
    for i in range(n):
        f.write(f"u{i};[authentication username=u{i} password=pw-u{i}];{uuid.uuid4()}\n")
PY

MODULES=$(dirname "$(compgen -G "/usr/lib/*/kamailio/modules/tls.so" | head -1)")
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/server.key" \
  -out "$WORK/server.pem" -days 30 -subj /CN=127.0.0.1 2>/dev/null

# configure: fresh free ports and a Kamailio config for them. Called before every start: a storm's
# thousands of connections leave local ports in TIME_WAIT, and one of them may be a port picked before.
configure() {
  read -r PORT PORT2 PORT3 PORT4 < <(python3 -c '
import socket
ps = []
while len(ps) < 4:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p)); ps.append(p)
    except OSError:
        pass
    t.close(); u.close()
print(*ps)')
  sed -e "s#@DIR@#$WORK#g" -e "s#@LISTEN_IP@#127.0.0.1#g" -e "s#@PORT_UDP_ONLY@#$PORT4#g" -e "s#@PORT_UDP@#$PORT#g" \
      -e "s#@PORT_TLS@#$PORT2#g" -e "s#@PORT_MTLS@#$PORT3#g" -e "s#@USER@#alice#g" -e "s#@PASSWORD@#secret#g" \
      -e "s#@AUTH_ALGORITHM@#MD5#g" -e "s#@MIN_EXPIRES@#10#g" -e "s#@MODULES_DIR@#$MODULES#g" \
      -e "s#@SERVER_CERT@#$WORK/server.pem#g" -e "s#@SERVER_KEY@#$WORK/server.key#g" -e "s#@CA_CERT@#$WORK/server.pem#g" \
      -e "s#@TLS_METHOD@#TLSv1.2#g" fixtures/kamailio/kamailio.cfg.in > "$WORK/kamailio.cfg"
  sed -e "s#@DIR@#$WORK#g" -e "s#@SERVER_CERT@#$WORK/server.pem#g" -e "s#@SERVER_KEY@#$WORK/server.key#g" \
      -e "s#@CA_CERT@#$WORK/server.pem#g" -e "s#@TLS_METHOD@#TLSv1.2#g" -e "s#@LISTEN_IP@#127.0.0.1#g" \
      -e "s#@PORT_TLS@#$PORT2#g" -e "s#@PORT_MTLS@#$PORT3#g" fixtures/kamailio/tls.cfg.in > "$WORK/tls.cfg"
  # No TLS listeners: storms here are UDP and TCP, and after a few storms a TLS port failed to bind.
  sed -i -e "s/^debug=2/debug=0/" -e "s/\"max_contacts\", 10/\"max_contacts\", 0/" \
    -e "/^listen=tls:/d" -e "s/^enable_tls=yes/enable_tls=no/" "$WORK/kamailio.cfg"
  # Kamailio probes its UDP receive buffer up to `maxbuffer` (256 KiB by default): about 150 small
  # datagrams, fewer than 200 registrations under way. BENCH_STORM_BUFFER (bytes, 4 MiB; empty: Kamailio's
  # default) lets it take more, so that the tools are compared rather than that buffer.
  if [ -n "$BUFFER" ]; then
    sed -i "/^children=/a maxbuffer=$BUFFER" "$WORK/kamailio.cfg"
  fi
}

start_kamailio() {
  for _ in 1 2 3; do
    configure
    try_kamailio && return 0
    stop_kamailio
  done
  cat "$WORK/kamailio.log" >&2
  echo "bench: Kamailio did not start" >&2
  exit 1
}

# try_kamailio: starts Kamailio and waits until it answers an OPTIONS; false when it does not.
try_kamailio() {
  setsid kamailio -DD -E -m 256 -M 16 -A WITH_MANY_USERS -f "$WORK/kamailio.cfg" -Y "$WORK" \
    -P "$WORK/kamailio.pid" >"$WORK/kamailio.log" 2>&1 &
  KPID=$!
  for _ in $(seq 100); do
    kill -0 "$KPID" 2>/dev/null || return 1
    python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(b'OPTIONS sip:127.0.0.1:$PORT SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bKb\r\nFrom: <sip:b@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: b\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', ('127.0.0.1', $PORT))
sys.exit(0 if s.recv(2000).startswith(b'SIP/2.0 200') else 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# registrar_cpu: CPU seconds (user + system) that Kamailio's processes (its session) used so far.
registrar_cpu() {
  python3 - "$KPID" <<'PY'
import os, sys
sid, ticks = int(sys.argv[1]), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if int(f[3]) == sid:
        ticks += int(f[11]) + int(f[12])
print(ticks / os.sysconf("SC_CLK_TCK"))
PY
}

# run_sipreg NAME SOCKET TRANSPORT [FLAGS...]
run_sipreg() {
  start_kamailio
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$1.time" "$BIN" storm --json --accounts "$WORK/accounts.csv" \
    --concurrency "$LIMIT" ${RATE:+--rate "$RATE" --burst "$BURST"} --socket "$2" "--$3" "${@:4}" "127.0.0.1:$PORT" > "$WORK/$1.json" || true
  stop_kamailio
}

# run_sipp NAME MODE
run_sipp() {
  start_kamailio
  local extra=()
  [ "$2" = u1 ] && extra=(-buff_size 1048576)
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/$1.time" sipp "127.0.0.1:$PORT" -sf "$ROOT/bench/sipp/register.xml" \
    -inf "$WORK/sipp.csv" -m "$N" -l "$LIMIT" -r "${RATE:-1000000}" -rp 1000 -t "$2" -i 127.0.0.1 "${extra[@]}" -nostdin \
    -timeout 300s -max_socket 16000 > "$WORK/$1.out" 2>&1 || true
  stop_kamailio
}

# BENCH_STORM_CASE=peak: the regime of issue 27, K (BENCH_STORM_PAIRS, default 2) interleaved pairs of each
# tool with its default flags at SIPp's best sustained rate on this machine (BENCH_STORM_RATE, 11000/s): 10,000
# accounts over one shared UDP socket, no limit on calls under way (sipreg: its default --concurrency, --burst
# and --threads). `sipreg storm --accounts A.csv --rate R --udp --socket shared --json` against
# `sipp -r R -rp 1000 -t u1 -buff_size 1048576`.
if [ "${BENCH_STORM_CASE:-}" = peak ]; then
  RATE=${RATE:-11000}
  # Kamailio's own receive buffer (256 KiB) unless BENCH_STORM_BUFFER says otherwise: the queue that
  # overflows when a tool's traffic comes in bursts.
  BUFFER=${BENCH_STORM_BUFFER-}
  for k in $(seq "${BENCH_STORM_PAIRS:-2}"); do
    start_kamailio
    before=$(registrar_cpu)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/peak${k}_sipreg.time" "$BIN" storm --json --accounts "$WORK/accounts.csv" \
      --rate "$RATE" --udp --socket shared "127.0.0.1:$PORT" > "$WORK/peak${k}_sipreg.json" || true
    echo "$before $(registrar_cpu)" > "$WORK/peak${k}_sipreg.registrar"
    stop_kamailio
    start_kamailio
    before=$(registrar_cpu)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/peak${k}_sipp.time" sipp "127.0.0.1:$PORT" -sf "$ROOT/bench/sipp/register.xml" \
      -inf "$WORK/sipp.csv" -m "$N" -r "$RATE" -rp 1000 -t u1 -buff_size 1048576 -i 127.0.0.1 -nostdin \
      -timeout 300s -trace_stat -fd 1 -stf "$WORK/peak${k}_sipp.csv" > "$WORK/peak${k}_sipp.out" 2>&1 || true
    echo "$before $(registrar_cpu)" > "$WORK/peak${k}_sipp.registrar"
    stop_kamailio
  done
  python3 "$ROOT/bench/storm_peak.py" "$WORK" "$N" "${BENCH_STORM_PAIRS:-2}"
  exit 0
fi

# BENCH_STORM_PAIRS=K: instead of the table, K interleaved pairs (sipreg --threads 1, then SIPp) in each mode
# where the two tools come close, compared pair by pair (neighbouring runs share the machine's state).
if [ "${BENCH_STORM_PAIRS:-0}" -gt 0 ]; then
  for k in $(seq "$BENCH_STORM_PAIRS"); do
    for mode in "shared udp u1" "shared tcp t1" "per-account udp un"; do
      read -r socket transport sippmode <<< "$mode"
      run_sipreg "pair${k}_sipreg_${socket}_$transport" "$socket" "$transport" --threads 1
      run_sipp "pair${k}_sipp_${socket}_$transport" "$sippmode"
    done
  done
  BENCH_STORM_BURST=$BURST python3 "$ROOT/bench/storm_report.py" "$WORK" "$N" "$LIMIT" "$BENCH_STORM_PAIRS"
  exit 0
fi

for mode in "shared udp u1" "shared tcp t1" "per-account udp un" "per-account tcp tn"; do
  read -r socket transport sippmode <<< "$mode"
  run_sipreg "sipreg1_${socket}_$transport" "$socket" "$transport" --threads 1
  run_sipreg "sipreg_${socket}_$transport" "$socket" "$transport"
  run_sipp "sipp_${socket}_$transport" "$sippmode"
done
BENCH_STORM_BURST=$BURST python3 "$ROOT/bench/storm_report.py" "$WORK" "$N" "$LIMIT"

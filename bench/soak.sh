#!/usr/bin/env bash
# bench/soak.sh BIN [MINUTES] [OUT]: the soak of issue 30, in a network namespace of its own (its firewall rules
# touch nothing else; run as root). Against Kamailio on the namespace's loopback, for MINUTES (60; the CI smoke
# run gives 1, with a faster fault schedule): the exporter scraped 50 times a second across 20 modules, and
# three watches (UDP, TCP, TLS, each with the inbound check), while the registrar is restarted every 5 minutes
# and its TCP port dropped for 30 s every 7 minutes. Prints a row every minute and the report at the end
# (bench/soak.py); writes OUT/soak.md, OUT/samples.csv and the plot OUT/soak.svg (OUT: target/soak).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1
MINUTES=${2:-60}
OUT=${3:-target/soak}
NS="sipreg-soak-$$"
command -v kamailio >/dev/null || { echo "soak: kamailio is missing (tests/run.sh installs it)" >&2; exit 1; }
command -v nft >/dev/null || { echo "soak: nft is missing (tests/run.sh installs it)" >&2; exit 1; }
ip netns add "$NS"
trap 'ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true; ip netns delete "$NS" 2>/dev/null || true' EXIT
ip -n "$NS" link set lo up
mkdir -p "$OUT"
ip netns exec "$NS" python3 bench/soak.py "$BIN" "$MINUTES" "$OUT"

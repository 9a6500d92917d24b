#!/usr/bin/env bash
# bench/link-order.sh REGISTRAR_PORT [TLS_PORT CA_FILE]: writes .cargo/order.txt, the functions a one-shot run
# executes, for rust-lld to lay out together (.cargo/config.toml; BENCHMARKS.md, "The one-shot's pages").
# Builds the default release binary (symbols kept, debug info stripped), runs it under valgrind's callgrind
# for `--version` and an authenticated registration over UDP, TCP and WS against a registrar on
# 127.0.0.1:REGISTRAR_PORT (Kamailio from fixtures/kamailio, -A WITH_MANY_USERS -A WITH_WEBSOCKET: u1 /
# pw-u1, or LINK_ORDER_USER / LINK_ORDER_PASSWORD), over TLS and WSS too with TLS_PORT and its CA, and lists
# every function named in those runs, first seen first (the one-shot paths first: UDP, TCP, then the others).
# Then rebuild (`cargo build --release`: build.rs watches the file, so the binary is relinked).
# Names that change (a renamed function, a new dependency version) only fall out of the layout: rerun this
# when the peak RSS of `bench/run` climbs back.
#
# bench/link-order.sh --check BIN: how many of the functions in .cargo/order.txt BIN still has (the layout
# goes stale as names change); warns below 80 %, and fails then with LINK_ORDER_STRICT=1. bench/run prints
# it; the smoke run (`bench/run --quick`, in the test suite) fails on a stale layout.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --check ]; then
  command -v nm >/dev/null || { echo "link order: not checked (nm, from binutils, is missing)"; exit 0; }
  total=$(wc -l < .cargo/order.txt)
  found=$(nm --defined-only "$2" 2>/dev/null | awk '{print $3}' | sort -u | comm -12 - <(sort -u .cargo/order.txt) | wc -l)
  echo "link order: $found of $total functions of .cargo/order.txt are in $(basename "$2")"
  if [ "$total" -gt 0 ] && [ $((found * 100 / total)) -lt 80 ]; then
    echo "link order: stale; regenerate it with bash bench/link-order.sh PORT (CONTRIBUTING.md)" >&2
    # At 71 % (the HTTP server rewritten), a registration peaked at 3.7 MiB instead of 2.4.
    [ -n "${LINK_ORDER_STRICT:-}" ] && exit 1
  fi
  exit 0
fi
PORT=$1
TLS_PORT=${2:-}
CA=${3:-}
USER_NAME=${LINK_ORDER_USER:-u1}
PASSWORD=${LINK_ORDER_PASSWORD:-pw-u1}
command -v valgrind >/dev/null || { echo "link-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet
BIN=target/$(rustc -vV | sed -n 's/^host: //p')/release/sipreg
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
run() { valgrind --tool=callgrind --demangle=no --callgrind-out-file="$OUT/$1.cg" "${@:2}" >/dev/null 2>&1 || true; }
run version "$BIN" --version
run udp "$BIN" --udp --user "$USER_NAME" --password "$PASSWORD" "127.0.0.1:$PORT"
run tcp "$BIN" --tcp --user "$USER_NAME" --password "$PASSWORD" "127.0.0.1:$PORT"
run ws "$BIN" --ws --user "$USER_NAME" --password "$PASSWORD" "127.0.0.1:$PORT"
runs=("$OUT/version.cg" "$OUT/udp.cg" "$OUT/tcp.cg" "$OUT/ws.cg")
if [ -n "$TLS_PORT" ]; then
  run tls "$BIN" --tls --ca-file "$CA" --user "$USER_NAME" --password "$PASSWORD" "127.0.0.1:$TLS_PORT"
  run wss "$BIN" --wss --ca-file "$CA" --user "$USER_NAME" --password "$PASSWORD" "127.0.0.1:$TLS_PORT"
  runs+=("$OUT/tls.cg" "$OUT/wss.cg")
fi
# Callgrind names a function once per file, on its first `fn=` or `cfn=` line.
grep -h -E '^c?fn=\([0-9]+\) ' "${runs[@]}" | sed -E 's/^c?fn=\([0-9]+\) //' \
  | awk '!seen[$0]++' > .cargo/order.txt
echo "link-order: $(wc -l < .cargo/order.txt) functions in .cargo/order.txt; now: cargo build --release" >&2

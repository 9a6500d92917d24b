#!/usr/bin/env bash
# The whole test suite, as README.md gives it: installs what the tests need, then runs them.
#
# Needs: rustup, for the Rust that rust-toolchain.toml pins (tests/toolchain.sh links or installs it); for the
# Kamailio interop suite (tests/it/kamailio.rs, tests/it/websocket.rs), Debian's kamailio, kamailio-tls-modules and
# kamailio-websocket-modules, for the legacy-TLS servers
# (tests/it/tls_legacy.rs), openssl, and for the NAT tests (tests/it/nat.rs: network namespaces, run as root), nftables,
# iproute2, procps (sysctl) and python3 (its probes): all installed here when missing (as root, or with sudo); for
# the monitoring tests (tests/it/exporter.rs, tests/it/prometheus.rs), Debian's prometheus (prometheus and promtool); for
# the storm benchmark's smoke run, sip-tester (SIPp); for the reference phone of the oracle tests
# (tests/it/kamailio.rs), baresip-core (baresip without a GUI); for the capture tests (tests/it/capture.rs), tshark
# and sngrep.
set -euo pipefail
cd "$(dirname "$0")/.."

have_kamailio() {
  command -v kamailio >/dev/null 2>&1 && command -v kamcmd >/dev/null 2>&1 &&
    compgen -G "/usr/lib/*/kamailio/modules/tls.so" >/dev/null &&
    compgen -G "/usr/lib/*/kamailio/modules/websocket.so" >/dev/null
}

missing=()
have_kamailio || missing+=(kamailio kamailio-tls-modules kamailio-websocket-modules)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v sysctl >/dev/null 2>&1 || missing+=(procps)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing+=(prometheus)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v baresip >/dev/null 2>&1 || missing+=(baresip-core)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v sngrep >/dev/null 2>&1 || missing+=(sngrep)
if [ ${#missing[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get -o Acquire::Retries=5 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o Acquire::Retries=5 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  have_kamailio || { echo "tests/run.sh: kamailio is still missing" >&2; exit 1; }
  command -v openssl >/dev/null 2>&1 || { echo "tests/run.sh: openssl is still missing" >&2; exit 1; }
  command -v nft >/dev/null 2>&1 || { echo "tests/run.sh: nft is still missing" >&2; exit 1; }
  command -v promtool >/dev/null 2>&1 || { echo "tests/run.sh: promtool is still missing" >&2; exit 1; }
  command -v baresip >/dev/null 2>&1 || { echo "tests/run.sh: baresip is still missing" >&2; exit 1; }
  command -v tshark >/dev/null 2>&1 || { echo "tests/run.sh: tshark is still missing" >&2; exit 1; }
  command -v sngrep >/dev/null 2>&1 || { echo "tests/run.sh: sngrep is still missing" >&2; exit 1; }
fi

# The Rust that rust-toolchain.toml pins, before the first cargo.
bash tests/toolchain.sh

# A quick smoke run of the benchmark script, so that it cannot rot (its figures mean nothing).
bash bench/run --quick > target/bench-smoke.md
echo "tests/run.sh: benchmark smoke run passed ($(grep -c '^|' target/bench-smoke.md) table rows)"

cargo test --locked --all-targets

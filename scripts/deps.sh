#!/usr/bin/env bash
# Install everything btcp needs on a Debian 12 machine, as root.
# Idempotent: when every package, component and tool is present it only
# runs a few cheap queries.
set -euo pipefail

APT_PKGS=(
  # kernel build
  linux-source-6.12 clang llvm lld libclang-dev libelf-dev bc bison flex
  libssl-dev cpio xz-utils make gcc kmod rsync
  # libFuzzer (cargo fuzz) is C++
  g++
  # lab guest: qemu and the binaries the guest runs from the host's root
  qemu-system-x86 busybox-static iproute2 nginx curl wrk apache2-utils
  tcpdump ethtool nftables procps python3 haproxy
  # hand-made packets in the fault matrix (tests/lab/faults/probe.py) and
  # a blind attacker (tests/lab/blind.py)
  python3-scapy
  # where the front-end's CPU goes (make bench, --profile)
  linux-perf
  # SYN floods from unassigned lab addresses (tests/lab/cookies.sh)
  hping3
  # make bench: IPVS-DR as the alternative, plots of its tables
  ipvsadm gnuplot-nox
  # open-loop load (connections at a fixed rate, each request's time
  # logged) for the multi-VM failure tests (tests/lab/vm/server_health.sh)
  nghttp2-client
  # self-signed certificates for the HTTPS back-ends (qemu/nginx.sh --tls)
  openssl
  # the Prometheus client library's parser checks btcpctl's exposition
  # (tests/lab/metrics.py)
  python3-prometheus-client
  # two front-ends sharing the VIP by VRRP (tests/lab/vm/fe_failover.sh)
  keepalived
)
BINDGEN_VERSION=0.73.2

missing=()
for p in "${APT_PKGS[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *'install ok installed'* ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # nginx's package starts a host instance; the lab runs its own in the guest.
  for s in nginx haproxy keepalived; do systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true; done
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! grep -q '^rust-src' <<<"$(rustup component list --installed 2>/dev/null)"; then
  echo "deps: rustup component add rust-src"
  rustup component add rust-src
fi
for c in rustfmt clippy; do
  grep -q "^$c" <<<"$(rustup component list --installed 2>/dev/null)" || rustup component add "$c"
done
if ! grep -q "$BINDGEN_VERSION" <<<"$(bindgen --version 2>/dev/null)"; then
  echo "deps: cargo install bindgen-cli $BINDGEN_VERSION"
  cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi
# The HTTP parser's fuzz target (scripts/fuzz.sh, a `make test` stage).
CARGO_FUZZ_VERSION=0.13.2
if ! grep -qF "$CARGO_FUZZ_VERSION" <<<"$(cargo fuzz --version 2>/dev/null)"; then
  echo "deps: cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

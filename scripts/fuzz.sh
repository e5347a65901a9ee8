#!/usr/bin/env bash
# Fuzz the core crate's parsers of what a client sends first (the HTTP
# request head, http::parse_head; the TLS ClientHello,
# tls::parse_client_hello) and the HTTP/1.1 stream framer
# (framing: response heads, chunked bodies) with cargo-fuzz/libFuzzer for a bounded time,
# shared between the targets:
#
#   scripts/fuzz.sh [SECONDS]        # default 60 in all
#
# Installs what it needs first, idempotently: cargo-fuzz from crates.io.
# cargo fuzz passes nightly-only rustc flags (sancov passes, -Zsanitizer);
# by default they are unlocked on the machine's own toolchain with
# RUSTC_BOOTSTRAP=1, as the kernel's Rust build does, so nothing but the
# crate is downloaded. FUZZ_TOOLCHAIN=nightly uses (and installs, through
# rustup) a nightly instead.
#
# Other knobs: FUZZ_TARGET (one target; all by default), FUZZ_SANITIZER (none: the crate
# has no unsafe code, so ASan would only slow it; address works too),
# FUZZ_TARGET_DIR (rust/btcp-core/fuzz/target).
#
# Exits non-zero if the target panics or an assertion in it fails; the
# input that did it is kept under rust/btcp-core/fuzz/artifacts/ and can be
# replayed with the printed command plus its path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
secs=${1:-60}
case $secs in '' | *[!0-9]*)
  echo "usage: $0 [SECONDS]" >&2
  exit 2
  ;;
esac
CARGO_FUZZ_VERSION=0.13.2
targets=${FUZZ_TARGET:-parse_head parse_client_hello frame_stream}
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=${FUZZ_TOOLCHAIN:-}
fuzz=$root/rust/btcp-core/fuzz
tdir=${FUZZ_TARGET_DIR:-$fuzz/target}

if ! grep -qF "$CARGO_FUZZ_VERSION" <<<"$(cargo fuzz --version 2>/dev/null)"; then
  echo "fuzz: cargo install --locked cargo-fuzz --version $CARGO_FUZZ_VERSION"
  t0=$SECONDS
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  echo "fuzz: installed cargo-fuzz in $((SECONDS - t0)) s"
fi

plus=()
if [ -n "$toolchain" ]; then
  if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "fuzz: rustup toolchain install $toolchain --profile minimal"
    t0=$SECONDS
    rustup toolchain install "$toolchain" --profile minimal
    echo "fuzz: installed $toolchain in $((SECONDS - t0)) s"
  fi
  plus=("+$toolchain")
else
  export RUSTC_BOOTSTRAP=1
fi

# run_target TARGET SECONDS
run_target() {
  local target=$1 secs=$2 corpus seeds opts cmd log rc execs t0
  corpus=$fuzz/corpus/$target
  seeds=$fuzz/seeds/$target
  mkdir -p "$corpus"
  # New inputs go to the first corpus directory (untracked); the seeds are
  # read as well. The dictionary steers libFuzzer to the protocol's tokens.
  opts=(--fuzz-dir "$fuzz" --target-dir "$tdir" -s "$sanitizer")
  cmd=(cargo "${plus[@]}" fuzz run "${opts[@]}" "$target" "$corpus" "$seeds"
    -- -max_total_time="$secs" -dict="$fuzz/$target.dict" -print_final_stats=1)
  t0=$SECONDS
  if ! (cd "$fuzz" && cargo "${plus[@]}" fuzz build "${opts[@]}" "$target"); then
    echo "fuzz: FAILED: could not build $target" >&2
    exit 1
  fi
  echo "fuzz: built $target in $((SECONDS - t0)) s"
  echo "fuzz: ${RUSTC_BOOTSTRAP:+RUSTC_BOOTSTRAP=1 }${cmd[*]}"
  log=$(mktemp)
  t0=$SECONDS
  set +e
  (cd "$fuzz" && "${cmd[@]}") 2>&1 | tee "$log" | grep -vE '^(#[0-9]+|"|INFO:|MERGE|WARNING: Failed to find function)'
  rc=${PIPESTATUS[0]}
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rm -f "$log"
  if [ "$rc" != 0 ]; then
    echo "fuzz: FAILED: $target crashed (exit $rc) after $((SECONDS - t0)) s; see above and $fuzz/artifacts/$target/" >&2
    exit 1
  fi
  echo "fuzz: $target: ${execs:-?} runs in $((SECONDS - t0)) s, no crash (corpus: $(find "$corpus" -type f | wc -l) inputs)"
}

read -r -a list <<<"$targets"
each=$((secs / ${#list[@]}))
[ "$each" -ge 10 ] || each=10
for t in "${list[@]}"; do
  run_target "$t" "$each"
done

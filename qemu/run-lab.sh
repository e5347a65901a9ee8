#!/usr/bin/env bash
# Boot the lab guest under QEMU (TCG), run one test script inside it, and
# judge the run.
#
#   qemu/run-lab.sh [--kernel BZIMAGE] [--modules "a.ko b.ko"] [--mem 2G]
#                   [--cpus 2] [--timeout SECS] [--append "KARGS"]
#                   [--keep-modules] [--quiet] [--load full|light]
#                   [--netns NS --tap TAP --mac MAC]
#                   --out DIR SCRIPT [ARGS...]
#
# The guest's root is the host's own root, shared read-only over 9p (as
# virtme-ng does), so host binaries and the same absolute paths work inside.
# DIR is shared read-write (9p tag "results") and is mounted in the guest at
# the same path. qemu/guest-init.sh is PID 1: it loads the modules, runs
# SCRIPT, and writes its exit status to DIR/status.
#
# Files in DIR afterwards: console.log (whole serial console), script.log,
# dmesg.log, status, qemu.log, kmemleak.log (debug kernels only), lab.env.
#
# --netns/--tap/--mac (qemu/run-cluster.sh): QEMU runs in the host network
# namespace NS and the guest's eth0 (virtio-net, MAC) is the tap TAP there.
#
# Exit status: the script's, unless
#   124  the run hit --timeout (QEMU killed)
#   125  no status from the guest (QEMU failed, guest init crashed, panic)
#   126  the kernel logged a BUG/WARNING/Oops/KASAN/leak/panic (lines printed)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

usage() { sed -n '2,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
die() { echo "run-lab: $*" >&2; exit 2; }

kernel=${BTCP_BZIMAGE:-}
modules=""
mem=2G
cpus=2
timeout=600
append=""
keep_modules=0
quiet=0
# light: the test scripts' load runs (wrk, ab) are shorter and narrower,
# for slow guests (the debug kernel); what they check stays the same.
load=${BTCP_LAB_LOAD:-full}
out=""
netns="" tap="" mac=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=$2; shift 2 ;;
    --modules) modules=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --append) append=$2; shift 2 ;;
    --keep-modules) keep_modules=1; shift ;;
    --quiet) quiet=1; shift ;;
    --load) load=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --netns) netns=$2; shift 2 ;;
    --tap) tap=$2; shift 2 ;;
    --mac) mac=$2; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ -n "$out" ] || die "--out DIR is required"
[ $# -ge 1 ] || die "no SCRIPT given"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
case $load in full | light) ;; *) die "--load wants full or light" ;; esac

# A relative SCRIPT is taken from the caller's directory, else from the
# project root, so `qemu/run-lab.sh ... tests/lab/smoke.sh` works from both.
script=$1; shift
if [ -e "$script" ]; then script=$(realpath "$script")
elif [ -e "$root/$script" ]; then script=$(realpath "$root/$script")
else die "no such script: $script"; fi

if [ -z "$kernel" ]; then
  # Cached after the first build, so this is instant; it builds otherwise.
  kdir=$(bash "$root/scripts/kernel.sh" | tail -1)
  kernel=$kdir/arch/x86/boot/bzImage
fi
[ -f "$kernel" ] || die "no kernel image: $kernel"

mods=()
for m in $modules; do
  [ -f "$m" ] || die "no such module: $m"
  mods+=("$(realpath "$m")")
done

mkdir -p "$out"
out=$(realpath "$out")
init=$here/guest-init.sh
# The kernel command line is split on whitespace and the 9p tag must be a
# plain path inside the guest.
for p in "$init" "$out"; do
  [[ "$p" =~ ^[A-Za-z0-9_./+-]+$ ]] || die "path must not contain spaces or odd characters: $p"
done

# Stale results from an earlier run must never be mistaken for this one's.
rm -f "$out"/{status,console.log,script.log,dmesg.log,kmemleak.log,qemu.log,lab.env}

# What guest-init needs to know, in bash syntax (declare -p quotes anything).
{
  echo "# written by run-lab.sh for guest-init.sh"
  LAB_ROOT=$root LAB_OUT=$out LAB_SCRIPT=$script LAB_KEEP_MODULES=$keep_modules
  LAB_ARGS=("$@") LAB_MODULES=("${mods[@]}") LAB_LOAD=$load
  declare -p LAB_ROOT LAB_OUT LAB_SCRIPT LAB_KEEP_MODULES LAB_ARGS LAB_MODULES LAB_LOAD
} >"$out/lab.env"

# msize: bigger 9p messages make exec and large reads over the share faster.
p9opts=trans=virtio,version=9p2000.L,msize=512000
cmdline="console=ttyS0 root=hostroot rootfstype=9p rootflags=$p9opts,cache=loose ro"
# ipv6.disable_ipv6=1: the kernel has IPv6 (a default of olddefconfig) but the
# lab is IPv4; no link-local addresses, DAD or solicitations on the bridge.
# --append ipv6.disable_ipv6=0 turns it back on (the last one wins).
cmdline+=" init=$init panic=-1 oops=panic mitigations=off ipv6.disable_ipv6=1"
# The guest has no ACPI, so no HPET or PM timer to calibrate the TSC
# against, and under TCG the calibration against the PIT fails: it would
# fall back to a jiffies clock (4 ms steps), and clients would pick the same
# ISN and TSval for connections in one tick. Under TCG the guest reads the
# host's TSC, so take the host's frequency and trust it.
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo 2>/dev/null)
if [ -n "$tsc_khz" ] && grep -qw constant_tsc /proc/cpuinfo; then
  cmdline+=" tsc=reliable tsc_early_khz=$tsc_khz"
fi
cmdline+=" $append"

# shellcheck disable=SC2054 # commas belong to QEMU option values
qemu=(qemu-system-x86_64
  # One CPU per socket: with no ACPI in the guest kernel, CPUs come from
  # SeaBIOS's MP table, which lists only the first CPU of each package.
  -accel tcg -cpu max -smp "$cpus,sockets=$cpus,cores=1,threads=1" -m "$mem"
  -nodefaults -no-user-config -no-reboot -display none -nic none
  -kernel "$kernel" -append "$cmdline"
  -serial stdio
  # multidevs=remap: the host root spans several filesystems; without it
  # inode numbers could collide inside the guest.
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
  -fsdev "local,id=results,path=$out,security_model=none,multidevs=remap"
  -device virtio-9p-pci,fsdev=results,mount_tag=results
)
if [ -n "$tap" ]; then
  qemu+=(-netdev "tap,id=lab,ifname=$tap,script=no,downscript=no"
    -device "virtio-net-pci,netdev=lab,mac=${mac:-52:54:00:12:34:56}")
fi
[ -z "$netns" ] || qemu=(ip netns exec "$netns" "${qemu[@]}")

echo "run-lab: $(basename "$kernel") from $(dirname "$kernel"), script $script, out $out, timeout ${timeout}s" >&2
start=$(date +%s%N)
rc=0
# stdin from /dev/null: QEMU then leaves the terminal alone (no raw mode).
if [ "$quiet" = 1 ]; then
  timeout -k 10 "$timeout" "${qemu[@]}" </dev/null >"$out/console.log" 2>"$out/qemu.log" || rc=$?
else
  set +e # PIPESTATUS must be read right after the pipeline
  timeout -k 10 "$timeout" "${qemu[@]}" </dev/null 2>"$out/qemu.log" | tee "$out/console.log"
  rc=${PIPESTATUS[0]}
  set -e
fi
ms=$((($(date +%s%N) - start) / 1000000))
elapsed=$((ms / 1000)).$(printf %03d $((ms % 1000)))
echo "run-lab: QEMU exited with $rc after ${elapsed}s" >&2

# Kernel messages carry the PRINTK_TIME stamp "[    1.234567] "; anchoring
# on it keeps the scripts' own output (which has none) from matching.
ts='^\[ *[0-9]+\.[0-9]+\] '
splat="${ts}(BUG:|[a-z_]+: BUG:|kernel BUG at|WARNING:|Oops|.*KASAN:|.*RIP:|.*Call Trace:|.*unreferenced object|Kernel panic|.*panicked at|.*general protection fault|.*UBSAN:|INFO: task .* blocked|rcu: INFO:|.*stack-protector:|.*list_(add|del) corruption)"
hits=0
scan() { # FILE REGEX: print matching lines (at most 60), count them
  local f=$1 re=$2 n
  [ -s "$f" ] || return 0
  n=$(tr -d '\r' <"$f" | grep -cE "$re" || true)
  [ "$n" -gt 0 ] || return 0
  hits=$((hits + n))
  echo "run-lab: $n suspicious kernel line(s) in $f:" >&2
  tr -d '\r' <"$f" | grep -nE "$re" | head -60 | sed 's/^/  /' >&2
}
scan "$out/console.log" "$splat"
scan "$out/dmesg.log" "$splat"
scan "$out/kmemleak.log" 'unreferenced object'

if [ -s "$out/qemu.log" ]; then
  echo "run-lab: QEMU said:" >&2; sed 's/^/  /' "$out/qemu.log" >&2
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "run-lab: FAIL: TIMEOUT: killed QEMU after ${timeout}s; last console lines:" >&2
  tail -n 25 "$out/console.log" | tr -d '\r' | sed 's/^/  /' >&2
  exit 124
fi
if [ "$hits" -gt 0 ]; then
  echo "run-lab: FAIL: the kernel logged $hits suspicious line(s) (see above)" >&2
  exit 126
fi
status=$(cat "$out/status" 2>/dev/null || true)
if ! [[ "$status" =~ ^[0-9]+$ ]]; then
  echo "run-lab: FAIL: the guest wrote no status (QEMU exit $rc); last console lines:" >&2
  tail -n 25 "$out/console.log" | tr -d '\r' | sed 's/^/  /' >&2
  exit 125
fi
if [ "$status" = 0 ]; then echo "run-lab: PASS ($script)" >&2
else echo "run-lab: FAIL: $script exited with $status" >&2; fi
exit "$status"

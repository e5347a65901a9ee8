#!/bin/bash
# PID 1 of the lab guest (started by qemu/run-lab.sh as init=...).
#
# The root is the host's root over 9p, read-only. This script makes the few
# writable places the host's binaries need, mounts the results share, loads
# the modules, runs the test script and always ends with a status in
# $LAB_OUT/status and a reboot (QEMU runs with -no-reboot, so it exits). If
# this script itself dies, the kernel panics (init exited) and panic=-1
# reboots: the run ends either way, never waiting for the timeout.
set -uo pipefail -o errtrace
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LC_ALL=C.UTF-8
umask 022

stage=/run/lab/results   # where the results share sits until it is moved
res=""                   # where the results share is mounted now
p9opts=trans=virtio,version=9p2000.L,msize=512000

# Every exec costs ~0.1 s under TCG: builtins where it is easy.
is_mnt() { local _d m _r; while read -r _d m _r; do [ "$m" = "$1" ] && return 0; done </proc/mounts; return 1; }
say() { local up; read -r up _ </proc/uptime 2>/dev/null; echo "guest-init: [${up:-?}] $*" >&2; }

finish() {
  trap - ERR
  local st=$1
  if [ -n "$res" ]; then
    dmesg >"$res/dmesg.log" 2>/dev/null
    echo "$st" >"$res/status"
  fi
  say "status $st, rebooting"
  sync
  busybox reboot -f
  sleep 5
  exit "$st" # init exiting panics the kernel; panic=-1 reboots it
}
fail() { say "FAIL: $*"; finish 1; }
trap 'fail "line $LINENO: $BASH_COMMAND exited with $?"' ERR

mount -t proc proc /proc
mount -t sysfs sysfs /sys
is_mnt /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
# What udev would add: bash's <(...) needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p "$stage" /run/lab/keep
mount -t 9p -o "$p9opts" results "$stage"
res=$stage
[ -f "$res/lab.env" ] || fail "no lab.env in the results share"
# shellcheck disable=SC1091
source "$res/lab.env"

# Writable tmpfs over the places host programs write to. Paths the run
# needs (the checkout, the script's dir, module dirs) may live under one of
# them (e.g. a CI clone in /tmp): park a bind mount of each first and put it
# back on top of the tmpfs. A file straight in such a dir (/tmp/t.sh) is
# kept alone, so the dir itself stays writable.
tmpdirs=(/tmp /var/tmp /var/log /var/cache /var/lib/nginx /root)
keep=("$LAB_ROOT")
for f in "$LAB_SCRIPT" "${LAB_MODULES[@]}"; do
  d=${f%/*}
  case " ${tmpdirs[*]} " in *" $d "*) keep+=("$f") ;; *) keep+=("$d") ;; esac
done
for dir in "${tmpdirs[@]}"; do
  [ -d "$dir" ] || continue
  parked=()
  for k in "${keep[@]}"; do
    case "$k" in "$dir"/*) ;; *) continue ;; esac
    slot=/run/lab/keep/${#parked[@]}
    if [ -d "$k" ]; then mkdir "$slot"; else : >"$slot"; fi
    mount --bind "$k" "$slot"
    parked+=("$k")
  done
  mount -t tmpfs -o mode=1777 tmpfs "$dir"
  for i in "${!parked[@]}"; do
    k=${parked[$i]}
    if [ -d "/run/lab/keep/$i" ]; then mkdir -p "$k"; else mkdir -p "${k%/*}"; : >"$k"; fi
    mount --move "/run/lab/keep/$i" "$k"
  done
done
[ -d /var/log/nginx ] || mkdir -p /var/log/nginx

# Same path for the results inside and outside the guest.
mkdir -p "$LAB_OUT"
mount --move "$stage" "$LAB_OUT"
res=$LAB_OUT

hostname btcp-lab
ip link set lo up

# Debug kernels: kmemleak reports only what leaks during the test.
if [[ $(</proc/filesystems) == *debugfs* ]]; then
  mount -t debugfs debugfs /sys/kernel/debug
fi
kmemleak=/sys/kernel/debug/kmemleak
# Best effort: a kmemleak hiccup must not fail the test.
[ -w "$kmemleak" ] && { echo clear >"$kmemleak" || say "kmemleak clear failed"; }

modnames=()
for m in "${LAB_MODULES[@]}"; do
  say "insmod $m"
  insmod "$m" || fail "insmod $m failed"
  n=${m##*/}; n=${n%.ko}; modnames+=("${n//-/_}")
done

say "running $LAB_SCRIPT ${LAB_ARGS[*]}"
# LAB_LOAD=${LAB_LOAD:-full}: older lab.env files have none.
LAB_LOAD=${LAB_LOAD:-full}
export LAB_ROOT LAB_OUT LAB_LOAD
cd "$LAB_ROOT" || fail "cannot cd to $LAB_ROOT"
run=("$LAB_SCRIPT" "${LAB_ARGS[@]}")
[ -x "$LAB_SCRIPT" ] || run=(bash "${run[@]}")

# The script's output goes through a FIFO to tee rather than a pipeline, so
# that daemons the script leaves behind (holding its stdout) cannot keep us
# waiting: once it exits they are stopped and tee sees EOF.
mkfifo /run/lab/out.fifo
tee "$res/script.log" </run/lab/out.fifo &
tee_pid=$!
rc=0
"${run[@]}" </dev/null >/run/lab/out.fifo 2>&1 || rc=$?
say "script exited with $rc"

# Stop everything the script left running (nginx, httpd, ...), except tee.
stop_all() { # SIGNAL
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = 1 ] || [ "$p" = "$tee_pid" ] && continue
    [ -e "/proc/$p/exe" ] || continue # kernel thread (or gone)
    kill "-$1" "$p" 2>/dev/null || true
  done
}
stop_all TERM
for _ in $(seq 50); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
stop_all KILL
kill -KILL "$tee_pid" 2>/dev/null || true
wait 2>/dev/null || true

# Unloading is part of the module's life: a failing rmmod fails the run.
if [ "$LAB_KEEP_MODULES" != 1 ]; then
  for ((i = ${#modnames[@]} - 1; i >= 0; i--)); do
    n=${modnames[$i]}
    [ -d "/sys/module/$n" ] || continue
    say "rmmod $n"
    if ! rmmod "$n"; then
      say "FAIL: rmmod $n failed"
      [ "$rc" != 0 ] || rc=1
    fi
  done
fi

if [ -w "$kmemleak" ]; then
  # kmemleak ignores objects younger than 5 s, and in any one scan it
  # takes an object whose contents changed since the scan before for
  # referenced: on a first scan that is every object, so one scan alone
  # reports next to nothing. Two scans, then (about 45 s each under
  # KASAN and TCG): what the second still finds unreferenced is a leak.
  sleep 6
  t=$SECONDS
  for _ in 1 2; do echo scan >"$kmemleak" || say "kmemleak scan failed"; done
  say "kmemleak: two scans in $((SECONDS - t)) s"
  cat "$kmemleak" >"$res/kmemleak.log" || true
  if [ -s "$res/kmemleak.log" ]; then
    say "kmemleak found leaks:"; cat "$res/kmemleak.log" >&2
  fi
fi

finish "$rc"

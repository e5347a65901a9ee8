#!/bin/bash
# What every multi-VM lab test driver starts with (source it): $here (this
# directory), $root (the checkout), $lab (qemu/), in_vm and the VMs
# (qemu/vms.sh), ok/bad/summary (tests/lab/checks.sh), the cluster's
# configuration (qemu/cluster.sh), and a scratch directory $tmp.
# shellcheck disable=SC2034 # used by the scripts that source this
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
lab=$root/qemu
# shellcheck source=SCRIPTDIR/../../../qemu/vms.sh
source "$lab/vms.sh"
# shellcheck source=SCRIPTDIR/../checks.sh
source "$here/../checks.sh"
# shellcheck source=SCRIPTDIR/../../../qemu/cluster.sh
source "$lab/cluster.sh"
tmp=$(mktemp -d)
# failover_row FAILURE WHEN IN_FLIGHT FAILED CORRUPTED NORMAL: a row of
# `make test-failover`'s table (tests/lab/vm/failover_table.sh prints the
# rows the drivers of one boot wrote): the failure, when it came, the
# requests in flight, those that failed, bytes corrupted in the checked
# transfers, the time until the cluster served as before.
FAILOVER_ROWS=${FAILOVER_ROWS:-/tmp/failover-rows}
failover_row() { (IFS=$'\t'; echo "$*") >>"$FAILOVER_ROWS"; }
# corrupted_bytes FILE SHA256 SIZE: bytes of FILE that are not what a
# transfer of SIZE bytes with that sha256 must give (0 when it is exact;
# missing bytes count).
corrupted_bytes() {
  local size
  size=$(stat -c %s "$1" 2>/dev/null || echo 0)
  if [ "$size" = "$3" ] && sha256sum "$1" | grep -q "^$2 "; then echo 0; return; fi
  echo $(($3 > size ? $3 - size : size - $3))
}
# big_download OUT: the 64 MiB file through the VIP, rate-limited to last
# about 16 s (the caller's rules decide where it goes), in the background
# into OUT; its pid in $download. big_corrupted OUT: its bytes off after it.
big_download() {
  curl -sS --limit-rate 4M --max-time 120 -o "$1" "http://$LAB_VIP/big/64m.bin" 2>"$1.err" &
  download=$!
}
big_corrupted() {
  corrupted_bytes "$1" "$(awk -F= '/^big_sha=/ { print $2 }' "$lab/content.sh")" $((64 << 20))
}
# download_checked CHECK OUT: waits for big_download's curl and checks its
# bytes as CHECK (ok or bad); the bytes off in $corrupted, "ok" or
# "failed" in $dl_ok.
download_checked() {
  wait "$download"
  local rc=$?
  corrupted=$(big_corrupted "$2")
  if [ "$rc" = 0 ] && [ "$corrupted" = 0 ]; then ok "$1"; dl_ok=ok
  else bad "${1%% *}" "curl $rc ($(cat "$2.err")), $corrupted bytes off"; dl_ok=failed; fi
}

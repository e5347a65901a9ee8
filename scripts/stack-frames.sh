#!/bin/bash
# stack-frames.sh MODULE.ko [LIMIT]: fails if a function of the module
# reserves more than LIMIT bytes of stack (default 6144). A kernel stack
# is 16 KiB for the whole call chain; Rust builds large values in a frame
# before moving them unless the compiler elides the copy, and a change of
# kernel release once turned an 8 KiB configuration into a double fault
# at insmod. Reads `sub $N,%rsp` from the disassembly (x86-64).
set -euo pipefail
ko=$1 limit=${2:-6144}
objdump -d --no-show-raw-insn "$ko" | awk -v limit="$limit" '
  /^[0-9a-f]+ <.*>:$/ { fn = $2 }
  match($0, /sub +\$0x[0-9a-f]+,%rsp/) {
    hex = substr($0, RSTART, RLENGTH); sub(/^sub +\$0x/, "", hex); sub(/,%rsp$/, "", hex)
    n = 0
    for (i = 1; i <= length(hex); i++) n = n * 16 + index("0123456789abcdef", substr(hex, i, 1)) - 1
    if (n > limit) { printf "stack-frames: %s reserves %d bytes (limit %d)\n", fn, n, limit; bad = 1 }
  }
  END { exit bad }'

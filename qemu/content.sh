#!/bin/bash
# Generate the lab's web content once per boot, in tmpfs:
#
#   $LAB_CONTENT/files/          the shared tree: /index.html, /small/*.bin,
#                                /big/64m.bin
#   $LAB_CONTENT/manifest.sha256 "sha256  /path" for every shared file
#   $LAB_CONTENT/www/NODE/       a node's docroot: the shared tree (hard
#                                links, so 64 MiB once) plus /whoami.txt
#                                containing "NODE\n"
#
#   content.sh [NODE...]         (default: fe be1 be2 be3) prints $LAB_CONTENT
#
# Bytes are deterministic (SHAKE-128 seeded by the file's path), so a
# corrupted transfer cannot match by luck and a run can be compared with
# another. LAB_CONTENT defaults to /tmp/lab-content.
set -euo pipefail

dir=${LAB_CONTENT:-/tmp/lab-content}
nodes=("$@")
[ ${#nodes[@]} -gt 0 ] || nodes=(fe be1 be2 be3)
# sha256 of /big/64m.bin as generated below, to catch a generator that
# stopped being deterministic.
big_sha=ede72d1c54e584fc0648a52024630f63badeddbad599dadd659ef740d58a53c3

if [ ! -f "$dir/.done" ]; then
  rm -rf "$dir"; mkdir -p "$dir/files"
  # Sizes around one full segment (1448 = 1500 - 20 - 20 - 12 of timestamps)
  # and a few powers of two; non-repeating bytes catch offset errors.
  python3 - "$dir/files" <<'EOF'
import hashlib, os, sys
root = sys.argv[1]
sizes = {"1": 1, "100": 100, "1k": 1024, "1448": 1448, "1449": 1449,
         "4k": 4096, "16k": 16384, "64k": 65536, "256k": 262144, "1m": 1 << 20}
files = {f"/small/{n}.bin": s for n, s in sizes.items()}
files["/big/64m.bin"] = 64 << 20
for path, size in files.items():
    os.makedirs(os.path.dirname(root + path), exist_ok=True)
    with open(root + path, "wb") as f:
        f.write(hashlib.shake_128(b"btcp-lab:" + path.encode()).digest(size))
with open(root + "/index.html", "w") as f:
    f.write("<!doctype html>\n<title>btcp lab</title>\n<p>btcp lab index</p>\n"
            + "".join(f'<a href="{p}">{p}</a>\n' for p in sorted(files)))
EOF
  (cd "$dir/files" && find . -type f | sort | sed 's|^\./||' | xargs sha256sum | sed 's|  |  /|') >"$dir/manifest.sha256"
  got=$(awk '$2 == "/big/64m.bin" { print $1 }' "$dir/manifest.sha256")
  if [ "$got" != "$big_sha" ]; then
    echo "content: /big/64m.bin has sha256 $got, expected $big_sha" >&2; exit 1
  fi
  chmod -R a+rX "$dir"
  touch "$dir/.done"
fi

for n in "${nodes[@]}"; do
  [ -f "$dir/www/$n/whoami.txt" ] && continue
  mkdir -p "$dir/www/$n"
  cp -al "$dir/files/." "$dir/www/$n/"
  echo "$n" >"$dir/www/$n/whoami.txt"
  chmod a+r "$dir/www/$n/whoami.txt"
done
echo "$dir"

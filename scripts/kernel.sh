#!/usr/bin/env bash
# Build the lab's guest kernel from Debian's linux-source-6.12 with LLVM=1.
# The build lives outside the checkout, in $BTCP_CACHE (default
# /var/cache/btcp), keyed by a hash of every input: the source package
# version, the config fragments, this script and the toolchain versions.
# A second run with the same inputs is a no-op. Prints the build dir (KDIR)
# on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
variant=${KVARIANT:-lab}
cache=${BTCP_CACHE:-/var/cache/btcp}
export PATH="$HOME/.cargo/bin:$PATH"

frags=("$here/qemu/lab.config")
[ "$variant" = lab ] || frags+=("$here/qemu/$variant.config")
for f in "${frags[@]}"; do [ -f "$f" ] || { echo "kernel: no fragment $f" >&2; exit 1; }; done

src_ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
# Bump when the way the kernel is configured or built below changes.
recipe=1
key=$( {
  echo "$src_ver recipe=$recipe"; cat "${frags[@]}"
  clang --version | head -1; ld.lld --version | head -1
  rustc --version; bindgen --version
} | sha256sum | cut -c1-16)

src="$cache/src-$src_ver"
out="$cache/kernel-$variant-$key"
# --dir: only say where the build is (or will be), build nothing.
if [ "${1:-}" = --dir ]; then echo "$out"; exit 0; fi
if [ -f "$out/.btcp-done" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
# One build at a time per cache: a second caller waits, then finds it done.
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "kernel: waiting for another build in $cache" >&2
  flock 9
fi
if [ -f "$out/.btcp-done" ]; then echo "$out"; exit 0; fi
if [ ! -f "$src/.btcp-unpacked" ]; then
  echo "kernel: unpacking linux-source $src_ver" >&2
  rm -rf "$src"; mkdir -p "$src"
  tar -xf /usr/src/linux-source-6.12.tar.xz -C "$src" --strip-components=1
  touch "$src/.btcp-unpacked"
fi

rm -rf "$out"; mkdir -p "$out"
mk() { make -C "$src" O="$out" ARCH=x86_64 LLVM=1 "$@"; }
echo "kernel: configuring $variant ($key)" >&2
mk -s tinyconfig >&2
# merge_config.sh: fragments override tinyconfig, olddefconfig fills the rest.
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null)
mk -s olddefconfig >&2
# Every =y/=n line of the fragments must have survived dependency resolution,
# or the lab would silently lack a feature.
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=n) sym=${line%=n}; grep -qx "# $sym is not set" "$out/.config" || grep -q "^$sym=n" "$out/.config" || { echo "kernel: $line did not stick" >&2; bad=1; } ;;
                  CONFIG_*) grep -qx "$line" "$out/.config" || { echo "kernel: $line did not stick" >&2; bad=1; } ;; esac
done < <(cat "${frags[@]}" | sed 's/[[:space:]]*#.*//' | grep -v '^$')
[ "$bad" = 0 ] || exit 1

mk -s rustavailable >&2
echo "kernel: building (logs: $out/build.log)" >&2
if ! mk -j"$(nproc)" all >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log" >&2; exit 1
fi
touch "$out/.btcp-done"
echo "$out"

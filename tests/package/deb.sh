#!/usr/bin/env bash
# The .deb that `cpack -G DEB` makes (docs/install.md): what it holds and depends on, and that
# the installed layout works without the source or build tree: `bloom`, unpacked from the package
# into an empty folder, runs a program that imports the standard library as `std/...` and runs
# its rules as JIT-compiled code from PREFIX/lib/bloom.
#
# With BLOOM_TEST_DEB_ROOT=DIR, a Debian 12 root (made once with
# `debootstrap --variant=minbase bookworm DIR`), it also installs the package there with apt,
# which fetches its dependencies, and runs the same program in a chroot: the test of a fresh
# machine. That needs root and the Debian mirror, so CI runs the first part only.
#
# usage: deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log" >&2; fail "cpack"; }
deb=$(ls "$tmp"/pkg/bloom_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "cpack made no bloom_*.deb"

info=$(dpkg-deb -I "$deb")
grep -q "^ Package: bloom$" <<<"$info" || fail "the package is not named bloom"
depends=$(grep "^ Depends:" <<<"$info")
for lib in libzmq5 libzstd1 libfmt9 libstdc++6; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/bloom ./usr/lib/bloom/libbloom_jit.so ./usr/share/bloom/stdlib/quorum.bloom \
         ./usr/share/bloom/stdlib/crdt/orset.bloom ./usr/share/doc/bloom/language.md ./usr/share/doc/bloom/README.md; do
  grep -qx "$f" <<<"$files" || fail "the package lacks $f"
done
echo "ok: $(basename "$deb"): $(wc -l <<<"$files") entries; $depends"

# A program outside both trees, importing the library as std/.
mkdir -p "$tmp/work"
cp "$src/tests/run/std_import/prog.bloom" "$tmp/work/prog.bloom"
expected=$(sort "$src/tests/run/std_import/expected/reached.csv")
run_program() {  # $1: the bloom to run, $2: a prefix command (chroot ...) or ""
  local out
  out=$(cd "$tmp/work" && env -u BLOOM_STDLIB BLOOM_JIT_CACHE=off $2 "$1" run prog.bloom --param strict.threshold=3 \
        --engine jit --jit-threshold 0 --jit-stats -D out 2>"$tmp/work/stderr") || { cat "$tmp/work/stderr" >&2; fail "$1 run"; }
  [ "$(sort "$tmp/work/out/reached.csv")" = "$expected" ] || fail "$1 run: wrong reached.csv: $(cat "$tmp/work/out/reached.csv")"
  grep -Eq "jit: [1-9][0-9]* segments? compiled" "$tmp/work/stderr" || fail "$1 run compiled nothing: $(cat "$tmp/work/stderr")"
  rm -rf "$tmp/work/out"
}

dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/bin/bloom" --version >/dev/null || fail "bloom --version"
run_program "$tmp/root/usr/bin/bloom" ""
echo "ok: unpacked bloom runs a std/ import with the JIT module from usr/lib/bloom"
# bloom build with the archives and link manifest of usr/lib/bloom; the binary runs elsewhere.
(cd "$tmp/work" && env -u BLOOM_STDLIB "$tmp/root/usr/bin/bloom" build prog.bloom -o "$tmp/prog" -q) || fail "unpacked bloom build"
mkdir -p "$tmp/elsewhere"
(cd "$tmp/elsewhere" && "$tmp/prog" --param strict.threshold=3 -D out 2>"$tmp/prog.err") || fail "the built binary: $(cat "$tmp/prog.err")"
[ "$(sort "$tmp/elsewhere/out/reached.csv")" = "$expected" ] || fail "the built binary: wrong reached.csv"
grep -q "^ Recommends:.*g++" <<<"$info" || fail "the package does not recommend g++ for bloom build"
echo "ok: unpacked bloom builds a binary from usr/lib/bloom that runs elsewhere"

if [ -n "${BLOOM_TEST_DEB_ROOT:-}" ]; then
  root=$BLOOM_TEST_DEB_ROOT
  [ -x "$root/usr/bin/apt-get" ] || fail "BLOOM_TEST_DEB_ROOT=$root is not a Debian root"
  cp "$deb" "$root/tmp/bloom.deb"
  mount --bind /proc "$root/proc"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  trap 'umount "$root/proc" || true; rm -rf "$tmp"' EXIT
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/bloom.deb' \
    >"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; fail "apt-get install in $root"; }
  rm -rf "$root/tmp/work" && cp -r "$tmp/work" "$root/tmp/work"
  out=$(chroot "$root" sh -c 'cd /tmp/work && BLOOM_JIT_CACHE=off bloom run prog.bloom --param strict.threshold=3 --engine jit --jit-threshold 0 --jit-stats -D out 2>&1 && sort out/reached.csv') \
    || fail "bloom run in $root: $out"
  grep -Eq "jit: [1-9][0-9]* segments? compiled" <<<"$out" || fail "bloom in $root compiled nothing: $out"
  [ "$(grep -v '^jit:' <<<"$out" | grep -v '^bloom:')" = "$expected" ] || fail "bloom in $root: wrong output: $out"
  chroot "$root" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq bloom' >/dev/null 2>&1 || fail "apt-get remove bloom"
  echo "ok: installed with apt in $root, ran, removed"
fi

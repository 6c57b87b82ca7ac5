#!/usr/bin/env bash
# The JIT module (libbloom_jit.so, loaded next to the bloom executable: runtime/jit/plugin.h):
# `bloom plan --format llvm` works with it, and without it fails with exit 2 and a message
# naming the module, while every other command runs as before.
# Usage: jit_plugin.sh BLOOM_BINARY
set -u
bloom=${1:?usage: jit_plugin.sh BLOOM_BINARY}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
cat >"$tmp/p.bloom" <<'BLOOM'
table e(a: int, b: int);
output q(a: int, s: int);
e(1, 2);
q(a, a * b + 1) <= e(a, b), a > 0;
BLOOM
out=$("$bloom" plan --format llvm "$tmp/p.bloom" 2>&1) || { echo "FAIL: plan --format llvm with the module: $out"; fail=1; }
grep -q 'define i32 @r0.full.head2' <<<"$out" || { echo "FAIL: no function for the head column in:"; echo "$out" | head -20; fail=1; }
# A copy of the executable in a folder without the module.
cp "$bloom" "$tmp/bloom"
out=$("$tmp/bloom" plan --format llvm "$tmp/p.bloom" 2>&1); code=$?
[ $code -eq 2 ] || { echo "FAIL: without the module: exit $code, expected 2"; fail=1; }
grep -q "cannot load the JIT module .*libbloom_jit.so" <<<"$out" || { echo "FAIL: without the module, the message does not name it: $out"; fail=1; }
"$tmp/bloom" plan "$tmp/p.bloom" >/dev/null 2>&1 || { echo "FAIL: without the module, plain bloom plan fails"; fail=1; }
[ $fail -eq 0 ] && echo "PASS jit_plugin"
exit $fail

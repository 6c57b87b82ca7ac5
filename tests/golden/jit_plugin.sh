#!/usr/bin/env bash
# The JIT module (libbloom_jit.so, loaded next to the bloom executable: runtime/jit/plugin.h):
# `bloom plan --format llvm` (the segments it compiles) works with it, and without it fails with exit 2 and a message
# naming the module, while every other command runs as before. `bloom run --engine`: the JIT
# compiles segments (--jit-stats says how many) with the same outputs as the interpreter; below
# the threshold LLVM is not even loaded; without the module the default engine falls back to the
# interpreter with a note, an explicit `--engine jit` is a usage error; bad choices are errors.
# Usage: jit_plugin.sh BLOOM_BINARY
set -u
bloom=${1:?usage: jit_plugin.sh BLOOM_BINARY}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
export BLOOM_JIT_CACHE=off  # compiled in each run, except where the cache is tested
cat >"$tmp/p.bloom" <<'BLOOM'
table e(a: int, b: int);
output q(a: int, s: int);
e(1, 2);
q(a, a * b + 1) <= e(a, b), a > 0;
BLOOM
out=$("$bloom" plan --format llvm "$tmp/p.bloom" 2>&1) || { echo "FAIL: plan --format llvm with the module: $out"; fail=1; }
# The rule's segment: its steps and head row named in a comment, then its function.
grep -q '^; @seg0: rule 0 at .*p.bloom:4:1: steps 1-2 and the head$' <<<"$out" || { echo "FAIL: the segment is not described in:"; echo "$out" | head -20; fail=1; }
grep -q '^;   head row (r0, add(mul(r0, r1), 1))$' <<<"$out" || { echo "FAIL: the head row is not described in:"; echo "$out" | head -20; fail=1; }
grep -q 'define i32 @seg0(ptr noalias %frames, i64 %n, ptr noalias %out, ptr noalias %m, ptr %ctx)' <<<"$out" || { echo "FAIL: no function for the segment in:"; echo "$out" | head -20; fail=1; }
# A string function calls the engine (a call-out named by its operation), a string constant is
# read from the context's table.
cat >"$tmp/s.bloom" <<'BLOOM'
table w(s: string, n: int);
output o(t: string);
w("a", 1);
o(t) <= w(s, n), t = s + "!", n > 0;
BLOOM
out=$("$bloom" plan --format llvm "$tmp/s.bloom" 2>&1) || { echo "FAIL: plan --format llvm of strings: $out"; fail=1; }
grep -q '%call.concat = call i32' <<<"$out" || { echo "FAIL: no call-out for + of strings in:"; echo "$out" | head -40; fail=1; }
grep -q '%str = load i64' <<<"$out" || { echo "FAIL: the string constant is not read from the context in:"; echo "$out" | head -40; fail=1; }
# A copy of the executable in a folder without the module.
cp "$bloom" "$tmp/bloom"
out=$("$tmp/bloom" plan --format llvm "$tmp/p.bloom" 2>&1); code=$?
[ $code -eq 2 ] || { echo "FAIL: without the module: exit $code, expected 2"; fail=1; }
grep -q "cannot load the JIT module .*libbloom_jit.so" <<<"$out" || { echo "FAIL: without the module, the message does not name it: $out"; fail=1; }
"$tmp/bloom" plan "$tmp/p.bloom" >/dev/null 2>&1 || { echo "FAIL: without the module, plain bloom plan fails"; fail=1; }

expect() {  # expect WHAT WANT_EXIT PATTERN -- COMMAND...: its exit status and stderr
  local what=$1 want=$2 pattern=$3; shift 4
  local err code
  err=$("$@" 2>&1 >"$tmp/out"); code=$?
  [ "$code" -eq "$want" ] || { echo "FAIL: $what: exit $code, expected $want: $err"; fail=1; }
  grep -qE -- "$pattern" <<<"$err" || { echo "FAIL: $what: stderr lacks /$pattern/: $err"; fail=1; }
}
want='q(1, 3)'
expect "jit, threshold 0" 0 'jit: 1 segment compiled' -- "$bloom" run "$tmp/p.bloom" --engine jit --jit-threshold 0 --jit-stats
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: jit output: $(cat "$tmp/out")"; fail=1; }
expect "jit, default threshold" 0 'nothing compiled .*LLVM was not loaded' -- "$bloom" run "$tmp/p.bloom" --jit-stats
expect "BLOOM_JIT_THRESHOLD=0" 0 'jit: 1 segment compiled' -- env BLOOM_JIT_THRESHOLD=0 "$bloom" run "$tmp/p.bloom" --jit-stats
expect "interp" 0 'jit: off' -- "$bloom" run "$tmp/p.bloom" --engine interp --jit-stats
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: interp output: $(cat "$tmp/out")"; fail=1; }
expect "BLOOM_ENGINE=interp" 0 'jit: off' -- env BLOOM_ENGINE=interp "$bloom" run "$tmp/p.bloom" --jit-stats
expect "--engine bogus" 2 'engine: bogus not in' -- "$bloom" run "$tmp/p.bloom" --engine bogus
expect "BLOOM_ENGINE=bogus" 2 'BLOOM_ENGINE=bogus: expected jit or interp' -- env BLOOM_ENGINE=bogus "$bloom" run "$tmp/p.bloom"
expect "--jit-threshold -1" 2 'jit-threshold -1: expected a number of frames' -- "$bloom" run "$tmp/p.bloom" --jit-threshold -1
expect "BLOOM_JIT_THRESHOLD=x" 2 'BLOOM_JIT_THRESHOLD=x: expected a number of frames' -- env BLOOM_JIT_THRESHOLD=x "$bloom" run "$tmp/p.bloom"
expect "no module, default engine" 0 'note: no JIT module at .*libbloom_jit.so; the rules are interpreted' -- "$tmp/bloom" run "$tmp/p.bloom" --jit-threshold 0
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: fallback output: $(cat "$tmp/out")"; fail=1; }
expect "no module, --engine jit" 2 'error: --engine jit: no JIT module at' -- "$tmp/bloom" run "$tmp/p.bloom" --engine jit
# The code cache on disk: the second run loads what the first compiled; a damaged object is
# compiled again; off writes nothing.
export BLOOM_JIT_CACHE=$tmp/cache
expect "cache, first run" 0 'jit: 1 segment compiled .* 0 loaded from the code cache' -- "$bloom" run "$tmp/p.bloom" --jit-threshold 0 --jit-stats
expect "cache, second run" 0 'jit: 0 segments compiled .* 1 loaded from the code cache' -- "$bloom" run "$tmp/p.bloom" --jit-threshold 0 --jit-stats
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: output from the cache: $(cat "$tmp/out")"; fail=1; }
for o in "$tmp"/cache/*/*.o; do printf 'garbage' >"$o"; done
expect "cache, damaged" 0 'jit: 1 segment compiled .* 0 loaded from the code cache' -- "$bloom" run "$tmp/p.bloom" --jit-threshold 0 --jit-stats
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: output after a damaged cache: $(cat "$tmp/out")"; fail=1; }
# The size limit: a bad one is refused; under a limit smaller than one object, a run stores
# and then removes what it compiled, and runs the same.
expect "BLOOM_JIT_CACHE_MAX=lots" 2 'BLOOM_JIT_CACHE_MAX=lots: expected a size in bytes' -- env BLOOM_JIT_CACHE_MAX=lots "$bloom" run "$tmp/p.bloom"
expect "BLOOM_JIT_CACHE_MAX=99999999999G" 2 'BLOOM_JIT_CACHE_MAX=99999999999G: expected a size' -- env BLOOM_JIT_CACHE_MAX=99999999999G "$bloom" run "$tmp/p.bloom"
mkdir "$tmp/small-cache" && touch "$tmp/small-cache/keep.txt"
expect "cache limit 100 bytes" 0 'jit: 1 segment compiled' -- env BLOOM_JIT_CACHE="$tmp/small-cache" BLOOM_JIT_CACHE_MAX=100 "$bloom" run "$tmp/p.bloom" --jit-threshold 0 --jit-stats
[ "$(cat "$tmp/out")" = "$want" ] || { echo "FAIL: output under a 100-byte cache limit: $(cat "$tmp/out")"; fail=1; }
left=$(find "$tmp/small-cache" -type f -name '*.o' | wc -l)
[ "$left" -eq 0 ] || { echo "FAIL: $left objects left under a 100-byte cache limit"; fail=1; }
[ -e "$tmp/small-cache/keep.txt" ] || { echo "FAIL: the cache limit removed a file that is not the cache's"; fail=1; }
export BLOOM_JIT_CACHE=off
rm -rf "$tmp/cache"
expect "cache off" 0 'jit: 1 segment compiled' -- "$bloom" run "$tmp/p.bloom" --jit-threshold 0 --jit-stats
[ ! -e "$tmp/cache" ] || { echo "FAIL: BLOOM_JIT_CACHE=off wrote $tmp/cache"; fail=1; }
# A run-time error inside compiled code is the interpreter's error, word for word.
printf 'table t(x: int);\noutput q(x: int);\nt(0);\nq(10 / x) <= t(x), x < 5;\n' >"$tmp/div.bloom"
expect "division by zero, jit" 3 'div.bloom:4:1: in rule .*: division by zero' -- "$bloom" run "$tmp/div.bloom" --engine jit --jit-threshold 0
[ $fail -eq 0 ] && echo "PASS jit_plugin"
exit $fail

#!/usr/bin/env bash
# `bloom build FILE -o BINARY` (docs/jit.md, "bloom build"): the built binary gives the same
# outputs (-D files, printed tuples, --sizes), errors and exit statuses as `bloom run` of the
# same program with the same -F/--param options; it runs from another folder after the .bloom
# files are gone (the sources are inside it); build errors are clear and leave BINARY as it was:
# a program that does not compile (exit 1 with the diagnostics), an -o folder that does not exist,
# no C++ compiler, a link that fails (exit 3 with the linker's messages). With CMAKE BUILD_DIR,
# also `cmake --install` into a temporary prefix and `bloom build` with the installed bloom.
# Usage: aot_build.sh BLOOM_BINARY TC_BLOOM [CMAKE BUILD_DIR]
set -u
bloom=${1:?usage: aot_build.sh BLOOM_BINARY TC_BLOOM [CMAKE BUILD_DIR]}
bloom=$(cd "$(dirname "$bloom")" && pwd)/$(basename "$bloom")
tc=${2:?usage: aot_build.sh BLOOM_BINARY TC_BLOOM [CMAKE BUILD_DIR]}
tc=$(cd "$(dirname "$tc")" && pwd)/$(basename "$tc")
cmake=${3:-} build_dir=${4:-}
[ -n "$build_dir" ] && build_dir=$(cd "$build_dir" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
export BLOOM_JIT_CACHE=off
say() { echo "FAIL: $*"; fail=1; }

# same WHAT BINARY_ARGS -- BLOOM_RUN_ARGS: the binary and `bloom run` print the same stdout and
# stderr and exit alike; -D folders (the binary's OUT/b, bloom run's OUT/r) must hold the same files.
same() {
  local what=$1 bin=$2; shift 2
  local -a a=() b=()
  while [ "$1" != -- ]; do a+=("$1"); shift; done; shift
  b=("$@")
  rm -rf "$tmp/b" "$tmp/r"
  "$bin" "${a[@]}" >"$tmp/b.out" 2>"$tmp/b.err"; local cb=$?
  "$bloom" run "${b[@]}" >"$tmp/r.out" 2>"$tmp/r.err"; local cr=$?
  [ $cb -eq $cr ] || say "$what: the binary exits $cb, bloom run $cr: $(cat "$tmp/b.err")"
  cmp -s "$tmp/b.out" "$tmp/r.out" || { say "$what: stdout differs"; diff "$tmp/b.out" "$tmp/r.out" | head -5; }
  cmp -s "$tmp/b.err" "$tmp/r.err" || { say "$what: stderr differs"; diff "$tmp/b.err" "$tmp/r.err" | head -5; }
  if [ -d "$tmp/r" ] || [ -d "$tmp/b" ]; then
    diff -r "$tmp/b" "$tmp/r" >/dev/null || { say "$what: -D files differ"; diff -r "$tmp/b" "$tmp/r" | head -5; }
  fi
  return 0
}

# 1. tc over a chain of 300 edges.
mkdir -p "$tmp/tcf"
seq 1 300 | awk '{print $1 "\t" $1 + 1}' >"$tmp/tcf/edge.facts"
"$bloom" build "$tc" -o "$tmp/tc" 2>"$tmp/err" || say "build tc: exit $?: $(cat "$tmp/err")"
grep -qE "built .*: [0-9]+ segments? compiled ahead of time; front end [0-9]+ ms, LLVM [0-9]+ ms, link [0-9]+ ms" "$tmp/err" || say "build tc: no summary line: $(cat "$tmp/err")"
[ -x "$tmp/tc" ] || say "build tc: no executable"
same "tc -D" "$tmp/tc" -F "$tmp/tcf" -D "$tmp/b" -- "$tc" -F "$tmp/tcf" -D "$tmp/r"
[ "$(wc -l <"$tmp/b/path.csv")" -eq 45150 ] || say "tc: path.csv has $(wc -l <"$tmp/b/path.csv") rows, expected 45150"
same "tc --sizes" "$tmp/tc" -F "$tmp/tcf" --sizes -- "$tc" -F "$tmp/tcf" --sizes
same "tc printed" "$tmp/tc" -F "$tmp/tcf" -q -- "$tc" -F "$tmp/tcf" -q
same "tc missing -F" "$tmp/tc" -F "$tmp/nowhere" -- "$tc" -F "$tmp/nowhere"
[ -s "$tmp/b.err" ] && grep -q "nowhere" "$tmp/b.err" || say "tc missing -F: no error naming the folder: $(cat "$tmp/b.err")"
same "tc bad option" "$tmp/tc" --no-such-option -- "$tc" --no-such-option
"$tmp/tc" --help >"$tmp/help" 2>&1 || say "binary --help: exit $?"
grep -q -- "--param" "$tmp/help" && grep -q -- "-F,--facts" "$tmp/help" || say "binary --help lacks the run options: $(cat "$tmp/help")"

# 2. Imports, params, negation, aggregates: built with --param limit=5, run with more params,
# then from another folder with the sources gone.
cp -r "$here/../aot" "$tmp/src"
(cd "$tmp/src" && "$bloom" build main.bloom -o ../prog --param limit=5 -q) 2>"$tmp/err" || say "build main: exit $?: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && say "build -q printed: $(cat "$tmp/err")"
cd "$tmp/src"
same "main" ../prog -F facts -D "$tmp/b" -- main.bloom --param limit=5 -F facts -D "$tmp/r"
cp -r "$tmp/r" "$tmp/expected"
[ "$(cat "$tmp/r/big.csv")" = "$(printf '8\t2.5\n20\t5.5')" ] || say "main: big.csv is $(cat "$tmp/r/big.csv")"
same "main, printed" ../prog -F facts -- main.bloom --param limit=5 -F facts
same "main, --param at run time" ../prog -F facts --param s.factor=3 --param limit=2 -- main.bloom --param limit=5 -F facts --param s.factor=3 --param limit=2
same "main, unknown --param" ../prog --param nope=1 -- main.bloom --param limit=5 --param nope=1
same "main, bad --param value" ../prog --param limit=x -- main.bloom --param limit=5 --param limit=x
mv "$tmp/src" "$tmp/gone"
mkdir -p "$tmp/elsewhere" && cd "$tmp/elsewhere"
../prog -F ../gone/facts -D out 2>"$tmp/err" || say "main from elsewhere: exit $?: $(cat "$tmp/err")"
diff -r out "$tmp/expected" >/dev/null || say "main from elsewhere: outputs differ"
cd "$tmp"

# A program importing the standard library as std/: the modules are embedded as well, and the
# binary needs no standard library where it runs.
mkdir -p "$tmp/std" && cp "$here/../run/std_import/prog.bloom" "$tmp/std/"
cd "$tmp/std"
"$bloom" build prog.bloom -o ../stdprog -q 2>"$tmp/err" || say "build std import: exit $?: $(cat "$tmp/err")"
same "std import" ../stdprog --param strict.threshold=3 -D "$tmp/b" -- prog.bloom --param strict.threshold=3 -D "$tmp/r"
cd "$tmp/elsewhere"
BLOOM_STDLIB=/nonexistent ../stdprog --param strict.threshold=3 -D stdout 2>"$tmp/err" || say "std import from elsewhere: exit $?: $(cat "$tmp/err")"
[ "$(sort stdout/reached.csv)" = "$(sort "$here/../run/std_import/expected/reached.csv")" ] || say "std import from elsewhere: reached.csv is $(cat stdout/reached.csv)"
cd "$tmp"

# 3. A run-time error (division by zero) and a key violation: the same message and exit 3.
cat >"$tmp/div.bloom" <<'BLOOM'
input  n(x: int);
output q(x: int, y: int);
q(x, 100 / (x - 3)) <= n(x), x > 0;
BLOOM
mkdir -p "$tmp/divf" && seq 1 5 >"$tmp/divf/n.facts"
"$bloom" build "$tmp/div.bloom" -o "$tmp/div" -q || say "build div: exit $?"
same "division by zero" "$tmp/div" -F "$tmp/divf" -- "$tmp/div.bloom" -F "$tmp/divf"
[ "$(cat "$tmp/r.err")" != "" ] && grep -q "division by zero" "$tmp/b.err" || say "division by zero: $(cat "$tmp/b.err")"

# 4. Build errors.
echo old >"$tmp/keep"
printf 'output q(x: int);\nq(y) <= q(x);\n' >"$tmp/bad.bloom"
"$bloom" build "$tmp/bad.bloom" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 1 ] || say "bad program: exit $code, expected 1"
grep -q "bad.bloom:2:3: error" "$tmp/err" || say "bad program: no diagnostic with file:line:col: $(cat "$tmp/err")"
"$bloom" build "$tmp/nope.bloom" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "missing program: exit $code, expected 2"
"$bloom" build "$tmp/d.toml" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "a deployment: exit $code, expected 2"
grep -q "d.toml: bloom build makes a binary of one program" "$tmp/err" || say "a deployment: $(cat "$tmp/err")"
"$bloom" build "$tc" -o "$tmp/no/such/dir/tc" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "bad -o: exit $code, expected 2"
grep -q "no/such/dir.*not a directory" "$tmp/err" || say "bad -o: $(cat "$tmp/err")"
"$bloom" build "$tc" -o "$tmp" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "-o a directory: exit $code, expected 2"
CXX=/no/such/c++ "$bloom" build "$tc" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "no compiler: exit $code, expected 2"
grep -q "CXX=/no/such/c++: no such program" "$tmp/err" || say "no compiler: $(cat "$tmp/err")"
CXX="c++ -Wl,--no-such-linker-flag" "$bloom" build "$tc" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 3 ] || say "link failure: exit $code, expected 3"
grep -q "linking .*keep failed" "$tmp/err" && grep -q "no-such-linker-flag" "$tmp/err" || say "link failure: no linker message: $(cat "$tmp/err")"
[ "$(cat "$tmp/keep")" = old ] || say "a failed build replaced its -o file"
ls -a "$tmp" | grep -q "bloom-build" && say "a failed build left temporary files: $(ls -a "$tmp")"

# A bloom without the link manifest next to it (copied away from its build) says what is missing.
mkdir -p "$tmp/lone"
cp "$bloom" "$(dirname "$bloom")/libbloom_jit.so" "$tmp/lone/"
"$tmp/lone/bloom" build "$tc" -o "$tmp/keep" 2>"$tmp/err"; code=$?
[ $code -eq 2 ] || say "no manifest: exit $code, expected 2"
grep -q "cannot find what to link: cannot read .*lone/bloom-link.txt" "$tmp/err" || say "no manifest: $(cat "$tmp/err")"
rm -rf "$tmp/lone"

# 5. The installed bloom builds too (its archives and manifest found relative to it).
if [ -n "$cmake" ] && [ -n "$build_dir" ]; then
  "$cmake" --install "$build_dir" --prefix "$tmp/prefix" >/dev/null 2>"$tmp/err" || say "cmake --install: $(cat "$tmp/err")"
  "$tmp/prefix/bin/bloom" build "$tc" -o "$tmp/tc2" -q 2>"$tmp/err" || say "installed bloom build: exit $?: $(cat "$tmp/err")"
  same "installed build" "$tmp/tc2" -F "$tmp/tcf" --sizes -- "$tc" -F "$tmp/tcf" --sizes
fi

[ $fail -eq 0 ] && echo "aot_build: ok"
exit $fail

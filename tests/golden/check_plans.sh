#!/usr/bin/env bash
# `bloom plan` in every format for every program given (files or folders of .bloom files):
# text, JSON and LLVM must succeed (JSON must parse), and the DOT must render with Graphviz. Programs
# that do not compile are skipped.
# Usage: check_plans.sh BLOOM_BINARY PATH...
set -u
bloom=${1:?usage: check_plans.sh BLOOM_BINARY PATH...}
shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
have_dot=1; command -v dot >/dev/null || { have_dot=0; echo "note: Graphviz dot not found; DOT output is not rendered"; }
# BLOOM_TEST_QUICK (tools/test.sh sets it for the sanitizer build): JSON is produced and parsed
# for every program and DOT for every third, but the text and LLVM formats are skipped and
# Graphviz renders nothing (it is not the code under test there).
quick=${BLOOM_TEST_QUICK:+1}
if [ -n "$quick" ]; then have_dot=0; fi
pass=0 fail=0 skipped=0 n=0
mkdir "$tmp/json.d"
while IFS= read -r f; do
  # Parsed all at once below: one Python start instead of one per program.
  n=$((n+1))
  ok=1
  if ! "$bloom" plan --format json "$f" >"$tmp/json.d/$n.json" 2>"$tmp/err"; then
    # Programs that are meant not to compile (conformance error cases) have no plan: `check`
    # runs only then, to tell them from a plan that fails (one bloom run less per program).
    if ! "$bloom" check -q "$f" >/dev/null 2>&1; then skipped=$((skipped+1)); continue; fi
    ok=0; echo "FAIL $f: json: $(head -c 300 "$tmp/err")"
  else
    printf '%s\t%s\n' "$tmp/json.d/$n.json" "$f" >>"$tmp/json.list"
  fi
  if [ -z "$quick" ]; then
    "$bloom" plan "$f" >"$tmp/text" 2>"$tmp/err" || { ok=0; echo "FAIL $f: text: $(head -c 300 "$tmp/err")"; }
    # The LLVM IR the JIT makes of the rules' expressions (LLVM verifies the module).
    if ! "$bloom" plan --format llvm "$f" >"$tmp/ll" 2>"$tmp/err" || ! head -1 "$tmp/ll" | grep -q '^; bloom plan --format llvm'; then
      ok=0; echo "FAIL $f: llvm: $(head -c 300 "$tmp/err")"
    fi
  fi
  if [ -n "$quick" ] && [ $((n % 3)) -ne 0 ]; then
    :
  elif ! "$bloom" plan --format dot "$f" >"$tmp/dot" 2>"$tmp/err"; then
    ok=0; echo "FAIL $f: dot: $(head -c 300 "$tmp/err")"
  elif [ $have_dot -eq 1 ] && ! dot -Tsvg "$tmp/dot" -o "$tmp/svg" 2>"$tmp/err"; then
    # Graphviz 2.43's default ranking fails on some valid graphs ("trouble in init_rank", e.g.
    # examples/crdt_cart/device.bloom); its other ranking (newrank) lays them out.
    if ! grep -q "trouble in init_rank" "$tmp/err" || ! dot -Gnewrank=true -Tsvg "$tmp/dot" -o "$tmp/svg" 2>"$tmp/err"; then
      ok=0; echo "FAIL $f: dot -Tsvg: $(head -c 300 "$tmp/err")"
    fi
  fi
  if [ $ok -eq 1 ]; then pass=$((pass+1)); else fail=$((fail+1)); fi
done < <(for p in "$@"; do if [ -d "$p" ]; then find "$p" -name '*.bloom' | sort; else echo "$p"; fi; done)
# Every JSON plan must parse; a program whose JSON does not counts as failed.
if [ -f "$tmp/json.list" ]; then
  bad=$(python3 - "$tmp/json.list" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    path, src = line.rstrip("\n").split("\t", 1)
    try:
        json.load(open(path))
    except ValueError as e:
        print(src, e)
PY
) || { echo "FAIL: could not check the JSON plans"; fail=$((fail+1)); }
  if [ -n "$bad" ]; then
    while IFS= read -r l; do echo "FAIL $l: json does not parse"; done <<<"$bad"
    k=$(printf '%s\n' "$bad" | wc -l); fail=$((fail+k)); pass=$((pass-k))
  fi
fi
echo "$pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ] && [ $pass -gt 0 ]

#!/usr/bin/env bash
# `bloom plan` in every format for every program given (files or folders of .bloom files):
# text and JSON must succeed (JSON must parse), and the DOT must render with Graphviz. Programs
# that do not compile are skipped.
# Usage: check_plans.sh BLOOM_BINARY PATH...
set -u
bloom=${1:?usage: check_plans.sh BLOOM_BINARY PATH...}
shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
have_dot=1; command -v dot >/dev/null || { have_dot=0; echo "note: Graphviz dot not found; DOT output is not rendered"; }
pass=0 fail=0 skipped=0
while IFS= read -r f; do
  # Programs that are meant not to compile (conformance error cases) have no plan.
  if ! "$bloom" check -q "$f" >/dev/null 2>&1; then skipped=$((skipped+1)); continue; fi
  ok=1
  "$bloom" plan "$f" >"$tmp/text" 2>"$tmp/err" || { ok=0; echo "FAIL $f: text: $(head -c 300 "$tmp/err")"; }
  if ! "$bloom" plan --format json "$f" >"$tmp/json" 2>"$tmp/err" || ! python3 -m json.tool "$tmp/json" >/dev/null 2>&1; then
    ok=0; echo "FAIL $f: json"
  fi
  if ! "$bloom" plan --format dot "$f" >"$tmp/dot" 2>"$tmp/err"; then
    ok=0; echo "FAIL $f: dot: $(head -c 300 "$tmp/err")"
  elif [ $have_dot -eq 1 ] && ! dot -Tsvg "$tmp/dot" -o "$tmp/svg" 2>"$tmp/err"; then
    ok=0; echo "FAIL $f: dot -Tsvg: $(head -c 300 "$tmp/err")"
  fi
  if [ $ok -eq 1 ]; then pass=$((pass+1)); else fail=$((fail+1)); fi
done < <(for p in "$@"; do if [ -d "$p" ]; then find "$p" -name '*.bloom' | sort; else echo "$p"; fi; done)
echo "$pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ] && [ $pass -gt 0 ]

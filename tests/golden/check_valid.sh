#!/usr/bin/env bash
# Checks every valid .bloom program under the given folders: `bloom check` must exit 0 and print
# no diagnostic at all. Folders of conformance cases with an `error` file are skipped (invalid).
# Usage: check_valid.sh BLOOM DIR...
set -u
bloom=${1:?usage: check_valid.sh BLOOM DIR...}
shift
pass=0 fail=0
while IFS= read -r f; do
  [ -f "$(dirname "$f")/error" ] && continue
  out=$("$bloom" check -q --color never "$f" 2>&1); code=$?
  if [ $code -eq 0 ] && [ -z "$out" ]; then pass=$((pass+1)); else
    fail=$((fail+1)); echo "FAIL $f (exit $code):"; echo "$out" | head -20
  fi
done < <(find "$@" -name '*.bloom' | sort)
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]

#!/usr/bin/env bash
# Golden tests: every CASE.bloom in this folder is checked with `bloom check`, and its exit status
# and diagnostics (stderr) must equal CASE.expected exactly.
# Usage: run_golden.sh BLOOM [--update] [CASE.bloom ...]
#   --update rewrites the .expected files from the current output (review the diff!).
set -u
bloom=${1:?usage: run_golden.sh BLOOM [--update] [CASE.bloom ...]}
shift
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ $# -eq 0 ]; then set -- *.bloom; fi
pass=0 fail=0
for case in "$@"; do
  name=${case%.bloom}
  actual=$( { timeout 30 "$bloom" check --color never "$case" 2>&1 >/dev/null; echo "exit: $?"; } )
  if [ $update -eq 1 ]; then
    printf '%s\n' "$actual" > "$name.expected"
    pass=$((pass+1))
    continue
  fi
  if [ ! -f "$name.expected" ]; then
    echo "FAIL $name: no $name.expected (run with --update and review it)"; fail=$((fail+1)); continue
  fi
  if diff -u "$name.expected" <(printf '%s\n' "$actual") > /tmp/golden.$$.diff; then
    pass=$((pass+1))
  else
    echo "FAIL $name:"; cat /tmp/golden.$$.diff; fail=$((fail+1))
  fi
done
rm -f /tmp/golden.$$.diff
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# Golden REPL sessions: every CASE.script in this folder is fed to `bloom repl` on stdin (with the
# arguments in CASE.args, if there is one, e.g. a program to load), from this folder; its stdout,
# stderr and exit status must equal CASE.expected exactly.
# Usage: run_repl_scripts.sh BLOOM [--update] [CASE.script ...]
#   --update rewrites the .expected files from the current output (review the diff!).
set -u
bloom=${1:?usage: run_repl_scripts.sh BLOOM [--update] [CASE.script ...]}
shift
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ $# -eq 0 ]; then set -- *.script; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for case in "$@"; do
  name=${case%.script}
  args=()
  if [ -f "$name.args" ]; then read -r -a args < "$name.args"; fi
  # HOME and XDG_STATE_HOME in a scratch folder: a scripted session must not touch the history.
  HOME=$tmp XDG_STATE_HOME=$tmp/state timeout 30 "$bloom" repl --color never "${args[@]}" < "$case" > "$tmp/out" 2> "$tmp/err"
  status=$?
  actual=$( echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; echo "--- exit: $status" )
  if [ -e "$tmp/state" ]; then actual+=$'\n'"a scripted session wrote $tmp/state"; fi
  if [ $update -eq 1 ]; then
    printf '%s\n' "$actual" > "$name.expected"
    pass=$((pass+1))
    continue
  fi
  if [ ! -f "$name.expected" ]; then
    echo "FAIL $name: no $name.expected (run with --update and review it)"; fail=$((fail+1)); continue
  fi
  if diff -u "$name.expected" <(printf '%s\n' "$actual") > "$tmp/diff"; then
    pass=$((pass+1))
  else
    echo "FAIL $name:"; cat "$tmp/diff"; fail=$((fail+1))
  fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

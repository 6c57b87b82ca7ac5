#!/usr/bin/env bash
# Runs every single-node example (a folder of examples/ with a facts/ folder) and compares what
# `bloom run PROG.bloom -F facts -D OUT` writes with the example's expected output, exactly
# (the runtime writes each NAME.csv sorted, so no sorting happens here).
#
# Expected output lives in examples/NAME/expected/: REL.csv per output relation when the folder
# has one program, expected/PROG/REL.csv per program when it has several (shopping_cart). Every
# expected file must match, the run must exit 0, and every NAME.csv the run writes must have an
# expected file.
#
# Usage: run_examples.sh BLOOM [--update] [EXAMPLE ...]
#   EXAMPLE is a folder name under examples/ (default: all with a facts/ folder).
#   --update rewrites the expected files from the current output (review the diff!).
set -u
bloom=${1:?usage: run_examples.sh BLOOM [--update] [EXAMPLE ...]}
shift
case $bloom in /*) ;; *) bloom=$PWD/$bloom ;; esac
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
examples=$(cd "$(dirname "$0")/../../examples" && pwd)
if [ $# -eq 0 ]; then
  set --
  for d in "$examples"/*/; do [ -d "$d/facts" ] && set -- "$@" "$(basename "$d")"; done
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bloom-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
for ex in "$@"; do
  dir=$examples/$ex
  if [ ! -d "$dir/facts" ]; then
    echo "FAIL $ex: no folder $dir/facts"; fail=$((fail+1)); continue
  fi
  progs=("$dir"/*.bloom)
  for prog in "${progs[@]}"; do
    name=$(basename "$prog" .bloom)
    label=$ex/$name.bloom
    if [ ${#progs[@]} -gt 1 ]; then expected=$dir/expected/$name; else expected=$dir/expected; fi
    out=$work/$ex/$name
    mkdir -p "$out"
    err=$( cd "$dir" && timeout 60 "$bloom" run --quiet --color never "$name.bloom" -F facts -D "$out" 2>&1 >/dev/null )
    code=$?
    if [ $update -eq 1 ]; then
      if [ $code -ne 0 ]; then echo "FAIL $label: exit $code, not updated"; echo "$err"; fail=$((fail+1)); continue; fi
      mkdir -p "$expected"
      rm -f "$expected"/*.csv
      cp "$out"/*.csv "$expected"/ 2>/dev/null
      echo "updated $label"; pass=$((pass+1)); continue
    fi
    problems=""
    if [ $code -ne 0 ]; then
      problems+="  exit $code (expected 0)"$'\n'
      [ -n "$err" ] && problems+=$(printf '%s\n' "$err" | sed 's/^/    /')$'\n'
    fi
    shopt -s nullglob
    wanted=("$expected"/*.csv)
    written=("$out"/*.csv)
    shopt -u nullglob
    if [ ${#wanted[@]} -eq 0 ]; then
      problems+="  no expected output in ${expected#$examples/} (run with --update and review it)"$'\n'
    fi
    for e in "${wanted[@]}"; do
      rel=$(basename "$e")
      if [ ! -f "$out/$rel" ]; then
        problems+="  $rel: expected, but the run wrote no such file"$'\n'
      elif ! d=$(diff -u --label "expected/${e#$dir/expected/}" --label "actual $rel" "$e" "$out/$rel"); then
        problems+="  $rel differs:"$'\n'"$(printf '%s\n' "$d" | sed 's/^/    /')"$'\n'
      fi
    done
    for w in "${written[@]}"; do
      rel=$(basename "$w")
      [ -f "$expected/$rel" ] || problems+="  $rel: written by the run, but there is no ${expected#$examples/}/$rel"$'\n'
    done
    if [ -z "$problems" ]; then
      pass=$((pass+1))
    else
      echo "FAIL $label:"; printf '%s' "$problems"; fail=$((fail+1))
    fi
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]

#!/usr/bin/env bash
# Runs every distributed example (a folder of examples/ with a deploy.toml) with
# `bloom run deploy.toml -D OUT --timeout 60`, once with a process per node over tcp and once
# with --in-process (threads over inproc://), and compares each OUT/NODE/NAME.csv with
# examples/NAME/expected/NODE/NAME.csv (both sorted first, so the check does not depend on the
# runtime's order). Every expected file must match, the run must exit 0, and every NAME.csv the
# run writes must have an expected file.
#
# The deployment files in the repository listen on fixed ports (7101, ...). So that parallel
# runs never clash, each example is copied to a temporary folder (with stdlib/ beside it, for
# the imports written as ../../stdlib/...) and every `tcp://127.0.0.1:PORT` endpoint of the
# copy is replaced by a port that was free a moment before (found by binding port 0).
#
# Usage: run_dist_examples.sh BLOOM [--update] [EXAMPLE ...]
#   EXAMPLE is a folder name under examples/ (default: all with a deploy.toml).
#   --update rewrites the expected files from the current output (review the diff!).
set -u
export LC_ALL=C
bloom=${1:?usage: run_dist_examples.sh BLOOM [--update] [EXAMPLE ...]}
shift
case $bloom in /*) ;; *) bloom=$PWD/$bloom ;; esac
update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
root=$(cd "$(dirname "$0")/../.." && pwd)
examples=$root/examples
if [ $# -eq 0 ]; then
  set --
  for d in "$examples"/*/; do [ -f "$d/deploy.toml" ] && set -- "$@" "$(basename "$d")"; done
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bloom-dist-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$root/stdlib" "$work/stdlib"
mkdir -p "$work/examples"

# Rewrites every tcp://127.0.0.1:PORT of FILE to a free port (one new port per distinct old one).
free_ports() {
  python3 - "$1" "$root/tools" <<'PY'
import re, sys
path = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from free_ports import free_ports
text = open(path).read()
olds = sorted(set(re.findall(r'tcp://127\.0\.0\.1:(\d+)', text)))
new = dict(zip(olds, map(str, free_ports(len(olds)))))
text = re.sub(r'tcp://127\.0\.0\.1:(\d+)', lambda m: 'tcp://127.0.0.1:' + new[m.group(1)], text)
open(path, 'w').write(text)
PY
}

pass=0 fail=0
for ex in "$@"; do
  src=$examples/$ex
  if [ ! -f "$src/deploy.toml" ]; then
    echo "FAIL $ex: no $src/deploy.toml"; fail=$((fail+1)); continue
  fi
  dir=$work/examples/$ex
  cp -R "$src" "$dir"
  rm -rf "$dir/expected"
  if ! free_ports "$dir/deploy.toml"; then
    echo "FAIL $ex: could not choose free ports"; fail=$((fail+1)); continue
  fi
  expected=$src/expected
  for mode in processes in-process; do
    label="$ex ($mode)"
    [ $update -eq 1 ] && [ $mode = in-process ] && continue   # expected/ comes from the process run
    out=$work/out/$ex-$mode
    extra=(); [ $mode = in-process ] && extra=(--in-process)
    err=$( cd "$dir" && timeout 120 "$bloom" run deploy.toml -D "$out" --timeout 60 -q "${extra[@]}" 2>&1 >/dev/null )
    code=$?
    if [ $update -eq 1 ]; then
      if [ $code -ne 0 ]; then echo "FAIL $label: exit $code, not updated"; echo "$err"; fail=$((fail+1)); continue; fi
      rm -rf "$expected"
      mkdir -p "$expected"
      (cd "$out" && find . -name '*.csv' | while read -r f; do
         mkdir -p "$expected/$(dirname "$f")"; sort "$f" > "$expected/$f"; done)
      echo "updated $ex"; pass=$((pass+1)); continue
    fi
    problems=""
    if [ $code -ne 0 ]; then
      problems+="  exit $code (expected 0)"$'\n'
      [ -n "$err" ] && problems+=$(printf '%s\n' "$err" | sed 's/^/    /')$'\n'
    fi
    wanted=$(cd "$expected" 2>/dev/null && find . -name '*.csv' | sort)
    written=$(cd "$out" 2>/dev/null && find . -name '*.csv' | sort)
    if [ -z "$wanted" ]; then
      problems+="  no expected output in examples/$ex/expected (run with --update and review it)"$'\n'
    fi
    for f in $wanted; do
      rel=${f#./}
      if [ ! -f "$out/$rel" ]; then
        problems+="  $rel: expected, but the run wrote no such file"$'\n'
      elif ! d=$(diff -u --label "expected/$rel" --label "actual $rel" <(sort "$expected/$rel") <(sort "$out/$rel")); then
        problems+="  $rel differs:"$'\n'"$(printf '%s\n' "$d" | sed 's/^/    /')"$'\n'
      fi
    done
    for f in $written; do
      rel=${f#./}
      [ -f "$expected/$rel" ] || problems+="  $rel: written by the run, but there is no examples/$ex/expected/$rel"$'\n'
    done
    if [ -z "$problems" ]; then
      echo "ok $label"; pass=$((pass+1))
    else
      echo "FAIL $label:"; printf '%s' "$problems"; fail=$((fail+1))
    fi
  done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]

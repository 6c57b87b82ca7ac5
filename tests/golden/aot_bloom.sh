#!/usr/bin/env bash
# A stand-in for `bloom` that runs programs through `bloom build` (docs/jit.md): `aot_bloom.sh
# run FILE ARGS...` builds FILE (with the --param settings among ARGS) into a binary and runs that
# with ARGS; a build that fails exits as `bloom run` would (the same diagnostics and status).
# Any other subcommand goes to bloom itself. The real bloom is $AOT_BLOOM. So that the
# conformance runner (../shared/conformance/run.sh) checks built binaries: `conformance_aot`.
set -u
bloom=${AOT_BLOOM:?set AOT_BLOOM to the bloom executable}
[ "${1:-}" = run ] || exec "$bloom" "$@"
shift
file=$1; shift
params=()
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i))
  do [ "${args[$i]}" = --param ] && params+=(--param "${args[$((i + 1))]}"); done
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$bloom" build "$file" -o "$dir/prog" -q "${params[@]}" || exit $?
"$dir/prog" "$@"

#!/usr/bin/env bash
# The C++ layout of .clang-format, with Debian 12's clang-format 14 (another version lays out some
# lines differently, so the check names the one it needs).
#   tools/format.sh           reformat every C and C++ file git tracks, in place
#   tools/format.sh --check   list the files that are not formatted, with the first difference,
#                             and exit 1 (CI: the cpp_format test); exit 77 without clang-format-14
set -euo pipefail
cd "$(dirname "$0")/.."
clang_format=${CLANG_FORMAT:-clang-format-14}
check=0
case ${1:-} in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: tools/format.sh [--check]" >&2; exit 2 ;;
esac
if ! command -v "$clang_format" >/dev/null; then
  echo "SKIP: $clang_format is not installed (tools/install-deps.sh installs it)"
  exit 77
fi
# The sources git tracks (a tarball without .git: every such file under the source folders).
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.c' '*.cc' '*.cpp' '*.h' '*.hpp')
else
  mapfile -t files < <(find bench compiler grammar runtime tests tools -type f \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) | sort)
fi
if [ "$check" = 0 ]; then
  "$clang_format" -i "${files[@]}"
  exit 0
fi
# One clang-format for every file: --dry-run reports each line it would change as a warning.
out=$("$clang_format" --dry-run "${files[@]}" 2>&1) || { echo "$out" | head -20; echo "$clang_format failed"; exit 1; }
mapfile -t bad < <(echo "$out" | sed -n 's/^\(.*\.\(c\|cc\|cpp\|h\|hpp\)\):[0-9]*:[0-9]*: warning: .*/\1/p' | sort -u)
if [ "${#bad[@]}" != 0 ]; then
  echo "not formatted as .clang-format says (fix: tools/format.sh):"
  shown=0
  for f in "${bad[@]}"; do
    echo "  $f"
    if [ "$shown" -lt 10 ]; then  # the first difference of the first files
      shown=$((shown + 1))
      { diff -u "$f" <("$clang_format" "$f") || true; } | sed -n '3,12p' | sed 's/^/    /'
    fi
  done
  echo "${#bad[@]} of ${#files[@]} files are not formatted"
  exit 1
fi
echo "ok: ${#files[@]} files formatted"

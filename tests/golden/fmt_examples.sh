#!/usr/bin/env bash
# `bloom fmt` on the repository's own programs, end to end: copies examples/ and stdlib/ to a
# temporary folder, formats every .bloom file there in place, then checks that
#   - `bloom fmt --check` finds the formatted copies formatted (idempotence through the CLI),
#   - every formatted program still passes `bloom check` without a diagnostic,
#   - the single-node examples print exactly what the originals print (`bloom run`),
#   - a file that does not parse is reported (exit 1, file:line:col) and left as it was,
#   - usage errors exit 2.
# The originals are never touched. Usage: fmt_examples.sh BLOOM
set -u
bloom=${1:?usage: fmt_examples.sh BLOOM}
case $bloom in /*) ;; *) bloom=$PWD/$bloom ;; esac
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/bloom-fmt.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail=0
say() { echo "FAIL $*"; fail=$((fail+1)); }

cp -r "$root/examples" "$root/stdlib" "$work/"
mapfile -t files < <(cd "$work" && find examples stdlib -name '*.bloom' | sort)
( cd "$work" && "$bloom" fmt -i "${files[@]}" ) || say "bloom fmt -i exited $?"
out=$( cd "$work" && "$bloom" fmt --check "${files[@]}" 2>&1 ) || say "formatted files are not formatted: $out"
for f in "${files[@]}"; do
  out=$( cd "$work/$(dirname "$f")" && "$bloom" check -q --color never "$(basename "$f")" 2>&1 ) || say "$f does not check after formatting: $out"
  [ -z "$out" ] || say "$f: diagnostics after formatting: $out"
done
for ex in word_count tc shortest_paths shopping_cart crdt_cart; do
  for prog in "$root/examples/$ex"/*.bloom; do
    [ -d "$root/examples/$ex/facts" ] || continue
    name=$(basename "$prog")
    a=$( cd "$root/examples/$ex" && "$bloom" run -q --engine interp "$name" -F facts 2>&1 )
    b=$( cd "$work/examples/$ex" && "$bloom" run -q --engine interp "$name" -F facts 2>&1 )
    [ "$a" = "$b" ] || say "examples/$ex/$name: bloom run prints something else after formatting"
    [ -n "$a" ] || say "examples/$ex/$name: printed nothing"
  done
done

# A file that does not parse: diagnostics with file:line:col, exit 1, the file unchanged.
printf 'table t(a: int)\nt(1);\n' > "$work/bad.bloom"
cp "$work/bad.bloom" "$work/bad.orig"
out=$( cd "$work" && "$bloom" fmt -i --color never bad.bloom 2>&1 ); code=$?
[ $code -eq 1 ] || say "unparsable file: exit $code, expected 1"
echo "$out" | grep -q '^bad.bloom:1:16: error' || say "unparsable file: no file:line:col diagnostic in: $out"
cmp -s "$work/bad.bloom" "$work/bad.orig" || say "unparsable file was rewritten"
# --check on an unformatted file names it and exits 1; stdin is formatted to stdout.
printf 'table   t(a:int);\nt(1) ;\n' > "$work/ugly.bloom"
out=$( cd "$work" && "$bloom" fmt --check ugly.bloom 2>/dev/null ); code=$?
[ $code -eq 1 ] && [ "$out" = ugly.bloom ] || say "--check on an unformatted file: exit $code, printed '$out'"
out=$( "$bloom" fmt < "$work/ugly.bloom" ); code=$?
[ $code -eq 0 ] && [ "$out" = $'table t(a: int);\nt(1);' ] || say "stdin: exit $code, printed '$out'"
# -i: through a symbolic link the target is rewritten (the link stays), its mode is kept, and a
# formatted file is not touched (same inode, no temporary file left).
printf 'table   t(a:int);\n' > "$work/target.bloom"
chmod 640 "$work/target.bloom"
ln -s target.bloom "$work/link.bloom"
( cd "$work" && "$bloom" fmt -i link.bloom ) || say "-i through a link exited $?"
[ -L "$work/link.bloom" ] && [ "$(cat "$work/target.bloom")" = 'table t(a: int);' ] || say "-i through a link: link or target wrong"
[ "$(stat -c %a "$work/target.bloom")" = 640 ] || say "-i did not keep the mode: $(stat -c %a "$work/target.bloom")"
inode=$(stat -c %i "$work/target.bloom")
( cd "$work" && "$bloom" fmt -i target.bloom ) || say "-i on a formatted file exited $?"
[ "$(stat -c %i "$work/target.bloom")" = "$inode" ] || say "-i rewrote a formatted file"
ls "$work" | grep -q 'fmt-' && say "a temporary file was left: $(ls "$work")"
# Usage errors.
"$bloom" fmt -i --check "$work/ugly.bloom" 2>/dev/null; code=$?
[ $code -eq 2 ] || say "-i with --check: exit $code, expected 2"
"$bloom" fmt "$work/ugly.bloom" "$work/ugly.bloom" >/dev/null 2>&1; code=$?
[ $code -eq 2 ] || say "two files to stdout: exit $code, expected 2"
"$bloom" fmt "$work/missing.bloom" 2>/dev/null; code=$?
[ $code -eq 2 ] || say "missing file: exit $code, expected 2"

echo "${#files[@]} files formatted, $fail failures"
[ $fail -eq 0 ] && [ ${#files[@]} -gt 0 ]

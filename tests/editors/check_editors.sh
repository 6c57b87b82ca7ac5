#!/usr/bin/env bash
# The tests of the VS Code extension (editors/vscode, docs/tools.md "VS Code"):
#   check_editors.sh npm-ci DIR            copy editors/vscode to DIR and install its pinned
#                                          dependencies (package-lock.json) there
#   check_editors.sh vsix DIR              `vsce package` in DIR: the .vsix holds the manifest,
#                                          the grammar, the language configuration, extension.js
#                                          and vscode-languageclient, and no dev dependency;
#                                          its extension.js starts `bloom lsp` (check_vsix.js)
#   check_editors.sh highlight DIR BLOOM   the TextMate grammar against every .bloom file, a
#                                          golden file and tricky snippets (highlight.js)
# Exit 77 (CTest: skipped) when node or npm is not installed.
set -uo pipefail
mode=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || { echo "SKIP: node is not installed (tools/install-deps.sh)"; exit 77; }

case $mode in
npm-ci)
  command -v npm >/dev/null || { echo "SKIP: npm is not installed (tools/install-deps.sh)"; exit 77; }
  rm -rf "$dir" && mkdir -p "$dir" || fail "cannot make $dir"
  # The extension's sources as git has them, without a node_modules or .vsix of a local build.
  tar -C "$repo/editors/vscode" --exclude=./node_modules --exclude='*.vsix' -cf - . | tar -C "$dir" -xf - ||
    fail "copying editors/vscode to $dir"
  # Only the npm registry, the versions of package-lock.json. No install scripts: none of the
  # packages needs one, and the optional keytar of vsce (for publishing, not packaging) would
  # try to download a prebuilt binary from GitHub.
  (cd "$dir" && npm ci --ignore-scripts --omit=optional --no-audit --no-fund --loglevel=error) ||
    fail "npm ci in $dir"
  ;;
vsix)
  [ -x "$dir/node_modules/.bin/vsce" ] || fail "no vsce in $dir (the editors_npm_ci fixture did not run?)"
  rm -f "$dir"/*.vsix
  # `vsce package` works offline; stdin closed so that a question (a missing LICENSE) fails
  # instead of waiting.
  (cd "$dir" && ./node_modules/.bin/vsce package --out bloom-lang.vsix </dev/null) >"$work/out" 2>&1 ||
    { cat "$work/out" >&2; fail "vsce package"; }
  vsix=$dir/bloom-lang.vsix
  [ -s "$vsix" ] || fail "vsce wrote no $vsix"
  ! grep -q "ERROR" "$work/out" || { cat "$work/out" >&2; fail "vsce reported an error"; }
  python3 - "$vsix" "$work/x" >"$work/list" <<'PY' || fail "$vsix is not a zip archive"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print("\n".join(z.namelist()))
z.extractall(sys.argv[2])
PY
  for f in extension.vsixmanifest extension/package.json extension/extension.js \
           extension/syntaxes/bloom.tmLanguage.json extension/language-configuration.json \
           extension/README.md extension/LICENSE.txt \
           extension/node_modules/vscode-languageclient/package.json \
           extension/node_modules/vscode-languageclient/node.js \
           extension/node_modules/vscode-jsonrpc/package.json \
           extension/node_modules/vscode-languageserver-protocol/package.json; do
    grep -qxF "$f" "$work/list" || fail "$f is not in the vsix"
  done
  # The tools of the build and the tests stay out.
  ! grep -E '^extension/(package-lock\.json|node_modules/(@vscode/vsce|vscode-textmate|vscode-oniguruma)/)' "$work/list" ||
    fail "a dev dependency or the lock file is in the vsix"
  grep -q 'Id="bloom-lang"' "$work/x/extension.vsixmanifest" && grep -q 'Publisher="bloom-lang"' "$work/x/extension.vsixmanifest" ||
    fail "extension.vsixmanifest does not name bloom-lang.bloom-lang"
  node "$here/check_vsix.js" "$work/x" "$repo/editors/vscode/package.json" || fail "the vsix's extension"
  echo "ok: $vsix, $(wc -l <"$work/list") files, $(stat -c %s "$vsix") bytes"
  ;;
highlight)
  bloom=$3
  [ -d "$dir/node_modules/vscode-textmate" ] || fail "no vscode-textmate in $dir (the editors_npm_ci fixture did not run?)"
  NODE_PATH="$dir/node_modules" node "$here/highlight.js" "$bloom" "$repo" || fail "highlighting"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac

#!/usr/bin/env bash
# `bloom lint --format html` opened in headless Chromium: the page renders with no JavaScript
# error (its #render-status says "ok", Chromium logs no uncaught exception), shows one card per
# finding of `--format json` and each program line, draws every output of the report as a graph
# node, outlines the collections of unsuppressed findings, and, opened at #finding-0, lights that
# finding's path in the graph and the source.
# usage: check_lint_html.sh BLOOM PROGRAM.bloom
set -u
bloom=$1 program=$2
fail() { echo "check_lint_html: FAIL: $program: $*" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || fail "chromium not found (apt-get install chromium)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bloom" lint "$program" --format html >"$tmp/page.html" 2>"$tmp/lint.err"
rc=$?
[ $rc -eq 0 ] || [ $rc -eq 4 ] || fail "bloom lint --format html exited $rc: $(cat "$tmp/lint.err")"
"$bloom" lint "$program" --format json >"$tmp/report.json" 2>/dev/null
read -r findings unsuppressed outputs < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(len(r["findings"]), len([f for f in r["findings"] if not f["suppressed"]]), " ".join(o["collection"] for o in r["outputs"]) or "-")
' "$tmp/report.json")
lines=$(python3 -c 'import sys; print(len(open(sys.argv[1]).read().split("\n")))' "$program")

flags=(--headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check --disable-extensions
  --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0)
url="file://$(realpath "$tmp/page.html")#finding-0"
timeout 60 "$browser" "${flags[@]}" --dump-dom "$url" >"$tmp/dom.html" 2>"$tmp/dom.log" || fail "chromium --dump-dom: $(tail -n 5 "$tmp/dom.log")"

grep -q '<div id="render-status" data-status="ok"' "$tmp/dom.html" || fail "render status is not ok: $(grep -o '<div id="render-status"[^<]*' "$tmp/dom.html")"
if grep -E 'CONSOLE.*(Uncaught|Error)' "$tmp/dom.log" >"$tmp/errors"; then fail "JavaScript error: $(head -n 3 "$tmp/errors")"; fi
# Program text is text: it adds no element (tests/lint/html/escape.bloom holds </script> and <b>).
scripts=$(grep -o '<script' "$tmp/dom.html" | wc -l)
[ "$scripts" -eq 3 ] || fail "$scripts script elements, the page has 3"
if grep -q '<b>' "$tmp/dom.html"; then fail "program text became markup"; fi
cards=$(grep -o 'data-finding="' "$tmp/dom.html" | wc -l)
[ "$cards" -eq "$findings" ] || fail "$cards finding cards, the JSON report has $findings"
shown=$(grep -o 'id="L0-[0-9]*"' "$tmp/dom.html" | wc -l)
[ "$shown" -eq "$lines" ] || fail "$shown lines of the program shown, it has $lines"
for o in $outputs; do
  [ "$o" = - ] && continue
  grep -q "id=\"coll_$o\"" "$tmp/dom.html" || fail "no graph node for output $o"
done
outlined=$(grep -o 'class="node poo' "$tmp/dom.html" | wc -l)
if [ "$unsuppressed" -gt 0 ]; then
  [ "$outlined" -gt 0 ] || fail "$unsuppressed unsuppressed findings but no collection outlined"
  grep -q 'class="finding[^"]* selected"' "$tmp/dom.html" || fail "#finding-0 did not select the first finding"
  grep -q 'class="node poo lit"\|class="node lit' "$tmp/dom.html" || fail "#finding-0 lit no graph node"
  grep -q 'class="flag lit"\|class="lit"' "$tmp/dom.html" || fail "#finding-0 lit no source line"
else
  [ "$outlined" -eq 0 ] || fail "no unsuppressed finding, yet $outlined collections outlined"
fi
echo "ok: $program: $findings findings, $lines lines, outputs: $outputs"

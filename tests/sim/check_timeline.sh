#!/usr/bin/env bash
# Opens a `bloom sim` timeline page (runtime/sim/timeline.h) in headless Chromium and checks that
# it rendered: no JavaScript error (the page's own #render-status says "ok" and Chromium logged no
# uncaught exception), one lane (`data-lane="NODE"`) for each node given and no other, and a
# screenshot PNG_OUT of 1400x900 that is more than a blank page.
# Usage: check_timeline.sh HTML_FILE PNG_OUT NODE...
set -u
if [ $# -lt 3 ]; then
  echo "usage: check_timeline.sh HTML_FILE PNG_OUT NODE..." >&2
  exit 2
fi
html=$1 png=$2
shift 2
fail() { echo "check_timeline: FAIL: $html: $*" >&2; exit 1; }

[ -f "$html" ] || fail "no such file"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || fail "chromium not found (apt-get install chromium)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
url="file://$(realpath "$html")"
# Root needs --no-sandbox; a fresh profile keeps runs apart; console messages go to stderr.
flags=(--headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check --disable-extensions
  --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0)

timeout 60 "$browser" "${flags[@]}" --dump-dom "$url" >"$tmp/dom.html" 2>"$tmp/dom.log"
rc=$?
[ $rc -eq 0 ] || fail "chromium --dump-dom exited $rc: $(tail -n 5 "$tmp/dom.log")"

# (a) No JavaScript error: the page reports its own, and Chromium logs any uncaught one.
status=$(grep -o '<div id="render-status"[^>]*>[^<]*' "$tmp/dom.html" | head -n 1)
[ -n "$status" ] || fail "no #render-status element in the rendered DOM"
case "$status" in
  *'data-status="ok"'*) ;;
  *) fail "render status is not ok: ${status#*>}" ;;
esac
if grep -E 'CONSOLE.*(Uncaught|Error)' "$tmp/dom.log" >"$tmp/errors"; then
  fail "JavaScript error: $(head -n 3 "$tmp/errors")"
fi

# (b) One lane per node, in any order, and no lane for anything else. Node names are escaped
# as the DOM serializer writes attribute values.
for node in "$@"; do
  attr=$(printf '%s' "$node" | sed -e 's/&/\&amp;/g' -e 's/"/\&quot;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
  n=$(grep -o -F "data-lane=\"$attr\"" "$tmp/dom.html" | wc -l)
  [ "$n" -eq 1 ] || fail "expected one lane for node '$node', found $n"
done
lanes=$(grep -o 'data-lane="' "$tmp/dom.html" | wc -l)
[ "$lanes" -eq $# ] || fail "expected $# lanes, found $lanes"

# (c) A screenshot of the size asked for, with more in it than a blank page compresses to.
rm -f "$png"
timeout 60 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1400,900 --screenshot="$png" "$url" \
  >"$tmp/shot.log" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "chromium --screenshot exited $rc: $(tail -n 5 "$tmp/shot.log")"
[ -s "$png" ] || fail "no screenshot written to $png"
[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$png is not a PNG"
size=$(od -An -tu1 -j16 -N8 "$png" | awk '{ printf "%dx%d", (($1*256+$2)*256+$3)*256+$4, (($5*256+$6)*256+$7)*256+$8 }')
[ "$size" = 1400x900 ] || fail "screenshot is $size, not 1400x900"
bytes=$(wc -c <"$png")
[ "$bytes" -gt 20000 ] || fail "screenshot is only $bytes bytes: the page looks blank"

echo "check_timeline: ok: $html ($# lanes, screenshot $png, $bytes bytes)"

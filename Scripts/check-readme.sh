#!/usr/bin/env bash
# The README's code examples are copies of compiled files: every fenced block
# that follows a line `<!-- file: PATH -->` must equal PATH byte for byte (the
# files are built and run by Scripts/test.sh, so the README cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
checked=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
    /^<!-- file: .* -->$/ { path = $3; want = 1; next }
    want && /^```/ { inblock = 1; want = 0; n++; out = dir "/" n; print path > (dir "/" n ".path"); printf "" > out; next }
    inblock && /^```$/ { inblock = 0; next }
    inblock { print >> out }
' README.md
for p in "$tmp"/*.path; do
    [ -e "$p" ] || continue
    block=${p%.path}
    path=$(cat "$p")
    checked=$((checked + 1))
    if ! diff -u "$path" "$block" >"$tmp/diff" 2>&1; then
        echo "README.md: the example marked '$path' differs from the file:"
        cat "$tmp/diff"
        status=1
    fi
done
if [ "$checked" -eq 0 ]; then echo "README.md: no '<!-- file: ... -->' examples found"; exit 1; fi
echo "README.md: $checked example(s) match their compiled files"
exit $status

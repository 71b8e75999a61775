#!/usr/bin/env bash
# Renders a results directory's report.html headless to report.png beside it,
# so a person (or a review) can look at the page as a browser shows it.
# Needs Debian's chromium (apt-get install chromium); no network is used.
set -euo pipefail
dir=${1:?usage: scripts/screenshot.sh RESULTS_DIR [WIDTHxHEIGHT]}
size=${2:-1280x6000}
html="$(cd "$dir" && pwd)/report.html"
[ -f "$html" ] || { echo "screenshot: no report.html in $dir (run: concbench report $dir)" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "screenshot: chromium not found (apt-get install chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The flags keep Chromium off the network (this machine has none) and quiet.
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size="${size/x/,}" \
  --screenshot="$(dirname "$html")/report.png" "file://$html" >/dev/null 2>&1
echo "screenshot: $(dirname "$html")/report.png"

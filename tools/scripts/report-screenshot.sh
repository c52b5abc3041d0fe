#!/usr/bin/env bash
# Screenshot a drift page with headless Chromium (Debian package `chromium`), to look at what a user sees: a report's
# HTML page, or the index of reports (drift-reports/index.html, whose links are relative, so a downloaded copy of the
# container opens as it does in Blob). Usage: tools/scripts/report-screenshot.sh page.html [out.png] [width] [height]
# The flags keep Chromium off the network (the page is self-contained, so nothing it needs is lost) and give it a
# fresh profile, so that it starts cleanly as root and in containers.
set -euo pipefail
html=${1:?usage: $0 page.html [out.png] [width] [height]}
out=${2:-${html%.html}.png}
width=${3:-1400}
height=${4:-2200}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install -y chromium" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --window-size="${width},${height}" --screenshot="$(realpath -m "$out")" "file://$(realpath "$html")" >/dev/null 2>&1
test -s "$out"
echo "screenshot: $out (${width}x${height})"

#!/usr/bin/env bash
# Renders mqa-relay payloads to PNG pictures, as a person sees them.
#
#   docs/render/render.sh PAYLOAD_DIR OUT_DIR
#
# PAYLOAD_DIR holds <name>.teams.json (a Teams Workflows webhook body), <name>.slack.json
# (a Slack incoming webhook body) and <name>.email.html (an email's HTML part, optionally
# with <name>.email.json: {"subject","from","to"}); each becomes OUT_DIR/<name>.<kind>.png.
# Installs what it needs if it is missing: Debian's chromium, and the pinned npm packages
# (npm ci; no browser download).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PAYLOAD_DIR OUT_DIR" >&2
  exit 2
fi
payload_dir=$(cd "$1" && pwd)
mkdir -p "$2"
out_dir=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Debian's packages: the browser, and a colour emoji font (Chromium draws emoji only from
# a system font in a format it supports; the npm one is SVG-in-OpenType, which it does not).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian's ${missing[*]}" >&2
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q "${missing[@]}"
fi

# npm ci again whenever the lock file changed since the last install.
stamp="$here/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
  echo "installing npm packages (npm ci)" >&2
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

exec node "$here/render.mjs" "$payload_dir" "$out_dir"

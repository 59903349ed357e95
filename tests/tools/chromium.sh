#!/usr/bin/env bash
# Installs what the operator page's browser tests drive: Debian's chromium and chromium-driver
# (built from the same source version, so browser and driver always match). Does nothing when
# both are there. Needs root or sudo, and Debian's package archive.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian's ${missing[*]} for the browser tests" >&2
sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"
$sudo_ apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

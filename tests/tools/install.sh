#!/usr/bin/env bash
# Installs what the tests use besides the Rust toolchain: the npm packages pinned (with their
# integrity hashes) in tests/tools/*/package-lock.json, with `npm ci`. Needs Node.js and npm;
# run again whenever a lock file changes (it does nothing when the install is current).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v node >/dev/null || { echo "the tests need Node.js (node and npm)" >&2; exit 1; }
for dir in "$here"/*/; do
  [ -f "$dir/package-lock.json" ] || continue
  stamp="$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "installing npm packages in ${dir#"$here"/} (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
done

#!/usr/bin/env bash
# The mqa-relay load benchmark in one command: builds the release relay and the harness, runs
# every scenario on 127.0.0.1 (bounded in count and time), prints Markdown tables on stdout and
# keeps a copy in target/bench/report-<profile>.md.
#
#   bench/run.sh                  # full profile (about 6 minutes of load)
#   bench/run.sh --quick          # short profile (about 1 minute)
#   bench/run.sh --alertmanager   # also Alertmanager (installs Debian's prometheus-alertmanager if missing)
#   bench/run.sh --only null,max  # some scenarios only: null, durable, floor, max, fixed, sustained,
#                                 # reload, fanout, alertmanager; with --store also replicas, claims
#   bench/run.sh --store postgres://postgres@127.0.0.1:5432/test --only replicas,claims
#                                 # 1, 2 and 3 relays on PostgreSQL, and a lane's step against
#                                 # a 100 000-delivery backlog
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
alertmanager=""
profile=full
while [ $# -gt 0 ]; do
  case "$1" in
    --alertmanager) alertmanager=yes ;;
    --quick) profile=quick; args+=("$1") ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [ -n "$alertmanager" ]; then
  if ! command -v prometheus-alertmanager >/dev/null; then
    echo "installing prometheus-alertmanager from Debian's packages" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager >&2
  fi
  args+=(--alertmanager "$(command -v prometheus-alertmanager)")
fi

cargo build --release --bin mqa-relay --example mqa-bench >&2
mkdir -p target/bench
target/release/examples/mqa-bench run --relay target/release/mqa-relay "${args[@]}" \
  | tee "target/bench/report-$profile.md"

#!/usr/bin/env bash
# Runs one fuzz target for a while: fuzz/run.sh envelope|rules|template [SECONDS] (default 300).
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The corpus starts
# from the project's own inputs (the sample events, the example rules file, the templates)
# and grows in fuzz/corpus/<target>; a crash is written to fuzz/artifacts/<target>/.
set -euo pipefail
target=${1:?usage: fuzz/run.sh envelope|rules|template [SECONDS]}
seconds=${2:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
corpus="$root/fuzz/corpus/$target"
mkdir -p "$corpus"
case $target in
  envelope) seeds=("$root"/examples/events/*.json) ;;
  rules) seeds=("$root"/rules.example.yaml) ;;
  template) seeds=("$root"/templates/*.yaml "$root"/src/template/defaults/*.yaml) ;;
  *) echo "unknown target $target (envelope, rules, template)" >&2; exit 2 ;;
esac
for seed in "${seeds[@]}"; do
  [ -e "$corpus/$(basename "$seed")" ] || cp "$seed" "$corpus"/
done
cd "$root/fuzz"
exec cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096

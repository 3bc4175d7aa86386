#!/usr/bin/env bash
# Runs every shipped experiment (and the Phase 5 and consensus suites) into DIR and prints
# the SHA-256 of every CSV and Markdown file written, one line per file, sorted. Run it
# before and after a refactor that must not change results, and diff the two lists:
#   scripts/output-digests.sh /tmp/before > before.txt   (on the old tree)
#   scripts/output-digests.sh /tmp/after  > after.txt    (on the new tree)
#   diff before.txt after.txt
# Long single experiments run with a shorter `--set duration` (given below).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/output-digests.sh DIR}
bin=target/release/dwcp-sim
cargo build --release --quiet
mkdir -p "$out"
run() { # id file [--set ...]
  local id=$1 file=$2; shift 2
  rm -rf "${out:?}/$id"
  "$bin" run "$file" --out "$out/$id" --no-plots --quiet "$@" >/dev/null
}
run phase5 experiments/phase5.toml
run amst-wan experiments/amst-wan.toml --set duration=5s
run bench-leafspine-1k experiments/bench-leafspine-1k.toml
run dumbbell-cbr experiments/dumbbell-cbr.toml
run dumbbell-sweep experiments/dumbbell-sweep.toml
run dumbbell experiments/dumbbell.toml --set duration=2s
run leaf-spine-permutation experiments/leaf-spine-permutation.toml
run tcp-loss experiments/tcp-loss.toml --set duration=20s
run wan-ping-poisson experiments/wan-ping-poisson.toml
cd "$out"
find . -type f \( -name '*.csv' -o -name '*.md' \) -print0 | sort -z | xargs -0 sha256sum

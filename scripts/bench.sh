#!/usr/bin/env bash
# The benchmark harness (docs/performance.md): builds Benchmarks/ in release mode and runs
# cocoon-bench. Arguments go to cocoon-bench, e.g. `scripts/bench.sh W1 W4` or
# `scripts/bench.sh --scale 0.1` for a quick look. Never part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
# SwiftPM does not notice files added to the root package through this path dependency: when a
# source folder changed after the last build plan, plan again.
plan=Benchmarks/.build/release.yaml
if [[ -f $plan ]] && [[ -n $(find Sources -type d -newer "$plan" -print -quit) ]]; then
  rm -f "$plan" Benchmarks/.build/build.db
fi
swift build -c release --package-path Benchmarks 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
exec Benchmarks/.build/release/cocoon-bench "$@"

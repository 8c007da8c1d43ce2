#!/usr/bin/env bash
# The paper reproductions (docs/validation.md): runs the sweeps and prints their summary tables.
#
#   scripts/papers.sh                # both
#   scripts/papers.sh chaney2018     # Chaney, Stewart & Engelhardt 2018: five recommenders
#   scripts/papers.sh piao2023       # Piao et al. 2023: β × γ₋ grid and the σ sweep
#
# Extra arguments go to every `cocoon sweep` (e.g. --set world.population.users=300).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product cocoon 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
cocoon=.build/release/cocoon
which=${1:-all}
[ $# -gt 0 ] && shift

if [ "$which" = all ] || [ "$which" = chaney2018 ]; then
    # Same worlds and seeds for every recommender; the ideal (oracle) is the reference.
    time $cocoon sweep Scenarios/papers/chaney2018.yaml --out Reports/papers/chaney2018 --quiet "$@" \
        --grid 'recommender={kind: oracle, warmup: 10, controls: off},{kind: popularity, warmup: 10, controls: off},{kind: profile, warmup: 10, controls: off},{kind: mf, retrainEvery: 1, warmup: 10, controls: off},{kind: mf, retrainEvery: 0, warmup: 10, controls: off},{kind: random, controls: off}'
    python3 scripts/papers_summary.py chaney2018 Reports/papers/chaney2018/sweep.csv
fi
if [ "$which" = all ] || [ "$which" = piao2023 ]; then
    time $cocoon sweep Scenarios/papers/piao2023.yaml --out Reports/papers/piao2023-beta-gamma --quiet "$@" \
        --grid recommender.beta=0,1,2,3,4,5,6,7 \
        --grid recommender.gammaMinus=0,-0.1,-0.2,-0.3,-0.4,-0.5,-0.6,-0.7,-0.8,-0.9,-1.0
    python3 scripts/papers_summary.py piao2023 Reports/papers/piao2023-beta-gamma/sweep.csv
    time $cocoon sweep Scenarios/papers/piao2023.yaml --out Reports/papers/piao2023-sigma --quiet "$@" \
        --grid recommender.sigma=0.01,0.02,0.04,0.08,0.16,0.32
    python3 scripts/papers_summary.py piao2023 Reports/papers/piao2023-sigma/sweep.csv
fi

#!/usr/bin/env bash
# The main job: installs what is missing, builds Cocoon (release) and runs the quickstart
# scenario, which writes its scorecard to Reports/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product cocoon 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
test -x .build/release/cocoon || { echo "cocoon: build failed" >&2; exit 1; }
status=0
.build/release/cocoon run Scenarios/quickstart.yaml --out Reports/quickstart "$@" || status=$?
if [ -f Reports/quickstart/scorecard.json ]; then
    echo
    echo "Scorecard: $(pwd)/Reports/quickstart/"
    for f in scorecard.html scorecard.md scorecard.json timeseries.csv junit.xml manifest.json; do
        [ -f "Reports/quickstart/$f" ] && echo "  $f"
    done
fi
exit $status

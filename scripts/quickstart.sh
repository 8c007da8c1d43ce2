#!/usr/bin/env bash
# The main job: installs what is missing, builds Cocoon (release) and runs the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product cocoon 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
test -x .build/release/cocoon || { echo "cocoon: build failed" >&2; exit 1; }
.build/release/cocoon --version

#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds once (release, with tests) and runs
# every test. Extra arguments go to `swift test` (e.g. `--filter TopK`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh python3 chromium fonts-wqy-zenhei
swift build -c release --build-tests
swift test -c release --skip-build "$@"

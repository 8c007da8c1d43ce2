#!/usr/bin/env bash
# Installs what Cocoon needs on Debian when it is missing: OpenBLAS (libopenblas-dev), and
# pkg-config to find it. Swift itself must already be on the PATH (https://swift.org/install).
# Extra Debian packages can be requested as arguments (the test script asks for python3).
set -euo pipefail

need=()
pkg-config --version >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists openblas 2>/dev/null; then need+=(libopenblas-dev); fi
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done

if ((${#need[@]})); then
  echo "cocoon: installing missing Debian packages: ${need[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "cocoon: need root or sudo to install ${need[*]}" >&2; exit 2; }
    sudo="sudo"
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  echo "cocoon: installed ${need[*]}" >&2
fi

command -v swift >/dev/null 2>&1 || { echo "cocoon: swift is not on the PATH; install Swift 6 from https://swift.org/install" >&2; exit 2; }

#!/usr/bin/env bash
# Install the system packages ConvKit builds against (Debian/Ubuntu), only when
# something is missing: OpenBLAS (cblas, pkg-config 'openblas'), the LLVM
# OpenMP runtime (libomp-dev), CMake and pkg-config.  Does nothing otherwise.
set -euo pipefail

PACKAGES=(libopenblas-dev libomp-dev cmake pkg-config)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all required packages present (${PACKAGES[*]})"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "setup: missing ${missing[*]}; not root and sudo is not available" >&2
        exit 1
    fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

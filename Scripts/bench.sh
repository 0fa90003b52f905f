#!/usr/bin/env bash
# The quick start's main job: install the system packages when missing, then
# benchmark the standard layer suite (release build).  Extra arguments go to
# `convkit bench`, e.g. `Scripts/bench.sh --threads 1,2 --json bench.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/setup.sh
swift run -c release convkit info
exec swift run -c release convkit bench "$@"

#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (unit, reference and
# integration tests) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900

#!/usr/bin/env bash
# Quick start, part two (and CI): set up, build with warnings as errors, and
# run every test (unit and integration) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh -DSMTPSEND_DEVELOPER=ON
ctest --test-dir build --output-on-failure -j2

#!/usr/bin/env bash
# Quick start, part two (and CI): set up, then every test:
#   1. the normal build, warnings as errors, all unit and integration suites;
#   2. the packages: Debian (built from a clean copy, lintian), cmake --install, CPack, RPM spec;
#   3. the same suites against an AddressSanitizer + UBSan build;
#   4. each libFuzzer target for FUZZ_SECONDS (default 20) from the seed corpus.
# SMTPSEND_QUICK=1 runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh -DSMTPSEND_DEVELOPER=ON
# setup.sh installed the npm test peers: test_nodemailer_peer.py must run, not skip.
export SMTPSEND_REQUIRE_NODE_PEERS=1
echo "== tests: normal build"
ctest --test-dir build --output-on-failure -j2
if [ "${SMTPSEND_QUICK:-0}" = 1 ]; then
    exit 0
fi
echo "== packages"
/usr/bin/python3 tests/packaging/test_packages.py
echo "== tests: AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPSEND_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2
echo "== valgrind: the unit tests and the core send suite"
valgrind="valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite"
$valgrind build/tests/unit_tests >/dev/null
SMTPSEND_BIN=$PWD/build/smtpsend SMTPSEND_TEST_WRAPPER="$valgrind" \
    /usr/bin/python3 tests/integration/test_send.py
echo "== fuzzing"
bash tests/fuzz/run "${FUZZ_SECONDS:-20}"

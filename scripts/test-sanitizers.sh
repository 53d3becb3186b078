#!/usr/bin/env bash
# Builds Ferry with AddressSanitizer + UndefinedBehaviorSanitizer (the `asan`
# CMake preset, ./build-asan) and runs the unit tests and the integration
# suite against build-asan/ferry. Any sanitizer report fails: a unit test
# aborts; the integration fixtures fail a test whose broker printed one or
# did not exit 0 on SIGTERM (LeakSanitizer reports at that exit).
#
#   bash scripts/test-sanitizers.sh                 # as CI: one shard per test
#   FERRY_TEST_SHARDS=1,2 bash scripts/test-sanitizers.sh   # both shard counts
#   bash scripts/test-sanitizers.sh -k php          # pytest arguments pass through
#   bash scripts/test-sanitizers.sh --build-only    # build build-asan, run nothing
set -euo pipefail
cd "$(dirname "$0")/.."

# abort_on_error: a finding is a crash the tests see. detect_leaks: LSan at
# exit. UBSan is built with -fno-sanitize-recover=all, so it stops at once.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_init_order=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ ! -f build-asan/build.ninja ]; then
  cmake --preset asan >/dev/null
fi
cmake --build build-asan -j "$(nproc)"
if [ "${1:-}" = --build-only ]; then exit 0; fi

echo "== unit tests under ASan + UBSan (ctest, build-asan)"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)"

# test_console.py drives the web console's JavaScript in Chromium (8 s a
# test); the API calls it makes are the ones test_management.py exercises
# here, so under the sanitizers it would cost minutes and check no other
# broker code.
echo "== integration tests under ASan + UBSan + LSan (build-asan/ferry, shards: ${FERRY_TEST_SHARDS:-1})"
FERRY_SANITIZED=1 FERRY_TEST_SHARDS=${FERRY_TEST_SHARDS:-1} FERRY_BIN="$PWD/build-asan/ferry" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=20 ${FERRY_PYTEST_JOBS--n 2} \
  --ignore=tests/integration/test_console.py tests/integration "$@"

#!/usr/bin/env bash
# Configures and builds Ferry into ./build (Release with debug info).
# Extra arguments are passed to cmake's configure step.
#   FERRY_BUILD_TESTS=OFF   a fresh build dir is configured without the unit
#                           tests and micro-benchmarks (no GoogleTest needed);
#                           ON (the default) turns them on in an existing one
#   FERRY_BUILD_TARGET=T    builds only target T (scripts/serve.sh: ferry)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
TESTS=${FERRY_BUILD_TESTS:-ON}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # Line tables only (-g1): backtraces, perf and sanitizer reports need no
  # more, and full debug info (-g) made each compile ~30% slower and the
  # objects five times larger (every unit-test binary links them).
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DFERRY_BUILD_TESTS="$TESTS" -DFERRY_BUILD_MICRO_BENCH="$TESTS" "$@" >/dev/null
elif [ "$TESTS" = ON ] && grep -q '^FERRY_BUILD_TESTS:BOOL=OFF' "$BUILD_DIR/CMakeCache.txt"; then
  # First built by scripts/serve.sh: add the tests now.
  cmake -S . -B "$BUILD_DIR" -DFERRY_BUILD_TESTS=ON -DFERRY_BUILD_MICRO_BENCH=ON "$@" >/dev/null
fi
if [ -n "${FERRY_BUILD_TARGET:-}" ]; then
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target "$FERRY_BUILD_TARGET"
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi

#!/usr/bin/env bash
# The first command: install what the broker needs (not the test
# toolchain), build the ferry binary only, and start the broker on its
# embedded defaults (STOMP on port 61613; the built-in guest from this
# machine only). Arguments go to `ferry serve`. scripts/test.sh adds the
# rest later in the same build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh broker
FERRY_BUILD_TESTS=OFF FERRY_BUILD_TARGET=ferry bash scripts/build.sh
exec ./build/ferry serve "$@"

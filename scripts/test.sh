#!/usr/bin/env bash
# The second command: install what is missing, build, and run every test:
# unit tests (ctest) and integration tests (the real broker with real PHP and
# Python STOMP clients, each run with 1 and with 2 shards).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh

echo "== unit tests (ctest)"
ctest --test-dir build --output-on-failure -j "$(nproc)"

echo "== integration tests (pytest, real ferry binary, php-stomp and stomp.py)"
FERRY_BIN="$PWD/build/ferry" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"

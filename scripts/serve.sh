#!/usr/bin/env bash
# The first command: install what is missing, build, and start the broker on
# its embedded defaults (STOMP on port 61613; the built-in guest from this machine only). Arguments go to `ferry serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec ./build/ferry serve "$@"

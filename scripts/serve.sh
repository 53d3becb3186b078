#!/usr/bin/env bash
# The first command: install what is missing, build, and start the broker on
# its embedded defaults (STOMP on 127.0.0.1:61613). Arguments go to `ferry serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec ./build/ferry serve "$@"

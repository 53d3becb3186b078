#!/usr/bin/env bash
# Installs the Node packages of the WebSocket/TLS tests (tests/js) from
# package-lock.json. Idempotent and quick when node_modules is current.
# Called by scripts/deps.sh and by the integration tests' fixture.
set -euo pipefail
cd "$(dirname "$0")"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.ferry-lock 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.ferry-lock

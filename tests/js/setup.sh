#!/usr/bin/env bash
# Installs the Node packages of the WebSocket/TLS tests (tests/js) from
# package-lock.json with `npm ci`. Idempotent and quick when node_modules is
# current; safe to call from parallel pytest workers (one installs under a
# lock, the others wait). Called by the integration tests' fixture
# (tests/integration/transport_support.py: ensure_js).
set -euo pipefail
cd "$(dirname "$0")"
exec 9>.setup.lock
flock 9
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.ferry-lock 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.ferry-lock

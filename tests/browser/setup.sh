#!/usr/bin/env bash
# Installs tests/browser's locked npm packages (playwright-core) once, and
# again when package-lock.json changes. Safe to run from parallel pytest
# workers (flock). Needs node/npm and Debian's chromium (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")"
exec 9>.setup.lock
flock 9
stamp=node_modules/.ferry-lock-stamp
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json "$stamp"

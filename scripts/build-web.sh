#!/usr/bin/env bash
# Rebuilds the web console (web/src -> web/dist) with the locked npm
# packages. web/dist/ is committed, so only run this after changing web/;
# the next cmake build embeds the new files (scripts/embed_console.py).
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v node >/dev/null 2>&1; then
  echo "build-web: node is missing (scripts/deps.sh installs nodejs and npm)" >&2
  exit 1
fi
npm ci --no-audit --no-fund
npm run build

#!/usr/bin/env bash
# Prints the path of a `promtool` (Prometheus' rule and expression checker)
# for the monitoring-assets test. Uses one on PATH; otherwise takes it out of
# Debian's `prometheus` package without installing it (no service, no user):
# `apt-get download` + `dpkg-deb -x` into a cache directory.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  command -v promtool
  exit 0
fi
cache="${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-tools}"
bin="$cache/prometheus/usr/bin/promtool"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/download"
  cd "$cache/download"
  if ! apt-get download prometheus >/dev/null 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    apt-get download prometheus >&2
  fi
  rm -rf "$cache/prometheus"
  dpkg-deb -x prometheus_*.deb "$cache/prometheus"
  rm -f prometheus_*.deb
fi
echo "$bin"

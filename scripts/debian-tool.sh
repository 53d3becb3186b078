#!/usr/bin/env bash
# debian-tool.sh PACKAGE PATH: prints the path of the program PATH (e.g.
# usr/bin/promtool) from Debian's package PACKAGE, for tests that run a
# real tool (promtool from `prometheus`, rabbitmqadmin from
# `rabbitmq-server`) without installing the package (no service, no user):
# `apt-get download` + `dpkg-deb -x` into a cache directory, once.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PACKAGE PATH-IN-PACKAGE" >&2
  exit 2
fi
package="$1"
file="${2#/}"
cache="${FERRY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-tools}"
bin="$cache/$package/$file"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/download"
  cd "$cache/download"
  rm -f "${package}"_*.deb
  if ! apt-get download "$package" >/dev/null 2>&1; then
    # The package lists may be missing or stale on a fresh machine.
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    apt-get download "$package" >&2
  fi
  rm -rf "${cache:?}/$package"
  dpkg-deb -x "${package}"_*.deb "$cache/$package"
  rm -f "${package}"_*.deb
  if [ ! -x "$bin" ]; then
    echo "debian-tool: $package has no executable $file" >&2
    exit 1
  fi
fi
echo "$bin"

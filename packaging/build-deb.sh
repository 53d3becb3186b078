#!/usr/bin/env bash
# Builds the Debian package of Ferry from ./build (scripts/build.sh first):
# `cmake --install --strip` into a staging tree, plus DEBIAN/ (control with
# the shared libraries' packages as Depends, conffiles, maintainer scripts).
# Prints the .deb's path. Usage: packaging/build-deb.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${1:-$BUILD_DIR}
version=$(sed -n 's/^project(ferry VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"  # the package's "./" (mktemp makes it 0700)
cmake -S . -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$BUILD_DIR" --target ferry >/dev/null
DESTDIR="$stage" cmake --install "$BUILD_DIR" --strip >/dev/null
mkdir -p "$stage/DEBIAN"
# Depends: the packages that ship the libraries the binary links.
depends=$(ldd "$stage/usr/bin/ferry" | awk '/=>/ {print $3}' | while read -r lib; do
  dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
done | cut -d: -f1 | sort -u | while read -r pkg; do
  printf '%s (>= %s), ' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//')"
done)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: ferry
Version: $version
Architecture: $arch
Maintainer: Ferry developers <ferry@localhost>
Depends: ${depends}adduser
Section: net
Priority: optional
Description: fast STOMP message broker
 Ferry serves STOMP 1.0-1.2 clients (PHP stomp, stomp.py, stomp.js, Spring's
 relay) with queues, topics, acknowledgements, transactions, durable
 subscriptions and an embedded journal. Starts with /etc/ferry/ferry.toml,
 keeps its data in /var/lib/ferry, runs as the ferry user (ferry.service).
CONTROL
echo /etc/ferry/ferry.toml > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd ferry >/dev/null; then
    adduser --system --group --home /var/lib/ferry --no-create-home --quiet ferry
  fi
  mkdir -p /var/lib/ferry
  chown ferry:ferry /var/lib/ferry
  chmod 0750 /var/lib/ferry
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable ferry.service >/dev/null || true
    systemctl restart ferry.service || true
  fi
fi
POSTINST
cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop ferry.service >/dev/null || true
  systemctl disable ferry.service >/dev/null || true
fi
PRERM
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
  rm -rf /var/lib/ferry
  if getent passwd ferry >/dev/null; then deluser --quiet --system ferry >/dev/null || true; fi
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
deb="$OUT/ferry_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"

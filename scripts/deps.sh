#!/usr/bin/env bash
# Installs the Debian 12 packages Ferry needs to build, run and test.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail

# `deps.sh broker`: only what building and running the ferry binary needs
# (the first README command); no argument: everything the tests need too.
broker_packages=(
  g++ cmake ninja-build pkg-config python3
  libboost-dev libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  libjemalloc-dev libssl-dev nlohmann-json3-dev
  # permission patterns (linear-time regular expressions)
  libre2-dev
)
test_packages=(
  # unit tests and micro-benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # fuzzing (libFuzzer) and symbolized sanitizer reports
  clang libclang-rt-14-dev llvm
  # real clients used by the integration tests
  php-cli php-stomp python3-stomp python3-pytest python3-pytest-xdist
  # more real clients (tests/integration/test_more_clients.py): ruby-stomp,
  # Perl Net::Stomp, and syslog-ng's STOMP destination (run in the
  # foreground with its own config; the package's service is not used)
  ruby-stomp libnet-stomp-perl syslog-ng-core syslog-ng-mod-stomp
  # MQTT clients (tests/integration/test_mqtt_*.py): mosquitto_pub and
  # mosquitto_sub (3.1.1 and 5), and Paho for Python (1.6.1, speaks 5)
  mosquitto-clients python3-paho-mqtt
  # the MQTT comparison (bench/compare --mqtt) runs its own mosquitto broker
  # (the package's service is not used)
  mosquitto
  # TLS tests make their certificates with the openssl CLI
  openssl
  # stompjs in a real page (tests/js/browser_client.mjs) and the web
  # console's browser tests (tests/browser), both via npm playwright-core
  chromium
  python3-prometheus-client
  # the Debian package's test: systemd-analyze verify of the unit
  systemd
  # the cluster tests (tests/integration/test_cluster.py, scripts/etcd.sh):
  # three etcd members on loopback, and etcdctl to look inside
  etcd-server etcd-client
)
packages=("${broker_packages[@]}")
if [ "${1:-all}" != broker ]; then
  packages+=("${test_packages[@]}")
  # Node and npm: the @stomp/stompjs and MQTT.js (npm mqtt) tests (tests/js), the console's
  # build (scripts/build-web.sh) and browser tests (tests/browser), each
  # installed with npm ci from its lock file; Debian's nodejs/npm only when no
  # node is installed.
  if ! command -v node >/dev/null 2>&1; then
    packages+=(nodejs npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

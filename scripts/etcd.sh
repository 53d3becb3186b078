#!/usr/bin/env bash
# etcd for the cluster tests (docs/cluster.md): Debian's etcd-server 3.4,
# members on free loopback ports, data in a directory the caller owns.
#
#   scripts/etcd.sh install        install etcd-server if there is no etcd (as deps.sh does)
#   scripts/etcd.sh start DIR [N]  start N members (default 3) with their data under DIR; waits
#                                  until the cluster has a leader, then prints the client
#                                  endpoints, comma-separated (also in DIR/endpoints)
#   scripts/etcd.sh stop DIR       SIGTERM every member started in DIR, and wait for them
#
# Exit status 3: etcd is not installed and cannot be (no root, no network);
# tests skip with that message. Ports are never fixed: each start picks free
# ones (and tries again with new ones if a member could not bind).
set -euo pipefail

die() { echo "etcd.sh: $*" >&2; exit "${2:-1}"; }

install_etcd() {
  command -v etcd >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "etcd is not installed and installing it needs root (apt-get install etcd-server)" 3
    sudo="sudo -n"
  fi
  echo "etcd.sh: installing etcd-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends etcd-server; } >&2; then
    die "etcd is not installed and apt-get install etcd-server failed" 3
  fi
  command -v etcd >/dev/null 2>&1 || die "etcd-server installed no etcd binary" 3
}

# N*2 distinct free loopback ports, held together while chosen.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

healthy() {  # the member at $1 (http://HOST:PORT) sees a leader
  curl -fsS --max-time 1 "$1/health" 2>/dev/null | grep -q '"health":"true"'
}

stop_members() {
  local dir=$1 pid
  for f in "$dir"/member-*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  for f in "$dir"/member-*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

start_members() {
  local dir=$1 n=$2 attempt
  mkdir -p "$dir"
  for attempt in 1 2 3; do
    read -r -a ports <<<"$(free_ports $((n * 2)))"
    local token cluster="" endpoints="" i
    token="ferry-test-$$-$RANDOM"
    for ((i = 0; i < n; i++)); do
      cluster+="${cluster:+,}m$i=http://127.0.0.1:${ports[$((n + i))]}"
      endpoints+="${endpoints:+,}http://127.0.0.1:${ports[$i]}"
    done
    for ((i = 0; i < n; i++)); do
      rm -rf "$dir/m$i"
      # Short heart-beats suit loopback; the defaults (100 ms, 1000 ms) are
      # kept so that a loaded 2-core machine does not flap leaders.
      setsid etcd --name "m$i" --data-dir "$dir/m$i" \
        --listen-client-urls "http://127.0.0.1:${ports[$i]}" \
        --advertise-client-urls "http://127.0.0.1:${ports[$i]}" \
        --listen-peer-urls "http://127.0.0.1:${ports[$((n + i))]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((n + i))]}" \
        --initial-cluster "$cluster" --initial-cluster-token "$token" --initial-cluster-state new \
        --logger zap --log-outputs stderr \
        </dev/null >"$dir/member-$i.log" 2>&1 &
      echo $! >"$dir/member-$i.pid"
      echo "http://127.0.0.1:${ports[$i]}" >"$dir/member-$i.client"
    done
    local ok=0
    for _ in $(seq 300); do  # up to 30 s
      ok=1
      for ((i = 0; i < n; i++)); do
        if ! kill -0 "$(cat "$dir/member-$i.pid")" 2>/dev/null; then ok=2; break; fi
        healthy "$(cat "$dir/member-$i.client")" || { ok=0; break; }
      done
      [ $ok = 0 ] || break
      sleep 0.1
    done
    if [ $ok = 1 ]; then
      echo "$endpoints" >"$dir/endpoints"
      echo "$endpoints"
      return 0
    fi
    echo "etcd.sh: attempt $attempt: the members did not form a cluster; logs in $dir" >&2
    stop_members "$dir"
  done
  die "could not start $n etcd members (see $dir/member-*.log)"
}

case "${1:-}" in
  install) install_etcd ;;
  start)
    [ $# -ge 2 ] || die "usage: etcd.sh start DIR [N]" 2
    install_etcd
    start_members "$2" "${3:-3}"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: etcd.sh stop DIR" 2
    stop_members "$2"
    ;;
  *) die "usage: etcd.sh install | start DIR [N] | stop DIR" 2 ;;
esac

#!/usr/bin/env bash
# The second command: install what is missing, build, and run every test:
# unit tests (ctest) and integration tests (the real broker with real PHP and
# Python STOMP clients, each run with 1 and with 2 shards); then the short
# fuzzing run (scripts/fuzz.sh, 10 s per target: a smoke run of the seeds and
# what they lead to; the campaigns are scripts/fuzz.sh's long mode) and the whole suite again
# under ASan + UBSan + LSan (scripts/test-sanitizers.sh, one shard per test).
# FERRY_SKIP_FUZZ=1 / FERRY_SKIP_SANITIZERS=1 leave those out (quick local
# runs; CI runs both). Arguments go to every pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh

echo "== unit tests (ctest)"
ctest --test-dir build --output-on-failure -j "$(nproc)"

# The sanitizer and fuzzing builds (~15 CPU-minutes on 2 cores) are compiled
# at nice 19 while the integration tests run: those mostly wait on sockets and
# timers, so the builds take the cores they leave idle instead of adding their
# whole time after them. The phases below wait for it; its log is
# build/background-builds.log.
background=()
if [ "${FERRY_SKIP_SANITIZERS:-0}" != 1 ]; then background+=("bash scripts/test-sanitizers.sh --build-only"); fi
if [ "${FERRY_SKIP_FUZZ:-0}" != 1 ]; then background+=("bash scripts/fuzz.sh --build-only"); fi
builds=""
if [ ${#background[@]} -gt 0 ]; then
  joined=$(printf ' && %s' "${background[@]}")
  # its own process group, so that a failing phase can stop it whole
  setsid nice -n 19 bash -c "${joined# && }" >build/background-builds.log 2>&1 &
  builds=$!
  trap '[ -z "$builds" ] || kill -- "-$builds" 2>/dev/null || true' EXIT
fi
wait_for_builds() {
  [ -n "$builds" ] || return 0
  echo "== waiting for the sanitizer and fuzzing builds (build/background-builds.log)"
  if ! wait "$builds"; then
    tail -80 build/background-builds.log >&2
    echo "the background build failed (build/background-builds.log)" >&2
    exit 1
  fi
  builds=""
}

# Integration tests run in FERRY_TEST_JOBS parallel pytest workers (default
# 2): each test starts its own broker on a free port with its own data dir,
# and most of their time is waiting on sockets, so two workers take about
# 60% of the serial time on a 2-core machine. FERRY_TEST_JOBS=0 runs serially.
JOBS=(-n "${FERRY_TEST_JOBS:-2}")
if [ "${FERRY_TEST_JOBS:-2}" = 0 ]; then JOBS=(); fi
export FERRY_PYTEST_JOBS="${JOBS[*]}"

echo "== integration tests (pytest, real ferry binary, php-stomp and stomp.py)"
FERRY_BIN="$PWD/build/ferry" /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=20 "${JOBS[@]}" tests/integration "$@"

echo "== packaging (the Debian package built, installed, started and purged)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/packaging "$@"

wait_for_builds
if [ "${FERRY_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzing (libFuzzer, short run)"
  bash scripts/fuzz.sh "${FERRY_FUZZ_SECONDS:-10}"
fi

if [ "${FERRY_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== sanitizers (ASan + UBSan + LSan build, unit and integration tests)"
  bash scripts/test-sanitizers.sh "$@"
fi

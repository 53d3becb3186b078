#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, the
# `fuzz` CMake preset, ./build-fuzz) and runs each for SECONDS_PER_TARGET
# seconds (default 60). Fails if any target finds a crash, a hang or a leak.
#
#   bash scripts/fuzz.sh            # a short run: 60 s per target (CI passes 10)
#   bash scripts/fuzz.sh 3600       # the long campaign: an hour per target
#   FUZZ_JOBS=2 bash scripts/fuzz.sh 3600   # libFuzzer fork mode, 2 processes
#   FUZZ_TARGETS="journal_segment" bash scripts/fuzz.sh 600
#   bash scripts/fuzz.sh --build-only   # build the targets, run nothing
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>) and
# a working corpus that grows across runs (build-fuzz/corpus/<target>; the
# seeds are never written to). A failing input is saved as
# build-fuzz/crashes/<target>/crash-<sha1> (or timeout-, leak-, oom-); replay
# it with `build-fuzz/tests/fuzz/<target>_fuzz <file>`, and make it a
# regression test before fixing it. Logs: build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
jobs=${FUZZ_JOBS:-1}
read -r -a targets <<<"${FUZZ_TARGETS:-stomp_parser header_unescape journal_segment config websocket selector stream_segment mqtt_decoder}"
build=build-fuzz

if [ ! -f "$build/build.ninja" ]; then
  CXX=clang++ cmake --preset fuzz >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/%/_fuzz}"
if [ "$seconds" = --build-only ]; then exit 0; fi

summary=()
failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  crashes="$build/crashes/$t"
  log="$build/logs/$t.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
        -artifact_prefix="$crashes/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  [ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
  stamp="$build/logs/$t.started"
  touch "$stamp"
  echo "== fuzz $t: ${seconds}s (log $log)"
  rc=0
  "$build/tests/fuzz/${t}_fuzz" "${args[@]}" "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # Executions and rate: the final stats, or in fork mode the last status line.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
    rate=$(sed -nE 's/.*exec\/s:? ([0-9]+).*/\1/p' <<<"$last")
  fi
  found=$(find "$crashes" -type f -newer "$stamp" | wc -l)
  line=$(printf '%-16s %6ss %12s execs %8s exec/s  %s failing input(s) in %s' \
         "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$found" "$crashes")
  summary+=("$line")
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "fuzz: $t FAILED (exit $rc); the end of its log:" >&2
    grep -v '^#[0-9]' "$log" | tail -60 >&2
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: a target failed; inputs are under $build/crashes/" >&2
  exit 1
fi

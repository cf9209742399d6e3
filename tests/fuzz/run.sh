#!/bin/sh
# run.sh B SECONDS MOESIM - runs every libFuzzer target built in B/fuzz for
# SECONDS each, with leak detection (tests/lsan.supp) and a 25 s hang limit,
# from the seed corpora: tests/fuzz/seeds/<target>/, scenarios/ and
# tests/bad/ (loader and run), tests/fuzz/crashes/<target>/ (what fuzzing
# found, fixed), and small traces recorded here with
# `MOESIM run --trace` (trace reader). New inputs go to B/fuzz/corpus/<target>
# (kept between runs, never committed); a crash, leak or hang leaves its input
# as B/fuzz/artifacts/<target>-* and fails the run. Prints one line per
# target: executions, seconds, executions per second, peak memory.
set -u
B=${1:?usage: run.sh BUILD_DIR SECONDS MOESIM}
S=${2:?usage: run.sh BUILD_DIR SECONDS MOESIM}
BIN=${3:?usage: run.sh BUILD_DIR SECONDS MOESIM}
F=$B/fuzz
mkdir -p "$F/artifacts" "$F/gen/trace" "$F/gen/dict"

# Traces to start from: a recorded one per shape (top-2 Mixtral, top-8
# DeepSeek with 256 experts), a few tokens and batches each.
"$BIN" run --quiet --set workload.batches=2 --set workload.tokens_per_rank=8 \
  --trace "$F/gen/trace/mixtral.mtr.gz" >/dev/null || exit 1
"$BIN" run scenarios/deepseek-v3-h800x32.cfg --quiet --set workload.batches=1 \
  --set workload.tokens_per_rank=8 --set model.layers=5 \
  --trace "$F/gen/trace/deepseek.mtr.gz" >/dev/null || exit 1
# and every seed trace as a payload too (fuzz_trace.c compresses those)
for f in "$F"/gen/trace/*.mtr.gz tests/fuzz/seeds/trace/*.mtr.gz; do
  gzip -dc "$f" > "$F/gen/trace/$(basename "$f" .mtr.gz).payload" || exit 1
done
# A dictionary of every scenario key, so the loader and run targets reach
# real keys quickly.
"$BIN" help keys | sed -n 's/^| `\([^`]*\)` |.*/"\1="/p' > "$F/gen/dict/keys.dict" || exit 1

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=0
for t in units scenario trace run; do
  exe=$F/fuzz_$t
  [ -x "$exe" ] || { echo "fuzz $t: $exe not built"; failed=1; continue; }
  mkdir -p "$F/corpus/$t"
  seeds="tests/fuzz/seeds/$t"
  dict=""
  case $t in
    scenario) seeds="$seeds scenarios tests/bad"; dict="-dict=$F/gen/dict/keys.dict" ;;
    run) dict="-dict=$F/gen/dict/keys.dict" ;;
    trace) seeds="$seeds $F/gen/trace" ;;
  esac
  # what fuzzing found (and was fixed) runs again on every fuzzing run
  [ -d "tests/fuzz/crashes/$t" ] && seeds="$seeds tests/fuzz/crashes/$t"
  log=$F/$t.log
  # -rss_limit_mb: a run target input that asks for a huge scenario is the
  # harness's to bound (fuzz_run.c), not a finding; 2.5 GB leaves room
  "$exe" -max_total_time="$S" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$F/artifacts/$t-" $dict \
    "$F/corpus/$t" $seeds >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  rate=$(awk -v r="${runs:-0}" -v s="${secs:-0}" 'BEGIN { printf "%.0f", (s > 0 ? r / s : r) }')
  if [ "$rc" = 0 ]; then
    echo "fuzz $t: ${runs:-?} executions in ${secs:-?} s ($rate/s), peak ${rss:-?} MB, no crash, hang or leak"
  else
    failed=1
    echo "fuzz $t: FAILED (exit $rc) after ${runs:-?} executions; see $log and $F/artifacts/"
    grep -m 3 -E 'ERROR|SUMMARY|runtime error|deadly signal|timeout' "$log" | sed 's/^/    /'
  fi
done
[ "$failed" = 0 ]

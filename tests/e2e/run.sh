#!/bin/sh
# run.sh MOESIM - end-to-end checks of the command line: exit statuses, the
# bad-scenario corpus, byte-identical reruns, whole-or-nothing output files,
# the ready scenarios and the hand-computed two-GPU case. Prints one line per
# check and a closing "N passed, N failed"; exits 1 if any failed.
BIN=${1:?usage: run.sh path/to/moesim}
. tests/e2e/lib.sh

# A JSON field of one line of a report: json_field FILE LINE_PREFIX FIELD
json_field() {
  grep -- "$2" "$1" | head -n 1 | sed -n "s/.*\"$3\": \([-0-9.e+]*\).*/\1/p"
}

SMALL="--set workload.batches=2 --set workload.tokens_per_rank=256"

# ---- the command line itself
expect_rc "--version exits 0" 0 "$BIN" --version
grep -q '^moesim [0-9]' "$T/out" || bad "--version prints the version"
expect_rc "--help exits 0" 0 "$BIN" --help
expect_rc "help run exits 0" 0 "$BIN" help run
expect_rc "run --help exits 0" 0 "$BIN" run --help
expect_rc "no command is a usage error (2)" 2 "$BIN"
expect_rc "unknown command is a usage error (2)" 2 "$BIN" frobnicate
expect_rc "unknown option is a usage error (2)" 2 "$BIN" run --frob
expect_rc "missing file is bad input (2)" 2 "$BIN" run "$T/nope.cfg"

# ---- the bad-scenario corpus: exit 2 and exactly the expected message
n=0
for f in tests/bad/*.cfg; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  want=$(head -n 1 "${f%.cfg}.err" 2>/dev/null)
  got=$("$BIN" check "$f" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = 2 ] && [ "$got" = "$want" ]; then ok "bad: $f"
  else bad "bad: $f" "exit $rc; got: $got; wanted: $want"; fi
done
[ "$n" -ge 25 ] && ok "bad corpus has $n cases (>= 25)" || bad "bad corpus has $n cases, fewer than 25"

# ---- ready scenarios validate and run
# Training scenarios run a step of short sequences (the global batch sets
# their tokens); the 2,048-GPU one only validates here: its steps are
# bench/bench_train.c's (minutes on a small machine).
small_of() {
  if grep -q 'mode = "training"' "$1"; then
    echo "--set workload.seq_len=256 --set model.router.force_balance=true"
  else
    echo "$SMALL"
  fi
}
for f in scenarios/*.cfg; do
  expect_rc "check $f" 0 "$BIN" check "$f"
  case $f in *-h800x2048.cfg) continue ;; esac
  expect_rc "run $f (small)" 0 "$BIN" run "$f" --quiet $(small_of "$f") --json "$T/s.json"
  grep -q '"schema": "moesim.report/1"' "$T/s.json" && ok "json schema of $f" || bad "json schema of $f"
done

# ---- the built-in default scenario, and determinism
expect_rc "run (built-in default)" 0 "$BIN" run $SMALL --json "$T/a.json"
grep -q "mixtral-8x7b-h100x8" "$T/out" && ok "default report names its scenario" || bad "default report names its scenario"
grep -q "throughput" "$T/out" && ok "default report shows throughput" || bad "default report shows throughput"
expect_rc "run again, same seed" 0 "$BIN" run $SMALL --quiet --json "$T/b.json"
cmp -s "$T/a.json" "$T/b.json" && ok "same scenario and seed: byte-identical JSON" || bad "same seed: JSON differs"
expect_rc "run with another seed" 0 "$BIN" run $SMALL --quiet --seed 2 --json "$T/c.json"
cmp -s "$T/a.json" "$T/c.json" && bad "another seed: JSON identical" || ok "another seed: different JSON"
expect_rc "default scenario file equals the built-in" 0 "$BIN" run scenarios/mixtral-8x7b-h100x8.cfg $SMALL --quiet --json "$T/d.json"
if [ "$(grep -v '"file"' "$T/a.json" | grep -v '"scenario"')" = "$(grep -v '"file"' "$T/d.json" | grep -v '"scenario"')" ]; then
  ok "built-in and file give the same results"; else bad "built-in and file differ"; fi

# ---- whole-or-nothing output
expect_rc "bad --set is bad input (2)" 2 "$BIN" run --set model.top_k=99 --json "$T/partial.json"
[ ! -e "$T/partial.json" ] && ok "failed run writes no JSON" || bad "failed run left $T/partial.json"
ls "$T"/partial.json.tmp.* >/dev/null 2>&1 && bad "failed run left a temporary file" || ok "failed run leaves no temporary file"
expect_rc "unwritable JSON path refused before the run (2)" 2 "$BIN" run $SMALL --quiet --json "$T/no/such/dir/x.json"

# ---- the hand-computed case (tests/e2e/two-gpus.cfg explains the numbers)
expect_rc "two-gpus dropless" 0 "$BIN" run tests/e2e/two-gpus.cfg --quiet --json "$T/h.json"
d=$(grep '^    "dispatch_s"' "$T/h.json" | sed -n 's/.*"max_ps": \([0-9]*\).*/\1/p')
c=$(grep '^    "combine_s"' "$T/h.json" | sed -n 's/.*"max_ps": \([0-9]*\).*/\1/p')
[ "$d" = 1061440 ] && ok "two-gpus dispatch = 1,061,440 ps" || bad "two-gpus dispatch" "got $d ps"
[ "$c" = 1061440 ] && ok "two-gpus combine = 1,061,440 ps" || bad "two-gpus combine" "got $c ps"
expect_rc "two-gpus with drops" 0 "$BIN" run tests/e2e/two-gpus.cfg --quiet --json "$T/h2.json" \
  --set model.router.overflow=drop --set model.router.capacity_factor=1.0
d=$(grep '^    "dispatch_s"' "$T/h2.json" | sed -n 's/.*"max_ps": \([0-9]*\).*/\1/p')
dr=$(json_field "$T/h2.json" '^    "dropped":' dropped)
sh=$(json_field "$T/h2.json" '^    "dropped_share":' dropped_share)
[ "$d" = 1040960 ] && ok "two-gpus capped dispatch = 1,040,960 ps" || bad "two-gpus capped dispatch" "got $d ps"
[ "$dr" = 2 ] && ok "two-gpus capped: 2 assignments dropped" || bad "two-gpus dropped" "got $dr"
[ "$sh" = 0.25 ] && ok "two-gpus capped: dropped share 0.25" || bad "two-gpus dropped share" "got $sh"

# ---- CSV files: four tables, the totals agreeing with the JSON
expect_rc "run --csv" 0 "$BIN" run $SMALL --quiet --csv "$T/csv" --json "$T/csv.json"
for f in totals layers experts links; do
  [ -s "$T/csv/$f.csv" ] && ok "csv: $f.csv written" || bad "csv: $f.csv missing"
done
[ "$(wc -l < "$T/csv/layers.csv")" = 33 ] && ok "csv: layers.csv has a header and 32 MoE layers" \
  || bad "csv: layers.csv lines" "$(wc -l < "$T/csv/layers.csv")"
col=$(head -n 1 "$T/csv/totals.csv" | tr ',' '\n' | grep -n '^dropped$' | cut -d: -f1)
cd_=$(sed -n 2p "$T/csv/totals.csv" | cut -d, -f"${col:-1}")
jd=$(json_field "$T/csv.json" '^    "dropped":' dropped)
[ -n "$col" ] && [ "$cd_" = "$jd" ] && ok "csv: totals dropped = JSON dropped ($jd)" || bad "csv: dropped" "csv $cd_, json $jd"
expect_rc "csv: unwritable directory refused before the run (2)" 2 "$BIN" run $SMALL --quiet --csv "$T/no/such/dir"

# ---- the timeline of the two-gpus case: the hand-computed dispatch on each
# GPU's communication row (thread 2 x GPU + 1; GPU 0 sends 3 rows, 6144 B;
# GPU 1 one row, 2048 B), and the
# combine starting when the slower GPU's experts end
expect_rc "two-gpus timeline" 0 "$BIN" run tests/e2e/two-gpus.cfg --quiet --timeline "$T/tl.json"
grep -q '"name": "dispatch", "cat": "network", "pid": 0, "tid": 1, "ts": [0-9.]*, "dur": 1.061440, "args": {"batch": 0, "layer": 0, "bytes_sent": 6144}' "$T/tl.json" \
  && ok "timeline: GPU 0's dispatch, 1.061440 us, 6144 B" || bad "timeline: GPU 0 dispatch" "$(grep -m1 dispatch "$T/tl.json")"
grep -q '"name": "dispatch", "cat": "network", "pid": 0, "tid": 3, "ts": [0-9.]*, "dur": 1.061440, "args": {"batch": 0, "layer": 0, "bytes_sent": 2048}' "$T/tl.json" \
  && ok "timeline: GPU 1's dispatch, 2048 B" || bad "timeline: GPU 1 dispatch" "$(grep dispatch "$T/tl.json")"
ends=$(sed -n 's/.*"name": "experts".*"ts": \([0-9.]*\), "dur": \([0-9.]*\).*/\1 \2/p' "$T/tl.json" \
  | awk '{ e = $1 + $2; if (e > m) m = e } END { printf "%.6f", m }')
cts=$(sed -n 's/.*"name": "combine".*"tid": 1, "ts": \([0-9.]*\),.*/\1/p' "$T/tl.json")
[ -n "$ends" ] && [ "$ends" = "$cts" ] && ok "timeline: the combine starts when the straggler ends ($cts us)" \
  || bad "timeline: combine start" "experts end $ends, combine at $cts"
tail -c 4 "$T/tl.json" | grep -q ']}' && ok "timeline: the event list is closed" || bad "timeline: not closed"

# ---- analysis/compare_reports.py side by side: the first report is 1.00x,
# the seed-2 run its own ratio; a file that is not a report is refused
if command -v python3 >/dev/null 2>&1; then
  expect_rc "compare_reports.py" 0 python3 analysis/compare_reports.py "$T/a.json" "$T/c.json"
  [ "$(grep -o '(1.00x)' "$T/out" | wc -l)" -ge 8 ] && grep -q "$T/c.json" "$T/out" \
    && ok "compare_reports.py: a row per report, the first at 1.00x" \
    || bad "compare_reports.py output" "$(cat "$T/out")"
  expect_rc "compare_reports.py refuses a non-report" 1 python3 analysis/compare_reports.py \
    "$T/a.json" "$T/tl.json"
else
  echo "skip compare_reports.py checks (no python3)"
fi

# ---- moesim place (its own file; it shares ok, bad, expect_rc and $T)
. tests/e2e/place.sh
. tests/e2e/compare.sh
. tests/e2e/trace.sh
. tests/e2e/layers.sh
. tests/e2e/cmd.sh
. tests/e2e/json.sh
. tests/e2e/harden.sh
. tests/e2e/scenario.sh
. tests/e2e/overlap.sh
. tests/e2e/train.sh
. tests/e2e/hardware.sh

echo "e2e: $pass passed, $fail failed"
[ "$fail" = 0 ]

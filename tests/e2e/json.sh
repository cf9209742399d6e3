#!/bin/sh
# json.sh MOESIM - every JSON file moesim writes parses with a strict parser
# (Python's json, which refuses invalid UTF-8; issue 16): the report, the
# timeline and `compare --json` of every ready scenario run small, any
# tests/bad case that runs at all, and a scenario named in bytes that are
# not UTF-8. Also checks tests/e2e/json_same.py, which compares reports
# across a change of number format. run.sh sources it (sharing BIN, T, ok,
# bad and expect_rc); run alone it prints its own "N passed, N failed".
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: json.sh path/to/moesim}
  . tests/e2e/lib.sh
  json_alone=1
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "skip json.sh: strict JSON checks need python3"
else
  # strict_json NAME FILE...: each file is UTF-8 and one JSON value
  strict_json() {
    name=$1; shift
    if out=$(python3 -c '
import json, sys
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        json.loads(f.read().decode("utf-8"))
' "$@" 2>&1); then ok "$name"; else bad "$name" "$(printf '%s' "$out" | tail -n 1)"; fi
  }
  J_SMALL="--set workload.batches=1 --set workload.tokens_per_rank=64 --set placement.warmup_batches=0"

  for f in scenarios/*.cfg; do
    n=$(basename "$f" .cfg)
    case $f in *-h800x2048.cfg) continue ;; esac # validated in run.sh; bench_train runs it
    J_RUN=$(grep -q 'mode = "training"' "$f" &&
      echo "--set workload.seq_len=128 --set model.router.force_balance=true" ||
      echo "$J_SMALL")
    rm -f "$T/j.json" "$T/j-tl.json" "$T/j-cmp.json"
    expect_rc "json: run $n" 0 "$BIN" run "$f" --quiet $J_RUN \
      --json "$T/j.json" --timeline "$T/j-tl.json"
    strict_json "json: $n report and timeline parse" "$T/j.json" "$T/j-tl.json"
    expect_rc "json: compare $n" 0 "$BIN" compare "$f" $J_RUN --no-progress --quiet \
      --vary seed=1 --json "$T/j-cmp.json"
    strict_json "json: $n compare parses" "$T/j-cmp.json"
  done

  # the bad corpus: a case that runs (none should) writes JSON that parses
  ran=0
  for f in tests/bad/*.cfg; do
    [ -e "$f" ] || continue
    rm -f "$T/jb.json"
    if "$BIN" run "$f" --quiet --json "$T/jb.json" >/dev/null 2>&1; then
      ran=$((ran + 1))
      strict_json "json: tests/bad $f ran; its report parses" "$T/jb.json"
    elif [ -e "$T/jb.json" ]; then
      bad "json: $f failed but left $T/jb.json"
    fi
  done
  ok "json: tests/bad: $ran cases ran, every other one wrote no JSON"

  # a name in Latin-1 ("caf\351"): refused at load (exit 2), or every JSON
  # that names it is still valid UTF-8
  rm -f "$T/jl.json" "$T/jl-cmp.json"
  latin1=$(printf 'name="caf\351"')
  "$BIN" run tests/e2e/two-gpus.cfg --quiet --set "$latin1" --json "$T/jl.json" \
    >/dev/null 2>"$T/err"; rc=$?
  if [ "$rc" = 2 ]; then ok "json: a name that is not UTF-8 is refused (2)"
  elif [ "$rc" = 0 ]; then strict_json "json: a name that is not UTF-8 gives valid JSON" "$T/jl.json"
  else bad "json: a name that is not UTF-8" "exit $rc: $(head -c 300 "$T/err")"; fi
  "$BIN" compare tests/e2e/two-gpus.cfg --quiet --no-progress --set "$latin1" \
    --vary "seed=1,2" --json "$T/jl-cmp.json" >/dev/null 2>"$T/err"; rc=$?
  if [ "$rc" = 2 ]; then ok "json: compare refuses a name that is not UTF-8 (2)"
  elif [ "$rc" = 0 ]; then strict_json "json: compare with a name not UTF-8 parses" "$T/jl-cmp.json"
  else bad "json: compare with a name not UTF-8" "exit $rc: $(head -c 300 "$T/err")"; fi

  # json_same.py: a report is the same as itself, and as its values printed
  # with 12 significant digits; a changed value is found
  expect_rc "json: run two-gpus for json_same.py" 0 "$BIN" run tests/e2e/two-gpus.cfg \
    --quiet --json "$T/js.json"
  python3 -c '
import json, sys
def cut(v):
    if isinstance(v, float): return float("%.12g" % v)
    if isinstance(v, dict): return {k: cut(x) for k, x in v.items()}
    if isinstance(v, list): return [cut(x) for x in v]
    return v
r = json.load(open(sys.argv[1]))
json.dump(cut(r), open(sys.argv[2], "w"))
r["totals"]["sim_time_s"] *= 1.000001
json.dump(cut(r), open(sys.argv[3], "w"))
' "$T/js.json" "$T/js12.json" "$T/jsx.json"
  expect_rc "json: json_same.py: 12-digit values equal the exact ones" 0 \
    python3 tests/e2e/json_same.py "$T/js12.json" "$T/js.json"
  expect_rc "json: json_same.py finds a changed value (1)" 1 \
    python3 tests/e2e/json_same.py "$T/jsx.json" "$T/js.json"
  grep -q 'totals.sim_time_s' "$T/out" && ok "json: json_same.py names the changed value" \
    || bad "json: json_same.py output" "$(cat "$T/out")"
fi

if [ -n "${json_alone:-}" ]; then
  echo "json: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

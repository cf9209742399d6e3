#!/bin/sh
# place.sh MOESIM - end-to-end checks of `moesim place`: the published EPLB
# example (deepseek-ai/EPLB's README; issue #5) byte for byte, the other
# strategies, and bad tables and options exiting 2 with file:line messages.
# run.sh sources it (sharing BIN, T, ok, bad and expect_rc); run alone it
# prints its own "N passed, N failed" and exits 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: place.sh path/to/moesim}
  . tests/e2e/lib.sh
  place_alone=1
fi

EX=tests/e2e/eplb-example.csv
ex_json='{"phy2log": [[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1],[7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]], "logcnt": [[1,2,1,1,2,2,1,1,1,1,2,1],[1,2,1,1,1,2,2,1,2,1,1,1]], "gpu_load": [[121.5,86.5,125,113,147.5,131.5,156,152],[173,179.5,120.5,172,123,152,118.5,117.5]], "max_over_mean": [1.2081316553727008,1.2422145328719723]}'
expect_rc "place: the published EPLB example" 0 "$BIN" place --loads "$EX" --strategy eplb \
  --replicas 16 --groups 4 --nodes 2 --gpus 8
[ "$(cat "$T/out")" = "$ex_json" ] && ok "place: EPLB example output is exactly the reference's" \
  || bad "place: EPLB example output" "got: $(head -c 400 "$T/out")"
expect_rc "place: --opt=value spelling" 0 "$BIN" place --loads="$EX" --replicas=16 --groups=4 --nodes=2 --gpus=8
[ "$(cat "$T/out")" = "$ex_json" ] && ok "place: --opt=value gives the same output" || bad "place: --opt=value output"
expect_rc "place --help exits 0" 0 "$BIN" place --help

# balanced packs the heaviest first: layer 0's max/mean drops below contiguous's
for s in contiguous round_robin balanced random; do
  expect_rc "place: --strategy $s" 0 "$BIN" place --loads "$EX" --strategy $s --gpus 4
  cp "$T/out" "$T/place-$s.json"
done
mom() { sed -n 's/.*"max_over_mean": \[\([0-9.e+-]*\),.*/\1/p' "$1"; }
if awk -v b="$(mom "$T/place-balanced.json")" -v c="$(mom "$T/place-contiguous.json")" \
  'BEGIN { exit !(b + 0 < c + 0) }'; then ok "place: balanced beats contiguous on max/mean"
else bad "place: balanced vs contiguous" "$(mom "$T/place-balanced.json") vs $(mom "$T/place-contiguous.json")"; fi

# bad input: exit 2, a message naming what is wrong
printf '1,2,3\n4,x,6\n' > "$T/bad.csv"
expect_rc "place: a bad number is bad input (2)" 2 "$BIN" place --loads "$T/bad.csv" --gpus 3
grep -q "bad.csv:2: column 2: \"x\" is not a number" "$T/err" && ok "place: error names file:line" \
  || bad "place: error names file:line" "$(cat "$T/err")"
expect_rc "place: --groups must divide the experts (2)" 2 "$BIN" place --loads "$EX" --groups 5 --gpus 8
grep -q "allowed: a divisor of 12" "$T/err" && ok "place: --groups error says what fits" || bad "place: --groups message" "$(cat "$T/err")"
expect_rc "place: --replicas must be a multiple of --gpus (2)" 2 "$BIN" place --loads "$EX" --replicas 18 --gpus 8
expect_rc "place: --replicas below the experts (2)" 2 "$BIN" place --loads "$EX" --replicas 8 --gpus 8
expect_rc "place: --nodes must divide --gpus (2)" 2 "$BIN" place --loads "$EX" --nodes 3 --gpus 8
expect_rc "place: missing --gpus (2)" 2 "$BIN" place --loads "$EX"
expect_rc "place: missing table (2)" 2 "$BIN" place --loads "$T/none.csv" --gpus 4
[ ! -s "$T/out" ] && ok "place: nothing on stdout after an error" || bad "place: stdout after an error"

if [ -n "${place_alone:-}" ]; then
  echo "place: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

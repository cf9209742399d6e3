#!/bin/sh
# compare.sh MOESIM - end-to-end checks of `moesim compare`: four variants of
# a small Mixtral run, outputs byte-identical whatever --jobs is, figures
# equal to `moesim run`'s for the same keys, bad values and usage errors
# exiting 2 with nothing written. run.sh sources it (sharing BIN, T, ok, bad
# and expect_rc); run alone it prints its own "N passed, N failed" and exits
# 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: compare.sh path/to/moesim}
  . tests/e2e/lib.sh
  compare_alone=1
fi

CMP_CFG=scenarios/mixtral-8x7b-h100x8.cfg
CMP_SMALL="--set workload.batches=2 --set workload.tokens_per_rank=256"
CMP_VARY="--vary model.router.capacity_factor=1.0,2.0 --vary parallel.ep=4,8"

# ---- four variants, --jobs 1 and --jobs 3
expect_rc "compare: 4 variants, --jobs 1" 0 "$BIN" compare "$CMP_CFG" $CMP_SMALL $CMP_VARY \
  --jobs 1 --no-progress --json "$T/c1.json" --csv "$T/c1.csv"
cp "$T/out" "$T/c1.txt"
rows=$(grep -c '^ *[12]\.0  *[48] ' "$T/c1.txt")
[ "$rows" = 4 ] && ok "compare: the table has 4 rows" || bad "compare: table rows" "$rows rows: $(cat "$T/c1.txt")"
grep -q "mixtral-8x7b-h100x8 (seed 1)" "$T/c1.txt" && ok "compare: the table names scenario and seed" \
  || bad "compare: table header" "$(head -n 1 "$T/c1.txt")"
expect_rc "compare: 4 variants, --jobs 3" 0 "$BIN" compare "$CMP_CFG" $CMP_SMALL $CMP_VARY \
  --jobs=3 --no-progress --json "$T/c3.json" --csv "$T/c3.csv"
cmp -s "$T/c1.json" "$T/c3.json" && ok "compare: JSON byte-identical, --jobs 1 and 3" || bad "compare: JSON differs between --jobs 1 and 3"
cmp -s "$T/c1.csv" "$T/c3.csv" && ok "compare: CSV byte-identical, --jobs 1 and 3" || bad "compare: CSV differs between --jobs 1 and 3"
cmp -s "$T/c1.txt" "$T/out" && ok "compare: table identical, --jobs 1 and 3" || bad "compare: table differs between --jobs 1 and 3"
grep -q '"schema": "moesim.compare/1"' "$T/c1.json" && ok "compare: JSON schema" || bad "compare: JSON schema"

# The CSV: a header and 4 rows in nested-loop order (the first --vary slowest)
[ "$(wc -l < "$T/c1.csv")" -eq 5 ] && ok "compare: CSV has a header and 4 rows" || bad "compare: CSV lines" "$(cat "$T/c1.csv")"
order=$(sed 1d "$T/c1.csv" | cut -d, -f1,2 | tr '\n' ' ')
[ "$order" = "1.0,4 1.0,8 2.0,4 2.0,8 " ] && ok "compare: rows in nested-loop order" || bad "compare: row order" "$order"
head -n 1 "$T/c1.csv" | grep -q '^model.router.capacity_factor,parallel.ep,dropped_share,gpu_load_max_over_mean,internode_byte_share,dispatch_p50_s,dispatch_p99_s,combine_p50_s,combine_p99_s,step_p50_s,throughput_tokens_per_s,throughput_ratio,needed_bytes$' \
  && ok "compare: CSV columns" || bad "compare: CSV columns" "$(head -n 1 "$T/c1.csv")"

# capacity factor 2.0 drops less than 1.0 (same ep); the first ratio is 1
csv_col() { awk -F, -v cf="$2" -v ep="$3" -v c="$4" '$1 == cf && $2 == ep { print $c }' "$1"; }
d1=$(csv_col "$T/c1.csv" 1.0 8 3)
d2=$(csv_col "$T/c1.csv" 2.0 8 3)
if awk -v a="$d2" -v b="$d1" 'BEGIN { exit !(a + 0 < b + 0) }'; then ok "compare: capacity factor 2.0 drops less than 1.0"
else bad "compare: capacity factor 2.0 vs 1.0" "dropped $d2 vs $d1"; fi
r1=$(sed -n 2p "$T/c1.csv" | awk -F, '{ print $12 }') # after the two keys and ten figures
[ "$r1" = 1 ] && ok "compare: the first row's throughput_ratio is 1" || bad "compare: first throughput_ratio" "$r1"

# each variant's dropped_share and throughput are what `moesim run` reports
same=0
for cf in 1.0 2.0; do
  for ep in 4 8; do
    "$BIN" run "$CMP_CFG" $CMP_SMALL --set model.router.capacity_factor=$cf --set parallel.ep=$ep \
      --quiet --json "$T/r.json" 2>"$T/err"
    want=$(sed -n 's/^ *"dropped_share": \([-0-9.e+]*\).*/\1/p' "$T/r.json" | head -n 1)
    got=$(csv_col "$T/c1.csv" $cf $ep 3)
    wt=$(sed -n 's/.*"throughput_tokens_per_s": \([-0-9.e+]*\).*/\1/p' "$T/r.json" | head -n 1)
    gt=$(csv_col "$T/c1.csv" $cf $ep 11)
    if [ -n "$want" ] && [ "$got" = "$want" ] && [ "$gt" = "$wt" ]; then same=$((same + 1))
    else bad "compare: cf $cf ep $ep matches run" "dropped $got vs $want, throughput $gt vs $wt"; fi
  done
done
[ "$same" = 4 ] && ok "compare: every variant's dropped share and throughput equal run's"

# ---- a refused variant is a row with its error (issue 10): exit 1, the
# other rows' results, no JSON or CSV (they are written only when every
# variant ran)
rm -f "$T/bad.json" "$T/bad.csv"
expect_rc "compare: a refused --vary value fails its row (1)" 1 "$BIN" compare "$CMP_CFG" $CMP_SMALL \
  --vary parallel.ep=4,7 --json "$T/bad.json" --csv "$T/bad.csv" --no-progress
grep -q "variant 2 of 2 (parallel.ep=7) failed: .*parallel.ep: 7 .*allowed" "$T/err" \
  && ok "compare: the error names the variant, key, value and what is allowed" || bad "compare: bad value message" "$(cat "$T/err")"
grep -q "^parallel.ep=7  failed: .*parallel.ep: 7 does not divide" "$T/out" \
  && grep -q '^ *4  *[0-9.]*%' "$T/out" && ok "compare: the refused row says why, the other row has results" \
  || bad "compare: rows with a refused variant" "$(cat "$T/out")"
[ ! -e "$T/bad.json" ] && [ ! -e "$T/bad.csv" ] && ok "compare: a failed variant writes no file" \
  || bad "compare: a failed variant left a file"
ls "$T"/bad.json.tmp.* "$T"/bad.csv.tmp.* >/dev/null 2>&1 && bad "compare: temporary file left behind" \
  || ok "compare: no temporary file left behind"
# one variant does not fit in memory (EP 1: every GPU holds all 8 experts)
expect_rc "compare: a variant that does not fit in memory fails its row (1)" 1 "$BIN" compare \
  "$CMP_CFG" $CMP_SMALL --vary parallel.ep=1,8 --no-progress
grep -q "^parallel.ep=1  failed: .*model does not fit: 93.5 GB needed per GPU" "$T/out" \
  && grep -q '^ *8  *7.63%  *1.325x' "$T/out" \
  && ok "compare: the memory-fit row says why, EP 8 has its figures" || bad "compare: memory-fit rows" "$(cat "$T/out")"
expect_rc "compare: an unknown key is bad input (2)" 2 "$BIN" compare "$CMP_CFG" --vary model.topk=1,2
grep -q "model.topk" "$T/err" && ok "compare: unknown key named" || bad "compare: unknown key message" "$(cat "$T/err")"

# ---- usage errors
expect_rc "compare: no --vary (2)" 2 "$BIN" compare "$CMP_CFG"
expect_rc "compare: --vary without '=' (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep
expect_rc "compare: --vary with no values (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=
expect_rc "compare: an empty value (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=4,,8
expect_rc "compare: a key varied twice (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=4 --vary parallel.ep=8
grep -q "parallel.ep is varied twice" "$T/err" && ok "compare: duplicate key named" || bad "compare: duplicate key message" "$(cat "$T/err")"
expect_rc "compare: --jobs 0 (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=4,8 --jobs 0
expect_rc "compare: --jobs x (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=4,8 --jobs x
expect_rc "compare: unknown option (2)" 2 "$BIN" compare "$CMP_CFG" --vary parallel.ep=4,8 --frob
expect_rc "compare: missing scenario file (2)" 2 "$BIN" compare "$T/nope.cfg" --vary parallel.ep=4,8
expect_rc "compare --help exits 0" 0 "$BIN" compare --help
grep -q "^usage: moesim compare" "$T/out" && ok "compare --help prints the usage" || bad "compare --help output"
expect_rc "help compare exits 0" 0 "$BIN" help compare
expect_rc "compare: unwritable --json refused before the runs (2)" 2 "$BIN" compare "$CMP_CFG" $CMP_SMALL \
  --vary parallel.ep=4,8 --json "$T/no/such/dir/x.json"

if [ -n "${compare_alone:-}" ]; then
  echo "compare: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

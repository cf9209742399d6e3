#!/bin/sh
# trace.sh MOESIM - end-to-end checks of routing traces: a run records one,
# a replay of it gives the same results, the same run records the same bytes,
# and damaged or mismatched traces are refused (exit 2) before anything is
# written. run.sh sources it (sharing BIN, T, ok, bad and expect_rc); run
# alone it prints its own "N passed, N failed" and exits 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: trace.sh path/to/moesim}
  . tests/e2e/lib.sh
  trace_alone=1
fi

TR_SMALL="--set workload.batches=2 --set workload.tokens_per_rank=256 --set placement.warmup_batches=1"
TR_REPLAY="--set workload.source.kind=trace --set workload.source.file=$T/t.mtr.gz"

# ---- record, and record again: the same bytes
expect_rc "trace: record" 0 "$BIN" run $TR_SMALL --quiet --json "$T/t-run.json" --trace "$T/t.mtr.gz"
[ "$(head -c 2 "$T/t.mtr.gz" | od -An -tx1 | tr -d ' ')" = "1f8b" ] \
  && ok "trace: a gzip stream" || bad "trace: not gzip" "$(head -c 16 "$T/t.mtr.gz" | od -An -tx1)"
expect_rc "trace: record again" 0 "$BIN" run $TR_SMALL --quiet --trace "$T/t2.mtr.gz"
cmp -s "$T/t.mtr.gz" "$T/t2.mtr.gz" && ok "trace: same run, byte-identical trace" \
  || bad "trace: two recordings differ"

# ---- replay: the same results (the source and the aux loss aside), and a
# recording of the replay is the trace itself
expect_rc "trace: replay" 0 "$BIN" run $TR_SMALL $TR_REPLAY --quiet --json "$T/t-replay.json" \
  --trace "$T/t3.mtr.gz"
strip() { grep -v -e '"aux_loss"' -e '"source"' -e '"file"' "$1"; }
if [ "$(strip "$T/t-run.json")" = "$(strip "$T/t-replay.json")" ]; then
  ok "trace: replay gives the recorded run's results"
else
  bad "trace: replay differs" "$(strip "$T/t-run.json" > "$T/x1"; strip "$T/t-replay.json" > "$T/x2"; diff "$T/x1" "$T/x2" | head -n 6)"
fi
grep -q '"aux_loss": null' "$T/t-replay.json" && ok "trace: replay has no aux loss (null)" \
  || bad "trace: replay aux_loss" "$(grep -m1 aux_loss "$T/t-replay.json")"
cmp -s "$T/t.mtr.gz" "$T/t3.mtr.gz" && ok "trace: re-recorded replay equals the trace" \
  || bad "trace: re-recorded replay differs"

expect_rc "trace: check reads the trace" 0 "$BIN" check scenarios/mixtral-8x7b-h100x8.cfg \
  $TR_SMALL $TR_REPLAY

# ---- expert choice: the experts' picks replay as the router's own (no
# capacity drops on top, the same tokens without an expert)
expect_rc "trace: record expert choice" 0 "$BIN" run $TR_SMALL --set model.router.kind=expert_choice \
  --quiet --json "$T/ec-run.json" --trace "$T/ec.mtr.gz"
expect_rc "trace: replay expert choice" 0 "$BIN" run $TR_SMALL --set model.router.kind=expert_choice \
  --set workload.source.kind=trace --set "workload.source.file=$T/ec.mtr.gz" --quiet \
  --json "$T/ec-replay.json"
if [ "$(strip "$T/ec-run.json")" = "$(strip "$T/ec-replay.json")" ]; then
  ok "trace: expert-choice replay gives the recorded results"
else
  bad "trace: expert-choice replay differs"
fi

# ---- a different placement on the same trace: same loads, other GPU balance
expect_rc "trace: replay under eplb" 0 "$BIN" run $TR_SMALL $TR_REPLAY --set placement.strategy=eplb \
  --quiet --json "$T/t-eplb.json"
w1=$(grep -m1 '"wanted"' "$T/t-replay.json")
w2=$(grep -m1 '"wanted"' "$T/t-eplb.json")
[ -n "$w1" ] && [ "$w1" = "$w2" ] && ok "trace: eplb sees the same wanted loads" \
  || bad "trace: wanted loads differ under eplb" "$w1 / $w2"

# ---- damaged and mismatched traces: exit 2, a message, nothing written
size=$(wc -c < "$T/t.mtr.gz")
head -c $((size / 2)) "$T/t.mtr.gz" > "$T/cut.mtr.gz"
expect_rc "trace: truncated trace is bad input (2)" 2 "$BIN" run $TR_SMALL --quiet \
  --set workload.source.kind=trace --set "workload.source.file=$T/cut.mtr.gz" --json "$T/cut.json"
grep -q -i -e truncat -e corrupt "$T/err" && ok "trace: truncation is named" || bad "trace: truncation message" "$(cat "$T/err")"
[ ! -e "$T/cut.json" ] && ok "trace: refused replay writes no JSON" || bad "trace: refused replay left JSON"
expect_rc "trace: check refuses the truncated trace (2)" 2 "$BIN" check \
  scenarios/mixtral-8x7b-h100x8.cfg $TR_SMALL \
  --set workload.source.kind=trace --set "workload.source.file=$T/cut.mtr.gz"
cp "$T/t.mtr.gz" "$T/flip.mtr.gz"
printf '\377' | dd of="$T/flip.mtr.gz" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_rc "trace: corrupt trace is bad input (2)" 2 "$BIN" run $TR_SMALL --quiet \
  --set workload.source.kind=trace --set "workload.source.file=$T/flip.mtr.gz"
printf 'not a trace\n' > "$T/text.mtr.gz"
expect_rc "trace: a text file is bad input (2)" 2 "$BIN" run $TR_SMALL --quiet \
  --set workload.source.kind=trace --set "workload.source.file=$T/text.mtr.gz"
expect_rc "trace: missing file is bad input (2)" 2 "$BIN" run $TR_SMALL --quiet \
  --set workload.source.kind=trace --set "workload.source.file=$T/none.mtr.gz"
expect_rc "trace: other top_k is bad input (2)" 2 "$BIN" run $TR_SMALL $TR_REPLAY --quiet \
  --set model.top_k=1
grep -q "choices per token" "$T/err" && ok "trace: the mismatch is named" || bad "trace: mismatch message" "$(cat "$T/err")"
expect_rc "trace: more batches than recorded is bad input (2)" 2 "$BIN" run $TR_SMALL $TR_REPLAY \
  --quiet --set workload.batches=5
grep -q "batches" "$T/err" && ok "trace: the batch shortfall is named" || bad "trace: batches message" "$(cat "$T/err")"
expect_rc "trace: reroute with a trace is bad input (2)" 2 "$BIN" run $TR_SMALL $TR_REPLAY --quiet \
  --set model.router.overflow=reroute
expect_rc "trace: unwritable trace path refused before the run (2)" 2 "$BIN" run $TR_SMALL --quiet \
  --trace "$T/no/such/dir/t.mtr.gz"

# ---- analysis/mtrace.py reads what moesim writes, and writes it back byte
# for byte (what a planner's conversion of production logs goes through)
if command -v python3 >/dev/null 2>&1; then
  expect_rc "mtrace.py summary" 0 python3 analysis/mtrace.py summary "$T/t.mtr.gz"
  grep -q "8 experts, 2 choices per token, 32 MoE layers, 8 sources x 256 tokens per batch" "$T/out" \
    && grep -q "^  3 batches" "$T/out" && ok "mtrace.py: the header and 3 batches" \
    || bad "mtrace.py summary" "$(head -n 3 "$T/out")"
  expect_rc "mtrace.py to-csv" 0 python3 analysis/mtrace.py to-csv "$T/t.mtr.gz" "$T/t.csv"
  [ "$(wc -l < "$T/t.csv")" = 196609 ] && ok "mtrace.py: one CSV row per batch, layer and token" \
    || bad "mtrace.py to-csv rows" "$(wc -l < "$T/t.csv")"
  expect_rc "mtrace.py from-csv" 0 python3 analysis/mtrace.py from-csv "$T/t.csv" "$T/t5.mtr.gz" \
    --experts 8 --slots 2 --moe-layers 32 --sources 8 --tokens-per-source 256 \
    --name mixtral-8x7b-h100x8 --seed 1
  cmp -s "$T/t.mtr.gz" "$T/t5.mtr.gz" && ok "mtrace.py: CSV back to the same trace, byte for byte" \
    || bad "mtrace.py: the rewritten trace differs"
  expect_rc "mtrace.py refuses the truncated trace" 1 python3 analysis/mtrace.py summary "$T/cut.mtr.gz"
  expect_rc "mtrace.py refuses the flipped byte" 1 python3 analysis/mtrace.py summary "$T/flip.mtr.gz"
else
  echo "skip mtrace.py checks (no python3)"
fi

if [ -n "${trace_alone:-}" ]; then
  echo "trace: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

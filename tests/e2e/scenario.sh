# scenario.sh - the scenario loader's refusals seen from `run` (sourced from
# run.sh with BIN set; it shares ok, bad, expect_rc and $T): every bad case of
# issue 16 gives `run` the same first line and exit status as `check`, writes
# nothing, and the integers libconfig would wrap load as written.

# run refuses what check refuses, with the same message, and writes no file
for n in include_dir include_missing include_loop layers_wrap seed_wrap nesting_deep \
         string_too_long name_not_utf8 syntax_empty_string flops_no_tera bandwidth_one_byte \
         latency_huge bandwidth_1e80 gpus_over_cap gpus_times_tokens logits_inf \
         min_capacity_huge host_memory batches_time flops_slow_time; do
  f=tests/bad/$n.cfg
  want=$(head -n 1 "tests/bad/$n.err")
  got=$("$BIN" run "$f" --quiet --no-progress --json "$T/bad.json" 2>&1 >/dev/null); rc=$?
  if [ "$rc" = 2 ] && [ "$got" = "$want" ] && [ ! -e "$T/bad.json" ]; then ok "run refuses $f as check does"
  else bad "run refuses $f as check does" "exit $rc; got: $got; wanted: $want"; fi
  rm -f "$T/bad.json"
done

# a seed past 32 bits is the seed written, not its low 32 bits
sed 's/^seed = -1;/seed = 4294967297;/' tests/bad/seed_negative.cfg > "$T/seed.cfg"
expect_rc "seed = 4294967297 runs" 0 "$BIN" run "$T/seed.cfg" --quiet --no-progress \
  --set workload.batches=1 --set workload.tokens_per_rank=64 --json "$T/seed.json"
grep -q '"seed": 4294967297,' "$T/seed.json" && ok "seed = 4294967297 is reported as 4294967297" \
  || bad "seed = 4294967297 is reported as 4294967297" "$(grep -o '"seed": [0-9]*' "$T/seed.json")"
expect_rc "--seed 18446744073709551616 is refused (2)" 2 "$BIN" run "$T/seed.cfg" --seed 18446744073709551616
grep -q -- '18446744073709551616' "$T/err" && ok "--seed past 64 bits names the value" \
  || bad "--seed past 64 bits names the value" "$(cat "$T/err")"
expect_rc "--set seed=9223372036854775808 is refused (2)" 2 "$BIN" check "$T/seed.cfg" \
  --set seed=9223372036854775808
grep -q 'seed: 9223372036854775808 is beyond 2^63 - 1' "$T/err" && ok "a seed past 2^63 - 1 names the value" \
  || bad "a seed past 2^63 - 1 names the value" "$(cat "$T/err")"

# a 50 MB name is refused at once (libconfig would take minutes over it)
if command -v python3 >/dev/null 2>&1; then
  python3 -c "print('name = \"' + 'a' * 50000000 + '\";')" > "$T/big.cfg"
  start=$(date +%s)
  expect_rc "a 50 MB name is refused (2)" 2 "$BIN" check "$T/big.cfg"
  [ $(( $(date +%s) - start )) -le 10 ] && ok "a 50 MB name is refused within 10 s" \
    || bad "a 50 MB name is refused within 10 s"
  rm -f "$T/big.cfg"
fi

# check prints the memory estimates next to each other
expect_rc "check prints the memory estimates" 0 "$BIN" check scenarios/mixtral-8x7b-h100x8.cfg
grep -q "^memory: .* GB per GPU of .* GB; the simulator's own about .* GB of .* GB (limits.host_memory)$" \
  "$T/out" && ok "check: memory per GPU and the simulator's own" || bad "check: memory line" "$(cat "$T/out")"

# overlap.sh - exposed communication and the streams, end to end (sourced by
# run.sh). tests/e2e/overlap.cfg: every GPU computes the same, the
# all-to-alls are much shorter than the compute around them.
OV=tests/e2e/overlap.cfg

# A number from a report: num FILE PYTHON_EXPRESSION_OF_d
num() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}

"$BIN" run "$OV" --quiet --json "$T/ov-none.json" >/dev/null 2>&1
"$BIN" run "$OV" --quiet --set 'workload.overlap="two_batch"' --json "$T/ov-two.json" \
  --timeline "$T/ov-two.tl.json" >/dev/null 2>&1

# overlap = none: a GPU's compute waits for every dispatch and combine whole
exp_none=$(num "$T/ov-none.json" "d['totals']['exposed_s']['alltoall']['sum_ps']")
a2a=$(num "$T/ov-none.json" "d['totals']['dispatch_s']['sum_ps'] + d['totals']['combine_s']['sum_ps']")
gpus=$(num "$T/ov-none.json" "d['cluster']['gpus']")
if [ -n "$a2a" ] && [ "$a2a" -gt 0 ] && [ "$exp_none" = "$((a2a * gpus))" ]; then
  ok "overlap: none exposes every all-to-all whole ($exp_none ps = $gpus GPUs x $a2a ps)"
else
  bad "overlap: none exposes every all-to-all whole" "exposed $exp_none ps, all-to-alls $a2a ps x $gpus GPUs"
fi

# two_batch: each all-to-all runs under the other micro-batch's compute
exp_two=$(num "$T/ov-two.json" "d['totals']['exposed_s']['alltoall']['max_ps']")
n_two=$(num "$T/ov-two.json" "d['totals']['exposed_s']['alltoall']['n']")
if [ "$exp_two" = 0 ] && [ "$n_two" = "$((2 * gpus))" ]; then
  ok "overlap: two_batch hides every all-to-all (exposed 0 ps on $n_two GPU-batches)"
else
  bad "overlap: two_batch hides every all-to-all" "exposed max $exp_two ps over $n_two samples"
fi
faster=$(num "$T/ov-two.json" "int(d['totals']['step_s']['sum_ps'] < json.load(open('$T/ov-none.json'))['totals']['step_s']['sum_ps'])")
[ "$faster" = 1 ] && ok "overlap: two_batch takes less time than none" \
  || bad "overlap: two_batch takes less time than none"

# the timeline shows it: a dispatch on a GPU's communication row (tid 2g + 1)
# while its compute row (tid 2g) runs
both=$(python3 - "$T/ov-two.tl.json" <<'PY' 2>/dev/null
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e.get("ph") == "X"]
comp = [e for e in ev if e["pid"] == 0 and e["tid"] == 0]
disp = [e for e in ev if e["pid"] == 0 and e["tid"] == 1 and e["name"] == "dispatch"]
print(sum(1 for d in disp for c in comp
          if c["ts"] < d["ts"] + d["dur"] and d["ts"] < c["ts"] + c["dur"]))
PY
)
[ -n "$both" ] && [ "$both" -gt 0 ] && ok "overlap: the timeline shows dispatches under compute ($both pairs on GPU 0)" \
  || bad "overlap: the timeline shows dispatches under compute" "got: $both"

# two pipeline stages of 3 and 2 layers: sends between them, a bubble
"$BIN" run "$OV" --quiet --set parallel.pp=2 --set 'parallel.pp_layers=[3, 2]' --set parallel.dp=4 \
  --set parallel.ep=4 --set workload.micro_batches=4 --set workload.tokens_per_rank=1024 \
  --json "$T/ov-pp.json" >/dev/null 2>&1; rc=$?
bub=$(num "$T/ov-pp.json" "int(0 < d['totals']['bubble_share'] < 0.5)")
ppn=$(num "$T/ov-pp.json" "d['totals']['exposed_s']['pp']['n']")
[ "$rc" = 0 ] && [ "$bub" = 1 ] && [ "$ppn" = "$((2 * gpus))" ] \
  && ok "overlap: pp = 2 runs with a bubble between 0 and 0.5" \
  || bad "overlap: pp = 2 runs with a bubble between 0 and 0.5" "exit $rc, bubble test $bub, pp samples $ppn"

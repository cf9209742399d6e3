#!/bin/sh
# train.sh MOESIM - training steps end to end: Megatron-LM's model FLOPs of
# two published models, a step's gradient bytes, collectives and optimizer
# counted by hand (tests/e2e/train.cfg), the pipeline schedules against the
# textbook (tests/e2e/train-pp.cfg), byte-identical reruns, the timeline's
# training rows, and training keys refused. run.sh sources it (sharing BIN,
# T, ok, bad and expect_rc); run alone it prints its own "N passed, N
# failed" and exits 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: train.sh path/to/moesim}
  . tests/e2e/lib.sh
  train_alone=1
fi
TR=tests/e2e/train.cfg
TPP=tests/e2e/train-pp.cfg

# A value from a JSON file: jnum FILE PYTHON_EXPRESSION_OF_d
jnum() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}
# A test on numbers: pyt PYTHON_EXPRESSION -> 1 or 0 (empty on error)
pyt() {
  python3 -c "print(int(bool($1)))" 2>/dev/null
}

# ---- 1. Model FLOPs per token (models/mflops.c: Megatron-LM's
# num_floating_point_operations), on one GPU and one sequence; 6 = 3
# (forward, input gradient, weight gradient) x 2 (FMA).
# Qwen3-30B-A3B: h 2048, 32 query / 4 KV heads of 128 (q 4096, kv 512),
# seq 4096, 48 layers, 128 experts top-8 of FFN 768 (SwiGLU: 3), vocab 151,936:
#   attention  6 x (2048 x (4096 + 2 x 512) + 4096 x 4096 + 4096 x 2048)
#            = 6 x 35,651,584 = 213,909,504 a layer; x 48 = 10,267,656,192
#   experts    6 x 2048 x 768 x 8 x 3 = 226,492,416 a layer; x 48 = 10,871,635,968
#   logits     6 x 2048 x 151,936                             =  1,867,190,272
#   total                                                      23,006,281,728
# Qwen3-235B-A22B: h 4096, 64 / 4 heads of 128 (q 8192, kv 512), 94 layers,
# expert FFN 1536:
#   attention  6 x (4096 x 9216 + 8192 x 4096 + 8192 x 4096)
#            = 6 x 104,857,600 = 629,145,600 a layer; x 94 = 59,139,686,400
#   experts    6 x 4096 x 1536 x 8 x 3 = 905,969,664 a layer; x 94 = 85,161,148,416
#   logits     6 x 4096 x 151,936                             =  3,733,979,136
#   total                                                     148,034,813,952
# MTP (model.mtp_layers = 1 on Qwen3-30B-A3B): one more MoE layer
# (213,909,504 + 226,492,416), its norms and 2 h^2 projection 6 x (3 x 2048
# + 2 x 2048^2) = 50,368,512, one more output layer 1,867,190,272:
# 2,357,760,000 over 23,006,281,728 = 25,364,041,728.
cat > "$T/qwen3-30b.cfg" <<'EOF'
name = "qwen3-30b-a3b";
model = { layers = 48; hidden = 2048; heads = 32; kv_heads = 4; head_dim = 128;
  experts = 128; top_k = 8; expert_ffn = 768; vocab = 151936; activation = "swiglu";
  router = { overflow = "dropless"; force_balance = true; }; };
cluster = { nodes = 1; gpus_per_node = 1; gpu = "H100-SXM"; check_memory = false; };
parallel = { ep = 1; };
workload = { mode = "training"; seq_len = 4096; global_batch = 1; };
EOF
QW235="--set model.layers=94 --set model.hidden=4096 --set model.heads=64 --set model.expert_ffn=1536"
"$BIN" run "$T/qwen3-30b.cfg" --quiet --json "$T/q30.json" >/dev/null 2>&1
"$BIN" run "$T/qwen3-30b.cfg" --quiet $QW235 --json "$T/q235.json" >/dev/null 2>&1
"$BIN" run "$T/qwen3-30b.cfg" --quiet --set model.mtp_layers=1 --json "$T/q30m.json" >/dev/null 2>&1
# flops_is JSON NAME FLOP FOUR_DIGITS
flops_is() {
  g=$(jnum "$T/$1.json" "d['totals']['gflop_per_token']")
  sig=$(python3 -c "print('%.5g' % float('$g'))" 2>/dev/null)
  exact=$(python3 -c "print(round(float('$g') * 1e9))" 2>/dev/null)
  if [ "$sig" = "$4" ] && [ "$exact" = "$3" ]; then
    ok "train: $2 gflop_per_token $g = $3 FLOP (Megatron-LM's formula)"
  else
    bad "train: $2 gflop_per_token" "got $g ($exact FLOP), wanted $4 ($3 FLOP)"
  fi
}
flops_is q30 Qwen3-30B-A3B 23006281728 23.006
flops_is q235 Qwen3-235B-A22B 148034813952 148.03
flops_is q30m Qwen3-30B-A3B+MTP 25364041728 25.364
# the arithmetic above, by the machine (a slip in the comment must not
# pass for the simulator's)
want=$(python3 -c "
def f(L, h, q, kv, F, V=151936, s=4096, k=8, mtp=0):
    a = 6 * (h * (q + 2 * kv) + q * s / 2 * 2 + q * h)
    return int((L + mtp) * (a + 6 * h * F * k * 3) + mtp * 6 * (3 * h + 2 * h * h) + (mtp + 1) * 6 * h * V)
print(f(48, 2048, 4096, 512, 768), f(94, 4096, 8192, 512, 1536), f(48, 2048, 4096, 512, 768, mtp=1))" 2>/dev/null)
[ "$want" = "23006281728 148034813952 25364041728" ] \
  && ok "train: the three FLOP counts by hand: $want" || bad "train: FLOP counts by hand" "python gives $want"

# tflops_per_gpu = gflop_per_token x tokens / sim_time_s / gpus; mfu over
# the H100's 989 TFLOP/s (BF16 dense)
r=$(jnum "$T/q30.json" "int(abs(d['totals']['tflops_per_gpu'] - d['totals']['gflop_per_token'] * d['totals']['tokens'] / d['totals']['sim_time_s'] / d['cluster']['gpus'] / 1e3) < 1e-9 * d['totals']['tflops_per_gpu'] and abs(d['totals']['mfu'] - d['totals']['tflops_per_gpu'] / 989) < 1e-12)")
tf=$(jnum "$T/q30.json" "'%.2f TFLOP/s, MFU %.4f' % (d['totals']['tflops_per_gpu'], d['totals']['mfu'])")
[ "$r" = 1 ] && ok "train: tflops_per_gpu = GFLOP/token x tokens / time / GPUs, mfu = it / 989 ($tf)" \
  || bad "train: tflops_per_gpu and mfu" "got $tf"

# ---- 2. Gradient bytes of one step (train.cfg's head counts the
# parameters: dense 907,264 per GPU, experts 1,572,864 per GPU), FP32
# gradients (4 B): dense 3,629,056 B a replica, experts 6,291,456 B a GPU.
# Bytes sent, all GPUs: a ring all-reduce of S bytes over n GPUs sends
# 2 (n - 1) S / n from each, 2 (n - 1) S per group; ZeRO-1's reduce-scatter
# (n - 1) S.
#   zero 0: dense 1 group of 4: 6 x 3,629,056 = 21,774,336
#           experts 2 groups of 2: 2 x 2 x 6,291,456 = 25,165,824; sum 46,940,160
#   zero 1: dense 3 x 3,629,056 = 10,887,168
#           experts 2 x 1 x 6,291,456 = 12,582,912;              sum 23,470,080
# Memory per GPU: weights (BF16) 2 x 2,480,128 = 4,960,256; gradients 4 x =
# 9,920,512; Adam 12 x 2,480,128 = 29,761,536, or with ZeRO-1 12 x
# (907,264 / 4 + 1,572,864 / 2) = 12 x 1,013,248 = 12,158,976.
# With 1 MB buckets each layer is a bucket: dense 453,632 parameters (its
# attention, gate and one vocabulary matrix), experts 786,432. A ring
# phase moves S / n at 100 GB/s plus 1 us latency and 1 us overhead:
#   dense  n 4: 453,632 x 4 B / 4 = 453,632 B: 4.53632 + 2 = 6.53632 us;
#          all-reduce 6 phases 39.21792 us, reduce-scatter 3: 19.60896 us
#   expert n 2: 786,432 x 4 B / 2 = 1,572,864 B: 15.72864 + 2 = 17.72864 us;
#          all-reduce 2 phases 35.45728 us, reduce-scatter 1: 17.72864 us
#   the step's four: 2 x (39.21792 + 35.45728) = 149.3504 us (zero 1: 74.6752)
# Adam reads and writes 24 B of FP32 state, the 4 B gradient and the 2 B
# weight of each parameter it updates, from HBM at 3 TB/s:
#   zero 0: 2,480,128 x 30 B = 74,403,840 B: 24.80128 us
#   zero 1: 1,013,248 x 30 B = 30,397,440 B: 10.13248 us
# DP = 2 (2 GPUs, ep 1: the expert-data-parallel group is the same 2): a
# ring all-reduce over 2 sends each member S, so the step's gradient bytes
# are, per GPU, the dense gradients of one replica (907,264 x 4 B =
# 3,629,056) plus the expert gradients of its EDP group (4 experts x 2
# layers x 3 x 256 x 512 = 3,145,728 x 4 B = 12,582,912): 2 x 16,211,968 =
# 32,423,936 over both GPUs.
"$BIN" run "$TR" --quiet --set cluster.gpus_per_node=2 --set parallel.dp=2 --set parallel.ep=1 \
  --json "$T/tr-dp2.json" >/dev/null 2>&1
gb=$(jnum "$T/tr-dp2.json" "d['totals']['grad_sync_bytes']")
[ "$gb" = "32423936" ] &&
  ok "train: dp 2: grad_sync_bytes = dense gradients per replica + expert gradients per EDP group, per GPU ($gb)" ||
  bad "train: dp 2: grad_sync_bytes" "got $gb, wanted 32423936"

# zero_step ZERO BYTES ADAM_BYTES RED_MAX RED_MIN RED_SUM ADAM_PS
zero_step() {
  j=$T/tr-z$1.json
  "$BIN" run "$TR" --quiet --set training.zero=$1 --json "$j" >/dev/null 2>&1
  "$BIN" run "$TR" --quiet --set training.zero=$1 --set 'training.grad_bucket="1 MB"' \
    --json "$T/tr-z$1-b1.json" >/dev/null 2>&1
  gb=$(jnum "$j" "d['totals']['grad_sync_bytes']")
  [ "$gb" = "$2" ] && ok "train: zero $1: grad_sync_bytes = $gb (dense ring of 4 + 2 expert rings of 2)" \
    || bad "train: zero $1: grad_sync_bytes" "got $gb, wanted $2"
  mem=$(jnum "$j" "'%d %d %d' % (d['memory']['weights_bytes'], d['memory']['gradients_bytes'], d['memory']['optimizer_bytes'])")
  [ "$mem" = "4960256 9920512 $3" ] && ok "train: zero $1: weights, gradients, Adam bytes per GPU $mem" \
    || bad "train: zero $1: memory per GPU" "got $mem, wanted 4960256 9920512 $3"
  gs=$(jnum "$T/tr-z$1-b1.json" "'%d %d %d %d' % (d['totals']['grad_sync_s']['max_ps'], d['totals']['grad_sync_s']['min_ps'], d['totals']['grad_sync_s']['sum_ps'], d['totals']['optimizer_s']['max_ps'])")
  [ "$gs" = "$4 $5 $6 $7" ] && ok "train: zero $1: 1 MB buckets: reductions $4 / $5 ps (sum $6), Adam $7 ps" \
    || bad "train: zero $1: reduction and optimizer times" "got max min sum opt $gs, wanted $4 $5 $6 $7"
}
zero_step 0 46940160 29761536 39217920 35457280 149350400 24801280
zero_step 1 23470080 12158976 19608960 17728640 74675200 10132480
tok=$(jnum "$T/tr-z0.json" "d['totals']['tokens']")
[ "$tok" = 1024 ] && ok "train: a step's tokens = global batch 4 x seq_len 256 = 1024" \
  || bad "train: tokens of a step" "got $tok, wanted 1024"

# Buckets (training.grad_bucket, default 160 MB): the whole model's 3.6 MB
# of dense and 6.3 MB of expert gradients is one bucket, reduced once;
# with 1 MB each layer closes its own: two reductions of each kind. Count
# GPU 0's grad_dense spans on its "gpu 0 grad" row.
"$BIN" run "$TR" --quiet --timeline "$T/tr-b160.tl.json" >/dev/null 2>&1
"$BIN" run "$TR" --quiet --set 'training.grad_bucket="1 MB"' --timeline "$T/tr-b1.tl.json" >/dev/null 2>&1
ngrad() {
  python3 - "$1" <<'PY' 2>/dev/null
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
row = [(e["pid"], e["tid"]) for e in ev if e.get("ph") == "M" and e["name"] == "thread_name"
       and e["args"]["name"] == "gpu 0 grad"]
print(sum(1 for e in ev if e.get("ph") == "X" and (e["pid"], e["tid"]) in row
          and e["name"] == "grad_dense"))
PY
}
n160=$(ngrad "$T/tr-b160.tl.json"); n1=$(ngrad "$T/tr-b1.tl.json")
[ "$n160" = 1 ] && [ "$n1" = 2 ] && ok "train: buckets: one dense reduction with 160 MB, two with 1 MB" \
  || bad "train: buckets: dense reductions on GPU 0 (160 MB, 1 MB)" "got $n160, $n1; wanted 1, 2"

# Overlap off: the four reductions run after the backward, one after the
# other on the grad stream, and the optimizer waits for them all: each
# GPU's exposed data-parallel time is their sum, and on four GPUs that
# compute the same, in one stage, nothing is idle (bubble_share 0).
ex=$(jnum "$T/tr-z0-b1.json" "d['totals']['exposed_s']['dp']['min_ps']")
su=$(jnum "$T/tr-z0-b1.json" "d['totals']['grad_sync_s']['sum_ps']")
bs=$(jnum "$T/tr-z0-b1.json" "d['totals']['bubble_share']")
[ -n "$su" ] && [ "$ex" = "$su" ] && ok "train: overlap off: exposed dp = the four reductions ($ex ps)" \
  || bad "train: overlap off: exposed dp per GPU" "got min $ex ps, wanted the reductions' $su ps"
[ "$(pyt "abs(float('$bs')) < 0.01")" = 1 ] && ok "train: pp 1, GPUs alike: bubble_share $bs (< 0.01)" \
  || bad "train: pp 1, GPUs alike: bubble_share" "got $bs, wanted 0 (< 0.01)"
# Overlap on: layer 1's buckets reduce under layer 0's backward
"$BIN" run "$TR" --quiet --set 'training.grad_bucket="1 MB"' --set training.overlap_grad_reduce=true \
  --json "$T/tr-ov.json" >/dev/null 2>&1
s_off=$(jnum "$T/tr-z0-b1.json" "d['totals']['step_s']['sum_ps']")
s_on=$(jnum "$T/tr-ov.json" "d['totals']['step_s']['sum_ps']")
[ -n "$s_on" ] && [ -n "$s_off" ] && [ "$s_on" -lt "$s_off" ] \
  && ok "train: overlap_grad_reduce shortens the step ($s_on < $s_off ps)" \
  || bad "train: overlap_grad_reduce shortens the step" "on $s_on ps, off $s_off ps"

# Recomputation: activations per token and layer (memfit.c, Korthikanti et
# al.), BF16: attention 2 x 256 + 2 x 256 + 2 x 128 = 1,280 values; MoE
# 2 x 256 + 2 x 4 + top-2 x (2 x 256 + 3 x 512) = 4,616 (selective drops
# the expert activation, 2 x 512: 3,592); 256 tokens, 2 layers:
#   none - selective = 256 x 2 x 1,024 x 2 B = 1,048,576
#   full keeps each layer's input (256 x 2 x 256 x 2 B = 262,144) and one
#   layer's recomputation buffers (256 x 2 x 256 x 8 = 1,048,576):
#   none - full = 256 x 2 x 5,896 x 2 B - 262,144 - 1,048,576 = 4,726,784
for r in selective full; do
  "$BIN" run "$TR" --quiet --set "training.recompute=\"$r\"" --json "$T/tr-$r.json" >/dev/null 2>&1
done
rc_=$(python3 - "$T/tr-z0.json" "$T/tr-selective.json" "$T/tr-full.json" <<'PY' 2>/dev/null
import json, sys
d = [json.load(open(f)) for f in sys.argv[1:]]
a = [x["memory"]["activations_bytes"] for x in d]
s = [x["totals"]["step_s"]["sum_ps"] for x in d]
print(a[0] - a[1], a[0] - a[2], int(s[0] <= s[1] < s[2]))
PY
)
[ "$rc_" = "1048576 4726784 1" ] && ok "train: recompute: activations -1,048,576 B (selective), -4,726,784 B (full); slower steps" \
  || bad "train: recompute" "got (none - selective, none - full, none <= selective < full time) $rc_, wanted 1048576 4726784 1"

# ---- 3. Determinism: the same step twice, routed by the synthetic source
"$BIN" run "$TR" --quiet --set model.router.force_balance=false --json "$T/det-a.json" \
  --timeline "$T/det-a.tl.json" >/dev/null 2>&1
"$BIN" run "$TR" --quiet --set model.router.force_balance=false --json "$T/det-b.json" \
  --timeline "$T/det-b.tl.json" >/dev/null 2>&1
[ -s "$T/det-a.json" ] && cmp -s "$T/det-a.json" "$T/det-b.json" && cmp -s "$T/det-a.tl.json" "$T/det-b.tl.json" \
  && ok "train: the same step twice: byte-identical JSON and timeline" \
  || bad "train: the same step twice differs"

# ---- 4. Schedules (train-pp.cfg: pp 4, 8 micro-batches, stages alike,
# sends of nanoseconds). Textbook: GPipe and 1F1B idle (p - 1) (t_F + t_B)
# per stage of a step of (m + p - 1) (t_F + t_B), plus the optimizer, which
# every stage runs busy: bubble = (p - 1) / (m + p - 1) x (step - opt) /
# step = 3 / 11 x ...; the interleaved schedule of v chunks idles (p - 1) /
# v of it: 1.5 / 9.5 x ... (Narayanan et al. 2021). DualPipe holds two
# chunks, its stage's and its mirror's (2 x the parameters: DualPipe's
# README).
for sc in gpipe 1f1b interleaved dualpipe; do
  v=1; [ "$sc" = interleaved ] && v=2
  expect_rc "train: schedule $sc runs" 0 "$BIN" run "$TPP" --quiet --set "parallel.schedule=\"$sc\"" \
    --set parallel.vpp=$v --json "$T/pp-$sc.json" --timeline "$T/pp-$sc.tl.json"
  "$BIN" check "$TPP" --set "parallel.schedule=\"$sc\"" --set parallel.vpp=$v >"$T/pp-$sc.check" 2>&1
done
sched=$(python3 - "$T" <<'PY' 2>/dev/null
import json, sys
d = {s: json.load(open("%s/pp-%s.json" % (sys.argv[1], s))) for s in
     ("gpipe", "1f1b", "interleaved", "dualpipe")}
t = {s: d[s]["totals"] for s in d}
step = {s: t[s]["step_s"]["sum_ps"] for s in t}
opt = {s: t[s]["optimizer_s"]["max_ps"] for s in t}
bub = {s: t[s]["bubble_share"] for s in t}
text = {s: (3 / 11 if s != "interleaved" else 1.5 / 9.5) * (step[s] - opt[s]) / step[s]
        for s in ("gpipe", "1f1b", "interleaved")}
print(step["gpipe"], step["1f1b"], " ".join("%.4f" % bub[s] for s in d),
      " ".join("%.4f" % text[s] for s in text),
      d["gpipe"]["memory"]["activations_bytes"] - d["1f1b"]["memory"]["activations_bytes"],
      d["dualpipe"]["memory"]["weights_bytes"], d["1f1b"]["memory"]["weights_bytes"])
PY
)
# bubble_is SCHEDULE BUBBLE TEXTBOOK
bubble_is() {
  [ "$(pyt "0 < $2 < 1 and abs($2 - $3) < 0.01")" = 1 ] \
    && ok "train: $1 bubble_share $2, textbook $3" \
    || bad "train: $1 bubble_share" "got $2, textbook $3 (within 0.01)"
}
# sched_figures GPIPE_STEP 1F1B_STEP BUBBLE x 4 TEXTBOOK x 3 DACT W_DUAL W_1F1B
sched_figures() {
  [ $# = 12 ] || { bad "train: schedule figures" "got: $*"; return; }
  [ "$(pyt "abs($1 - $2) < 0.005 * $2")" = 1 ] \
    && ok "train: gpipe and 1f1b take the same step ($1, $2 ps)" \
    || bad "train: gpipe and 1f1b take the same step" "$1 vs $2 ps"
  bubble_is gpipe $3 $7
  bubble_is 1f1b $4 $8
  bubble_is interleaved $5 $9
  [ "$(pyt "$5 < $4")" = 1 ] && ok "train: interleaved (vpp 2) bubble $5 < 1f1b's $4" \
    || bad "train: interleaved bubble below 1f1b's" "$5 vs $4"
  [ "$(pyt "0 <= $6 < $4")" = 1 ] && ok "train: dualpipe bubble $6 < 1f1b's $4" \
    || bad "train: dualpipe bubble below 1f1b's" "$6 vs $4"
  shift 9
  [ "$2" = "$(($3 * 2))" ] && ok "train: dualpipe holds 2 x the weights ($2 B = 2 x $3 B)" \
    || bad "train: dualpipe weights" "got $2 B, wanted 2 x $3 B"
  # activations per token and layer: attention 2 x 1024 + 2 x 1024 + 2 x
  # 1024 = 6,144 values, MoE 2 x 1024 + 2 x 4 + 2 x (2 x 1024 + 3 x 2048)
  # = 18,440: 49,168 B; gpipe keeps all 8 micro-batches of 512 tokens on
  # stage 0's 2 layers, 1f1b pp - 0 = 4: 4 x 512 x 2 x 49,168 B more
  [ "$1" = 201392128 ] && ok "train: gpipe keeps 201,392,128 B more activations than 1f1b" \
    || bad "train: gpipe - 1f1b activations" "got $1 B, wanted 4 x 512 x 2 x 49,168 = 201,392,128"
}
sched_figures $sched
# Forced balance: each of a GPU's 4 experts gets 512 x 2 / 4 = 256 of a
# micro-batch's assignments in every pass, forward and backward, so no
# experts span is empty (one that read a released routing would be)
for sc in gpipe 1f1b interleaved dualpipe; do
  e=$(python3 - "$T/pp-$sc.tl.json" <<'PY' 2>/dev/null
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"]
      if e.get("ph") == "X" and e["name"] in ("experts", "experts_dgrad", "experts_wgrad")]
print(len(ev), sum(1 for e in ev if e["dur"] <= 0))
PY
)
  # 4 GPUs x 8 micro-batches x 2 layers x 3 passes = 192
  [ "$e" = "192 0" ] && ok "train: $sc: 192 experts spans, none empty" \
    || bad "train: $sc: experts spans (all, empty)" "got $e, wanted 192 0"
done
# moesim check's per-stage lines: chunk passes in flight at the
# peak: gpipe all 8; 1f1b pp - stage; interleaved Megatron's warm-up + 1,
# 2 (pp - stage - 1) + (vpp - 1) pp + 1 chunk passes; dualpipe pp + 1
for c in "gpipe 8 8 8 8" "1f1b 4 3 2 1" "interleaved 11 9 7 5" "dualpipe 5 5 5 5"; do
  sc=${c%% *}; want=${c#* }
  got=$(sed -n 's/.*(\([0-9]*\) chunk passes in flight).*/\1/p' "$T/pp-$sc.check" | tr '\n' ' ')
  [ "$got" = "$want " ] && ok "train: check: $sc keeps $want in flight by stage" \
    || bad "train: check: $sc in flight by stage" "got $got, wanted $want"
done
# The default 160 MB bucket over two stages of train.cfg's tiny layers:
# one bucket per stage (a bucket never spans two stages)
expect_rc "train: pp 2 with the default 160 MB bucket runs" 0 "$BIN" run "$TR" --quiet \
  --set model.layers=4 --set parallel.pp=2 --set parallel.dp=2 --json "$T/pp2-b160.json"

# ---- 5. The timeline: pp 2 x dp 2 of train.cfg (one layer a stage, 2
# micro-batches a replica): per GPU a "p2p" row with its 2 forward and 2
# backward sends, a "grad" row with its stage's reductions, input and
# weight gradients on the compute row, and one optimizer step.
"$BIN" run "$TR" --quiet --set parallel.pp=2 --set parallel.dp=2 --timeline "$T/tr.tl.json" >/dev/null 2>&1
tl=$(python3 - "$T/tr.tl.json" <<'PY' 2>/dev/null
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
row = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev
       if e.get("ph") == "M" and e["name"] == "thread_name"}
x = [e for e in ev if e.get("ph") == "X"]
def on(g, kind, names):
    return sum(1 for e in x if row.get((e["pid"], e["tid"])) == "gpu %d %s" % (g, kind)
               and e["name"] in names)
out = []
for g in range(4):
    out.append("%d/%d/%d/%d/%d" % (on(g, "p2p", ("pp_send", "pp_send_bwd")),
                                    on(g, "grad", ("grad_dense", "grad_expert")),
                                    on(g, "compute", ("attention_dgrad", "experts_dgrad", "gate_dgrad")),
                                    on(g, "compute", ("attention_wgrad", "experts_wgrad", "gate_wgrad")),
                                    on(g, "compute", ("optimizer",))))
print(" ".join(out))
PY
)
# each GPU: 4 sends; grad_dense + grad_expert of its one bucket; 2 micro-
# batches x 3 rows (attention, gate, experts) of dgrad and of wgrad; 1 Adam
[ "$tl" = "4/2/6/6/1 4/2/6/6/1 4/2/6/6/1 4/2/6/6/1" ] \
  && ok "train: timeline: p2p, grad, _dgrad, _wgrad and optimizer spans on each GPU's rows" \
  || bad "train: timeline rows (sends/reductions/dgrad/wgrad/optimizer per GPU)" "got $tl, wanted 4/2/6/6/1 x 4"

# ---- 6. Training keys: refused in a forward run (--set), and run and
# check refuse a bad training file alike
expect_rc "train: training.recompute in a forward run is bad input (2)" 2 "$BIN" run tests/e2e/two-gpus.cfg \
  --quiet --set 'training.recompute="full"'
grep -q 'training.recompute: applies to training steps, and workload.mode is "forward"' "$T/err" \
  && ok "train: ... and the message names the key and the mode" || bad "train: forward training key message" "$(cat "$T/err")"
for f in tests/bad/train_*.cfg; do
  [ -e "$f" ] || continue
  ce=$("$BIN" check "$f" 2>&1 >/dev/null); crc=$?
  re=$("$BIN" run "$f" --quiet 2>&1 >/dev/null); rrc=$?
  [ "$crc" = 2 ] && [ "$rrc" = 2 ] && [ -n "$ce" ] && [ "$ce" = "$re" ] && ok "train: run and check refuse $f alike" \
    || bad "train: run and check refuse $f alike" "check $crc: $ce; run $rrc: $re"
done

# route_groups = 1 with forced choices: the stage's second dispatch group
# takes the first's rows and counts, which is exactly what routing it gives
# (train.cfg: dp 4, ep 2, two groups): the same step time, links, exposure
"$BIN" run "$TR" --quiet --json "$T/rg0.json" >/dev/null 2>&1
"$BIN" run "$TR" --quiet --set training.route_groups=1 --json "$T/rg1.json" >/dev/null 2>&1
same=$(python3 -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print(a['totals']['sim_time_ps'] == b['totals']['sim_time_ps'] and a['links'] == b['links'] and a['totals']['exposed_s'] == b['totals']['exposed_s'])" "$T/rg0.json" "$T/rg1.json" 2>&1)
[ "$same" = True ] && ok "train: route_groups 1 with forced choices: the same step, links and exposure" \
  || bad "train: route_groups 1 with forced choices" "$same"

# --trace on a training step is refused (exit 2), and no trace is written
rm -f "$T/tr.trace"
"$BIN" run "$TR" --quiet --trace "$T/tr.trace" >/dev/null 2>"$T/err"; rc=$?
[ "$rc" = 2 ] && [ ! -e "$T/tr.trace" ] && grep -q 'output.trace: a routing trace written in training' "$T/err" \
  && ok "train: --trace refused in training (2), nothing written" \
  || bad "train: --trace in training" "rc $rc: $(cat "$T/err")"

# ---- 7. The memory fit names every stage (tests/bad/train_no_fit.cfg)
"$BIN" check tests/bad/train_no_fit.cfg >/dev/null 2>"$T/nofit.err"
grep -q 'GB per GPU by stage 0: 150.5, 1: 133.6;' "$T/nofit.err" \
  && ok "train: no fit: GB per GPU by stage 0: 150.5, 1: 133.6" || bad "train: no fit message" "$(cat "$T/nofit.err")"

if [ "${train_alone:-0}" = 1 ]; then
  echo "train: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

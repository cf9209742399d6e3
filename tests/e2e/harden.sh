#!/bin/sh
# harden.sh MOESIM - end-to-end checks of issue 16's run-time defence: inputs
# whose times pass the clock's 2^63 ps (about 106 days), or whose batch does
# not fit the counters, end with exit 2 and one exact message naming the
# key, never an assertion (134) or a wrapped time, and leave no file behind.
# run.sh sources it (sharing BIN, T, ok, bad and expect_rc); run alone it
# prints its own "N passed, N failed" and exits 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: harden.sh path/to/moesim}
  . tests/e2e/lib.sh
  harden_alone=1
fi

HD_SMALL="--set workload.batches=1 --set workload.tokens_per_rank=256"

# refused NAME MESSAGE ARGS... : `run ARGS` with every output asked for exits
# 2 with exactly MESSAGE (the built-in scenario's name first) and leaves its
# output folder empty. Where load refuses the input first (the schema's
# ranges), `check` must say the same line, and that counts too.
refused() {
  name=$1; want=$2; shift 2
  rm -rf "$T/hd"; mkdir -p "$T/hd"
  got=$("$BIN" run "$@" --quiet --json "$T/hd/r.json" --csv "$T/hd/csv" \
    --trace "$T/hd/t.mtr.gz" --timeline "$T/hd/tl.json" 2>&1 >/dev/null); rc=$?
  at_load=$("$BIN" check scenarios/mixtral-8x7b-h100x8.cfg "$@" 2>&1 >/dev/null); crc=$?
  left=$(ls -A "$T/hd")
  if [ "$rc" = 2 ] && { [ "$got" = "$want" ] || { [ "$crc" = 2 ] && [ "$got" = "$at_load" ]; }; } \
    && [ -z "$left" ]; then
    ok "harden: $name"
  else
    bad "harden: $name" "exit $rc; got: $got; wanted: $want; left: $left"
  fi
}

S="mixtral-8x7b-h100x8.cfg (built-in): "
refused "bf16 = 989 FLOP/s (the T left out)" \
  "${S}cluster.gpu.bf16: 989 FLOP/s makes one attention take 3.41e+07 s, beyond the clock's 106 days (2^63 ps)" \
  $HD_SMALL --set 'cluster.gpu.bf16="989 FLOP/s"'
refused "cluster.intra.bandwidth = 1 B/s" \
  "${S}cluster.intra.bandwidth: 1 B/s makes the run pass the clock's 106 days (2^63 ps) in batch 0, layer 0 (simulated 6.54e+06 s so far, one combine takes 6.54e+06 s)" \
  $HD_SMALL --set 'cluster.intra.bandwidth="1 B/s"'
refused "cluster.intra.bandwidth = 1 B/s, flow model" \
  "${S}cluster.intra.bandwidth: 1 B/s makes the run pass the clock's 106 days (2^63 ps) in batch 0, layer 0 (simulated 6.54e+06 s so far, one combine takes 6.54e+06 s)" \
  $HD_SMALL --set 'cluster.intra.bandwidth="1 B/s"' --set 'network.model="flow"'
refused "cluster.intra.latency = 9000000 s" \
  "${S}cluster.intra.latency: 9000000 s makes the run pass the clock's 106 days (2^63 ps) in batch 0, layer 0 (simulated 9e+06 s so far, one combine takes 9e+06 s)" \
  $HD_SMALL --set 'cluster.intra.latency="9000000 s"'
refused "cluster.gpu.launch = 9000000 s" \
  "${S}cluster.gpu.launch: 9000000 s makes one attention take 2.7e+07 s, beyond the clock's 106 days (2^63 ps)" \
  $HD_SMALL --set 'cluster.gpu.launch="9000000 s"'
refused "min_capacity = 2^63 - 1, padded" \
  "${S}model.router.min_capacity: 9223372036854775807 (padded: model.router.pad_to_capacity) makes one dispatch take 1.78e+12 s, beyond the clock's 106 days (2^63 ps)" \
  $HD_SMALL --set model.router.min_capacity=9223372036854775807L \
  --set model.router.pad_to_capacity=true --set 'model.router.overflow="drop"'
refused "cluster.intra.efficiency = 1e-300 (named, not the bandwidth)" \
  "--set: cluster.intra.efficiency: the run could simulate up to 9.54e+297 s (a batch: compute 0.0812 s, network 9.54e+297 s, at most; 1 batches), beyond half the clock's 9.2e6 s (2^63 ps); allowed: faster GPUs or links, or fewer batches, so that the bound stays under 4.6e6 s" \
  $HD_SMALL --set cluster.intra.efficiency=1e-300
refused "128 GPUs x 16,777,216 tokens per rank" \
  "${S}workload.tokens_per_rank: 16777216 tokens on each of 128 data-parallel ranks make 2147483648 tokens per batch; allowed: at most 2147483647 per batch (workload.tokens_per_rank x parallel.dp)" \
  --set cluster.nodes=16 --set parallel.dp=128 --set workload.tokens_per_rank=16777216 \
  --set workload.batches=1 --set cluster.check_memory=false

# ---- routing traces: a FIFO as the trace file is refused at once (it used to
# block forever waiting for a writer); a token naming one expert twice is
# refused by batch, layer and token (it used to count twice)
HD_TR="--set workload.batches=1 --set workload.tokens_per_rank=16"
mkfifo "$T/fifo.mtr.gz"
for cmd in check run; do
  got=$(timeout 60 "$BIN" $cmd scenarios/mixtral-8x7b-h100x8.cfg $HD_TR --set workload.source.kind=trace \
    --set "workload.source.file=$T/fifo.mtr.gz" 2>&1 >/dev/null); rc=$?
  want="$T/fifo.mtr.gz: a FIFO, not a file; allowed: a regular file (a trace recorded by moesim run --trace)"
  [ "$rc" = 2 ] && [ "$got" = "$want" ] && ok "harden: a FIFO as the trace ($cmd) is refused at once" \
    || bad "harden: a FIFO as the trace ($cmd)" "exit $rc; got: $got"
done
rm -f "$T/fifo.mtr.gz"
if command -v python3 >/dev/null 2>&1; then
  expect_rc "harden: record a small trace" 0 "$BIN" run $HD_TR --quiet --trace "$T/hd-ok.mtr.gz"
  # token 0 of batch 0 layer 0: its second choice made its first, CRC fixed
  python3 - "$T/hd-ok.mtr.gz" "$T/hd-dup.mtr.gz" <<'PY'
import gzip, struct, sys, zlib
p = bytearray(gzip.decompress(open(sys.argv[1], "rb").read()))
namelen = struct.unpack_from("<I", p, 40)[0]
r = 48 + namelen                      # the first layer record
n = struct.unpack_from("<I", p, r + 12)[0]
p[r + 18:r + 20] = p[r + 16:r + 18]   # entry 1 = entry 0
struct.pack_into("<I", p, r + 16 + 2 * n, zlib.crc32(bytes(p[r:r + 16 + 2 * n])))
open(sys.argv[2], "wb").write(gzip.compress(bytes(p), mtime=0))
PY
  e0=$(python3 -c "import gzip,struct,sys; p=gzip.decompress(open(sys.argv[1],'rb').read()); r=48+struct.unpack_from('<I',p,40)[0]; print(struct.unpack_from('<H',p,r+16)[0])" "$T/hd-ok.mtr.gz")
  rm -rf "$T/hd"; mkdir -p "$T/hd"
  got=$("$BIN" run $HD_TR --quiet --set workload.source.kind=trace \
    --set "workload.source.file=$T/hd-dup.mtr.gz" --json "$T/hd/r.json" 2>&1 >/dev/null); rc=$?
  want="$T/hd-dup.mtr.gz: corrupt layer record: token 0 (source 0, token 0) chooses expert $e0 twice; allowed: distinct experts per token (at batch 0 layer 0)"
  [ "$rc" = 2 ] && [ "$got" = "$want" ] && [ -z "$(ls -A "$T/hd")" ] \
    && ok "harden: a token naming one expert twice is refused by batch, layer and token" \
    || bad "harden: duplicate expert in a trace" "exit $rc; got: $got; wanted: $want"
else
  echo "skip harden: duplicate expert in a trace (no python3)"
fi

if [ "${harden_alone:-0}" = 1 ]; then
  echo "harden: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

# hardware.sh - the hardware follows the GPU (sourced by run.sh): the default
# scenario leaves its NVLink bandwidth to the GPU preset, so a GPU sweep moves
# the dispatch as the GPUs' NVLink ports say (H800 200 GB/s, A100 300, H100
# 450, B200 900 per direction: models/gpu.c), a link faster than the GPU's
# port is refused with both figures, and a system of other GPUs than the
# scenario's is refused rather than ignored.
HW="--quiet --set workload.batches=1 --set workload.tokens_per_rank=512 --json -"
sweep=""
for g in H800-SXM A100-SXM-80GB H100-SXM B200-SXM; do
  v=$("$BIN" run $HW --set "cluster.gpu=$g" 2>/dev/null |
      python3 -c "import json,sys; print(json.load(sys.stdin)['totals']['dispatch_s']['max_ps'])" 2>/dev/null)
  sweep="$sweep $v"
done
if python3 -c "import sys; v=[int(x) for x in sys.argv[1:]]; sys.exit(0 if len(v) == 4 and v[0] > v[1] > v[2] > v[3] else 1)" $sweep; then
  ok "hardware: dispatch follows the GPU's NVLink (H800 > A100 > H100 > B200 ps:$sweep)"
else
  bad "hardware: dispatch follows the GPU's NVLink" "max dispatch ps H800 A100 H100 B200:$sweep"
fi
got=$("$BIN" check scenarios/mixtral-8x7b-h100x8.cfg --set cluster.gpu=H800-SXM --set 'cluster.intra.bandwidth="450 GB/s"' 2>&1 >/dev/null); rc=$?
want="--set: cluster.intra.bandwidth: 450 GB/s is faster than the H800-SXM's NVLink port (200 GB/s per direction); allowed: at most 200 GB/s (leave it out to take the GPU's), or a faster cluster.gpu.nvlink_bandwidth for a what-if GPU"
[ "$rc" = 2 ] && [ "$got" = "$want" ] && ok "hardware: a link faster than the GPU's port is refused" \
  || bad "hardware: a link faster than the GPU's port is refused" "exit $rc: $got"
got=$("$BIN" check scenarios/mixtral-8x7b-h100x8.cfg --set 'cluster.system="DGX-A100"' 2>&1 >/dev/null); rc=$?
case "$got" in
  *'cluster.system: "DGX-A100" is a system of A100-SXM-80GB GPUs, but cluster.gpu (scenarios/mixtral-8x7b-h100x8.cfg:'*'is "H100-SXM"'*)
    [ "$rc" = 2 ] && ok "hardware: a system of other GPUs than the scenario's is refused" \
      || bad "hardware: a system of other GPUs is refused" "exit $rc" ;;
  *) bad "hardware: a system of other GPUs than the scenario's is refused" "exit $rc: $got" ;;
esac

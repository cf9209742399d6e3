#!/bin/sh
# cmd.sh MOESIM - end-to-end checks of the command layer (issues 10 and 16):
# one option parser for every command (--opt=value, --opt value, --, "did
# you mean"), outputs to stdout and through symlinks, devices and long
# paths, outputs refused before the run, `moesim collective` and its bounds,
# seeds, and runs interrupted by signals leaving no temporary file. run.sh
# sources it (sharing BIN, T, ok, bad and expect_rc); run alone it prints its
# own "N passed, N failed" and exits 1 if any failed.
if ! command -v expect_rc >/dev/null 2>&1; then
  BIN=${1:?usage: cmd.sh path/to/moesim}
  . tests/e2e/lib.sh
  cmd_alone=1
fi

C2=tests/e2e/two-gpus.cfg
MIX=scenarios/mixtral-8x7b-h100x8.cfg
SM="--set workload.batches=2 --set workload.tokens_per_rank=256"

# expect_msg NAME WANT: the first line of stderr is exactly WANT
expect_msg() {
  got=$(head -n 1 "$T/err")
  [ "$got" = "$2" ] && ok "$1" || bad "$1" "got: $got; wanted: $2"
}
# json_ok NAME FILE: FILE parses as JSON (where python3 exists)
json_ok() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$2" 2>/dev/null \
      && ok "$1" || bad "$1" "$(head -c 200 "$2")"
  fi
}
no_tmp() { # no_tmp NAME DIR: no *.tmp.* file anywhere under DIR
  left=$(find "$2" -name '*.tmp.*' 2>/dev/null | head -n 3)
  [ -z "$left" ] && ok "$1" || bad "$1" "left: $left"
}

# ---- one parser: both spellings, --, help from the table
expect_rc "cmd: run --json=F" 0 "$BIN" run $C2 --quiet --json="$T/eq.json"
expect_rc "cmd: run --json F" 0 "$BIN" run $C2 --quiet --json "$T/sp.json"
cmp -s "$T/eq.json" "$T/sp.json" && ok "cmd: --json=F and --json F write the same" || bad "cmd: --opt=value differs"
expect_rc "cmd: run -- SCENARIO" 0 "$BIN" run --quiet --json "$T/dd.json" -- $C2
cmp -s "$T/eq.json" "$T/dd.json" && ok "cmd: -- ends the options" || bad "cmd: -- output differs"
expect_rc "cmd: check --set=K=V" 0 "$BIN" check $C2 --set=model.top_k=2
expect_rc "cmd: check -- SCENARIO" 0 "$BIN" check -- $C2
expect_rc "cmd: collective --op=allreduce" 0 "$BIN" collective $C2 --op=allreduce -b 8 -e 64
expect_rc "cmd: collective -- SCENARIO" 0 "$BIN" collective -b 8 -e 64 -- $C2
expect_rc "cmd: collective --minbytes=8 --maxbytes 64" 0 "$BIN" collective $C2 --minbytes=8 --maxbytes 64
expect_rc "cmd: compare --vary=K=V" 0 "$BIN" compare $C2 --vary=model.top_k=1,2 --no-progress --quiet
expect_rc "cmd: compare -- SCENARIO" 0 "$BIN" compare --vary model.top_k=1,2 --quiet -- $C2
expect_rc "cmd: place -- (no operand)" 0 "$BIN" place --loads=tests/e2e/eplb-example.csv --gpus 4 --
for c in run check compare collective place; do
  expect_rc "cmd: help $c" 0 "$BIN" help $c
  cp "$T/out" "$T/help1"
  expect_rc "cmd: $c --help" 0 "$BIN" $c --help
  cmp -s "$T/out" "$T/help1" && grep -q "^usage: moesim $c" "$T/out" \
    && ok "cmd: help $c = $c --help" || bad "cmd: help $c" "$(head -n 1 "$T/out")"
  grep -q "^  $c " "$T/help0" 2>/dev/null || "$BIN" help > "$T/help0"
  grep -q "^  $c " "$T/help0" && ok "cmd: moesim help lists $c" || bad "cmd: help lists $c"
done
expect_rc "cmd: a misspelt option (2)" 2 "$BIN" run --jsn x.json
expect_msg "cmd: did you mean --json" "moesim run: unknown option --jsn (did you mean --json?); see 'moesim run --help'"
expect_rc "cmd: a misspelt collective option (2)" 2 "$BIN" collective $C2 --mo
expect_msg "cmd: did you mean --moe" "moesim collective: unknown option --mo (did you mean --moe?); see 'moesim collective --help'"
expect_rc "cmd: a misspelt command (2)" 2 "$BIN" compar
expect_msg "cmd: did you mean compare" "moesim: unknown command 'compar' (did you mean 'compare'?); see 'moesim help'"
expect_rc "cmd: a flag given a value (2)" 2 "$BIN" run --quiet=1
expect_msg "cmd: --quiet=1 named" "moesim run: --quiet takes no value; see 'moesim run --help'"
expect_rc "cmd: a value missing (2)" 2 "$BIN" run $C2 --json
expect_msg "cmd: --json needs a file name" "moesim run: --json needs a file name; see 'moesim run --help'"

# ---- outputs on stdout: - (and nothing else there), /dev/stdout
expect_rc "cmd: run --json - --quiet" 0 "$BIN" run $C2 --json - --quiet
cmp -s "$T/out" "$T/eq.json" && ok "cmd: --json - prints the JSON alone on stdout" || bad "cmd: --json - output" "$(head -c 200 "$T/out")"
expect_rc "cmd: run --json - (the table stays off stdout)" 0 "$BIN" run $C2 --json -
cmp -s "$T/out" "$T/eq.json" && ok "cmd: --json - without --quiet: JSON alone" || bad "cmd: --json - without --quiet"
expect_rc "cmd: run --json /dev/stdout" 0 "$BIN" run $C2 --quiet --json /dev/stdout
cmp -s "$T/out" "$T/eq.json" && ok "cmd: --json /dev/stdout writes to stdout" || bad "cmd: /dev/stdout output"
[ -L /dev/stdout ] || [ -c /dev/stdout ] && ok "cmd: /dev/stdout is still what it was" || bad "cmd: /dev/stdout replaced"
expect_rc "cmd: --json /dev/null" 0 "$BIN" run $C2 --quiet --json /dev/null --timeline /dev/null
[ -c /dev/null ] && ok "cmd: /dev/null stays a device" || bad "cmd: /dev/null replaced"
expect_rc "cmd: run --timeline -" 0 "$BIN" run $C2 --timeline -
json_ok "cmd: --timeline - is the timeline alone" "$T/out"
expect_rc "cmd: run --trace -" 0 "$BIN" run $MIX $SM --trace -
if command -v gzip >/dev/null 2>&1; then
  gzip -t < "$T/out" 2>/dev/null && ok "cmd: --trace - is the gzip trace alone" || bad "cmd: --trace - output"
fi
expect_rc "cmd: two outputs on - (2)" 2 "$BIN" run $C2 --json - --timeline -
expect_msg "cmd: two outputs on - named" "--json - and --timeline -: only one output can go to stdout"
expect_rc "cmd: collective --json -" 0 "$BIN" collective $C2 -b 8 -e 64 --json -
json_ok "cmd: collective --json - is JSON alone" "$T/out"
expect_rc "cmd: compare --json -" 0 "$BIN" compare $C2 --vary model.top_k=1,2 --json - --no-progress
json_ok "cmd: compare --json - is JSON alone" "$T/out"
if command -v mkfifo >/dev/null 2>&1 && mkfifo "$T/fifo"; then
  cat "$T/fifo" > "$T/fifo.out" & cpid=$!
  expect_rc "cmd: --json FIFO" 0 "$BIN" run $C2 --quiet --json "$T/fifo"
  wait $cpid
  cmp -s "$T/fifo.out" "$T/eq.json" && [ -p "$T/fifo" ] && ok "cmd: a FIFO is written in place" || bad "cmd: FIFO output"
fi

# ---- symlinks, long paths
ln -s eq-target.json "$T/link.json"
expect_rc "cmd: --json through a dangling symlink" 0 "$BIN" run $C2 --quiet --json "$T/link.json"
[ -L "$T/link.json" ] && cmp -s "$T/eq-target.json" "$T/eq.json" && ok "cmd: the link stays a link, its target written" \
  || bad "cmd: symlink output" "$(ls -l "$T/link.json")"
expect_rc "cmd: --json through the symlink again" 0 "$BIN" run $C2 --quiet --json "$T/link.json" --seed 3
[ -L "$T/link.json" ] && ! cmp -s "$T/eq-target.json" "$T/eq.json" && ok "cmd: the target is replaced, the link kept" \
  || bad "cmd: symlink rewrite"
mkdir -p "$T/realdir" && ln -s realdir "$T/linkdir"
expect_rc "cmd: --csv into a symlinked folder" 0 "$BIN" run $C2 --quiet --csv "$T/linkdir"
[ -L "$T/linkdir" ] && [ -s "$T/realdir/totals.csv" ] && [ -s "$T/realdir/links.csv" ] \
  && ok "cmd: the CSV files are in the folder the link names" || bad "cmd: csv in symlinked folder"
long="$T"
while [ ${#long} -lt 560 ]; do long="$long/dddddddddddddddddddddddddddddddddddddddddddddddd"; done
mkdir -p "$long"
lp="$long/report-with-a-long-name-xxxxxxxxxxxxxxxx.json"
[ ${#lp} -ge 600 ] && ok "cmd: a ${#lp}-byte output path" || bad "cmd: the long path is ${#lp} bytes"
expect_rc "cmd: --json to a 600-byte path" 0 "$BIN" run $C2 --quiet --json "$lp"
cmp -s "$lp" "$T/eq.json" && ok "cmd: the 600-byte path holds the whole report" || bad "cmd: long path output"
expect_rc "cmd: --csv to a 600-byte path" 0 "$BIN" run $C2 --quiet --csv "$long/csv-with-a-long-name-xxxxxxxxxxxxxxxxxxxxxxx"
[ -s "$long/csv-with-a-long-name-xxxxxxxxxxxxxxxxxxxxxxx/experts.csv" ] && ok "cmd: CSV under a 600-byte path" || bad "cmd: long csv path"

# ---- outputs refused before the run: exit 2, nothing written (issue 16)
refused() { # refused NAME MESSAGE ARGS...: exit 2, that message, no file written
  name=$1; msg=$2; shift 2
  rm -rf "$T/r"; mkdir "$T/r"
  expect_rc "cmd: refused: $name (2)" 2 "$BIN" "$@"
  expect_msg "cmd: refused: $name: message" "$msg"
  [ -z "$(ls -A "$T/r")" ] && ok "cmd: refused: $name: nothing written" || bad "cmd: refused: $name: wrote" "$(ls -A "$T/r")"
}
refused "the same file twice" "$T/r/x: --json and --trace name the same file; allowed: a file of its own for each output" \
  run $C2 --json "$T/r/x" --trace "$T/r/x"
refused "a file inside --csv DIR" "$T/r/totals.csv: --json and --csv name the same file; allowed: a file of its own for each output" \
  run $C2 --csv "$T/r" --json "$T/r/totals.csv"
refused "the same file by two spellings" "$T/r/../r/x: --json and --timeline name the same file; allowed: a file of its own for each output" \
  run $C2 --json "$T/r/x" --timeline "$T/r/../r/x"
cp $C2 "$T/r/in.cfg"
expect_rc "cmd: refused: the scenario as --json (2)" 2 "$BIN" run "$T/r/in.cfg" --json "$T/r/in.cfg"
expect_msg "cmd: refused: the scenario as --json: message" "$T/r/in.cfg: --json names the scenario, which this command reads; allowed: a file it does not read"
cmp -s "$T/r/in.cfg" $C2 && ok "cmd: the scenario is untouched" || bad "cmd: the scenario was overwritten"
ln -s in.cfg "$T/r/alias.cfg"
expect_rc "cmd: refused: the scenario through a symlink (2)" 2 "$BIN" run "$T/r/in.cfg" --timeline "$T/r/alias.cfg"
expect_rc "cmd: refused: collective --json the scenario (2)" 2 "$BIN" collective "$T/r/in.cfg" --json "$T/r/in.cfg"
expect_rc "cmd: refused: compare --csv the scenario (2)" 2 "$BIN" compare "$T/r/in.cfg" --vary model.top_k=1,2 --csv "$T/r/in.cfg"
cmp -s "$T/r/in.cfg" $C2 && ok "cmd: the scenario survives every attempt" || bad "cmd: the scenario was overwritten"
expect_rc "cmd: record a trace to replay" 0 "$BIN" run $MIX $SM --quiet --trace "$T/replay.mtr.gz"
cp "$T/replay.mtr.gz" "$T/replay.keep"
expect_rc "cmd: refused: the replayed trace as --trace (2)" 2 "$BIN" run $MIX $SM --quiet \
  --set workload.source.kind=trace --set "workload.source.file=$T/replay.mtr.gz" --trace "$T/replay.mtr.gz"
expect_msg "cmd: refused: the replayed trace: message" "$T/replay.mtr.gz: --trace names the replayed trace, which this command reads; allowed: a file it does not read"
cmp -s "$T/replay.mtr.gz" "$T/replay.keep" && ok "cmd: the replayed trace is untouched" || bad "cmd: the replayed trace was overwritten"
refused "a value that looks like an option" "moesim run: --json --quiet: that is an option, not a file name (to name such a file, write ./--quiet); see 'moesim run --help'" \
  run $C2 --json --quiet
refused "a missing directory" "$T/r/no/x.json: --json: cannot write here: No such file or directory" \
  run $C2 --json "$T/r/no/x.json"
refused "--csv under a missing directory" "$T/r/no/d: --csv: cannot write the directory here: No such file or directory" \
  run $C2 --csv "$T/r/no/d"
refused "--csv naming a file" "$C2: --csv: exists and is not a directory" run $C2 --csv $C2
refused "--json naming a directory" "$T/r: --json: is a directory; expected a file" run $C2 --json "$T/r"
refused "--csv -" "--csv -: the CSV output is a directory of six files; allowed: a directory name" run $C2 --csv -
if [ "$(id -u)" != 0 ]; then
  mkdir "$T/ro" && chmod 555 "$T/ro"
  expect_rc "cmd: refused: a directory that cannot be written (2)" 2 "$BIN" run $C2 --json "$T/ro/x.json"
  chmod 755 "$T/ro"
fi

# ---- moesim collective: plain and --moe (issue 10)
expect_rc "collective: alltoall exits 0" 0 "$BIN" collective $MIX -b 1K -e 1M --json "$T/coll.json"
grep -q '^#     size (B)        count     type    time (us) algbw GB/s busbw GB/s$' "$T/out" \
  && ok "collective: the table's columns" || bad "collective: columns" "$(sed -n 2p "$T/out")"
[ "$(grep -c '^  ' "$T/out")" = 11 ] && ok "collective: 1K to 1M by 2 is 11 rows" || bad "collective: rows" "$(cat "$T/out")"
json_ok "collective: the JSON parses" "$T/coll.json"
grep -q '"schema": "moesim.collective/1"' "$T/coll.json" && ok "collective: JSON schema" || bad "collective: JSON schema"
for op in allreduce allgather reducescatter; do
  expect_rc "collective: --op $op" 0 "$BIN" collective $MIX --op $op -b 1M -e 4M
done
expect_rc "collective: --moe exits 0" 0 "$BIN" collective scenarios/deepep-h800-ep8.cfg --moe --json "$T/moe.json"
grep -q '^  dispatch  *[0-9.]* us  *[0-9.]* GB/s (nvlink)$' "$T/out" && grep -q '^  combine  *[0-9.]* us' "$T/out" \
  && ok "collective --moe: dispatch and combine rows" || bad "collective --moe rows" "$(cat "$T/out")"
json_ok "collective --moe: the JSON parses" "$T/moe.json"
grep -q '"dispatch": {"time_s"' "$T/moe.json" && ok "collective --moe: JSON has the dispatch" || bad "collective --moe JSON"
expect_rc "collective: --moe on whole nodes only (2)" 2 "$BIN" collective scenarios/deepep-h800-ep16.cfg --moe --gpus 12
expect_rc "collective: no scenario (2)" 2 "$BIN" collective
expect_rc "collective: a bad --op (2)" 2 "$BIN" collective $MIX --op broadcast
expect_rc "collective: a bad --algo (2)" 2 "$BIN" collective $MIX --op allgather --algo tree

# ---- collective's bounds (issue 16): each refused with exit 2 at once
bound() { # bound NAME MESSAGE ARGS...
  name=$1; msg=$2; shift 2
  expect_rc "collective: $name (2)" 2 "$BIN" collective $C2 "$@"
  expect_msg "collective: $name: message" "$msg"
}
bound "-b 0" "moesim collective: -b 0; allowed: a size of at least 1 byte; see 'moesim collective --help'" -b 0
bound "-e 1e308G (inf)" "moesim collective: -e 1e308G; allowed: sizes up to 1024G (2^40 bytes), whose times fit the clock; see 'moesim collective --help'" -e 1e308G
bound "-e 2048G" "moesim collective: -e 2048G; allowed: sizes up to 1024G (2^40 bytes), whose times fit the clock; see 'moesim collective --help'" -e 2048G
bound "-b 1e10G (a time past the clock)" "moesim collective: -b 1e10G; allowed: sizes up to 1024G (2^40 bytes), whose times fit the clock; see 'moesim collective --help'" -b 1e10G -e 1e10G
bound "-f 1.000000001" "moesim collective: -b 8 -e 1G -f 1.000000001 gives 18714972336 rows; allowed: at most 64 (a larger -f or a narrower range); see 'moesim collective --help'" -f 1.000000001
bound "-e inf" "moesim collective: size inf; expected a number of bytes with K, M or G, such as 1G; see 'moesim collective --help'" -e inf
bound "-f 1" "moesim collective: -f 1; allowed: a factor > 1; see 'moesim collective --help'" -f 1
bound "-b above -e" "moesim collective: -b is larger than -e; see 'moesim collective --help'" -b 1M -e 1K
bound "--gpus 0" "moesim collective: --gpus 0; allowed: an integer from 1 to 16384; see 'moesim collective --help'" --gpus 0
expect_rc "collective: -e 1024G runs" 0 "$BIN" collective $C2 -b 1G -e 1024G -f 32
grep -q '^  .* -[0-9]' "$T/out" && bad "collective: a negative time" "$(cat "$T/out")" || ok "collective: no negative time up to 1024G"

# ---- seeds (issue 16)
expect_rc "place: --seed -1 (2)" 2 "$BIN" place --loads tests/e2e/eplb-example.csv --gpus 4 --strategy random --seed -1
expect_msg "place: --seed -1 message" "moesim place: --seed -1; allowed: a whole number from 0 to 18446744073709551615 (2^64-1); see 'moesim place --help'"
expect_rc "place: --seed 2^64 (2)" 2 "$BIN" place --loads tests/e2e/eplb-example.csv --gpus 4 --strategy random --seed 18446744073709551616
expect_rc "place: --seed 2^64-1" 0 "$BIN" place --loads tests/e2e/eplb-example.csv --gpus 4 --strategy random --seed 18446744073709551615
expect_rc "run: --seed 18446744073709551616 (2)" 2 "$BIN" run $C2 --seed 18446744073709551616
expect_msg "run: --seed 2^64 message" "moesim run: --seed 18446744073709551616; allowed: a whole number from 0 to 9223372036854775807 (2^63-1); see 'moesim run --help'"
# the scenario file's seed range: --seed agrees with seed = N
expect_rc "run: --seed 2^63 (2)" 2 "$BIN" run $C2 --seed 9223372036854775808
expect_msg "run: --seed 2^63 message" "moesim run: --seed 9223372036854775808; allowed: a whole number from 0 to 9223372036854775807 (2^63-1); see 'moesim run --help'"
expect_rc "compare: --seed 2^63 (2)" 2 "$BIN" compare $C2 --vary model.top_k=1,2 --seed 9223372036854775808
expect_rc "run: --seed -1 (2)" 2 "$BIN" run $C2 --seed -1
expect_rc "compare: --seed -1 (2)" 2 "$BIN" compare $C2 --vary model.top_k=1,2 --seed -1

# ---- signals (issue 16): no temporary file left, exit 128 + N
# A run of a few seconds that writes a trace and a timeline; the signal comes
# early (loading) or mid-run.
LONG="--set workload.batches=40 --set output.timeline_batches=40 --no-progress"
interrupt() { # interrupt NAME SIGNAL DELAY RC ARGS...
  name=$1; sig=$2; delay=$3; want=$4; shift 4
  rm -rf "$T/sig"; mkdir "$T/sig"
  # a shell without job control starts background jobs with SIGINT ignored,
  # and moesim keeps an ignored signal ignored: env resets it where it can
  $DEFSIG "$BIN" "$@" >/dev/null 2>"$T/err" & pid=$!
  sleep "$delay"
  kill -"$sig" $pid 2>/dev/null
  wait $pid; rc=$?
  [ "$rc" = "$want" ] && ok "signal: $name exits $want" || bad "signal: $name exits $rc, wanted $want" "$(head -c 300 "$T/err")"
  no_tmp "signal: $name leaves no temporary file" "$T/sig"
}
DEFSIG=
env --default-signal=INT true 2>/dev/null && DEFSIG="env --default-signal=INT"
interrupt "SIGINT early" INT 0.05 130 run $MIX $LONG --trace "$T/sig/t.gz" --timeline "$T/sig/tl.json" --json "$T/sig/r.json"
interrupt "SIGTERM early" TERM 0.05 143 run $MIX $LONG --trace "$T/sig/t.gz" --timeline "$T/sig/tl.json"
interrupt "SIGINT mid-run" INT 2 130 run $MIX $LONG --trace "$T/sig/t.gz" --timeline "$T/sig/tl.json" --json "$T/sig/r.json" --csv "$T/sig/csv"
[ ! -e "$T/sig/t.gz" ] && [ ! -e "$T/sig/tl.json" ] && [ ! -e "$T/sig/r.json" ] && ok "signal: an interrupted run writes no output" \
  || bad "signal: an interrupted run left outputs" "$(ls "$T/sig")"
interrupt "SIGTERM mid-run" TERM 2 143 run $MIX $LONG --trace "$T/sig/t.gz" --timeline "$T/sig/tl.json"
interrupt "SIGHUP mid-run" HUP 1 129 run $MIX $LONG --timeline "$T/sig/tl.json"
interrupt "SIGINT in compare" INT 1.5 130 compare $MIX --set workload.batches=40 --vary parallel.ep=4,8 --jobs 2 --no-progress --json "$T/sig/c.json" --csv "$T/sig/c.csv"
interrupt "SIGTERM in compare" TERM 1.5 143 compare $MIX --set workload.batches=40 --vary parallel.ep=4,8 --jobs 2 --no-progress --json "$T/sig/c.json"
sleep 0.2
left=$(ps -eo pid,ppid,args 2>/dev/null | grep -c "[m]oesim compare $MIX --set workload.batches=40")
[ "$left" = 0 ] && ok "signal: compare's children are gone" || bad "signal: $left compare processes left"

if [ -n "${cmd_alone:-}" ]; then
  echo "cmd: $pass passed, $fail failed"
  [ "$fail" = 0 ]
fi

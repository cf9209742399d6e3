# lib.sh - the end-to-end checks' harness, sourced after BIN is set: a
# scratch directory T (removed on exit), pass/fail counters, ok, bad and
# expect_rc. run.sh sources it once; place.sh and compare.sh source it only
# when run alone.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '     %s\n' "$2"; }

# expect_rc NAME RC CMD... : the command exits with RC
expect_rc() {
  name=$1; want=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; rc=$?
  if [ "$rc" = "$want" ]; then ok "$name"; else bad "$name" "exit $rc, wanted $want: $(head -c 300 "$T/err")"; fi
}

# layers.sh (sourced by run.sh) - `make layers` passes on the tree, and fails,
# naming the file and the header, on a deliberately upward include.
expect_rc "layers: the tree's includes point down" 0 sh tests/layers.sh
mkdir -p "$T/up"
cp -r models sim include "$T/up/"
sed -i '1i #include "moesim/play.h"' "$T/up/models/gpu.c"
sed -i '1i #include "moesim/cli.h"' "$T/up/sim/core/engine.c"
expect_rc "layers: an upward include fails" 1 sh tests/layers.sh "$T/up"
grep -q '^models/gpu.c:1: includes moesim/play.h (floor 3) from floor 0' "$T/out" \
  && grep -q '^sim/core/engine.c:1: includes moesim/cli.h (floor 5) from floor 1' "$T/out" \
  && ok "layers: each upward include is named with its floors" \
  || bad "layers: upward includes named" "$(cat "$T/out")"
rm -rf "$T/up"

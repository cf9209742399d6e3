#!/bin/sh
# layers.sh [ROOT] - checks the floors of DESIGN.md: every #include points down
# a floor or across it, never up.
#
#   floor 0 models/   1 sim/core/   2 sim/scenario/   3 sim/play/
#   floor 4 sim/report/   5 sim/cmd/
#
# A public header include/moesim/X.h belongs to the floor of its module X.c;
# its own includes are checked like a .c file's. A private header beside a .c
# (#include "x.h" without the moesim/ prefix) must live in the same folder.
# Prints one line per violation and exits 1 if there is any; tests, benchmarks
# and fuzz targets sit above every floor and are not checked.
ROOT=${1:-.}
cd "$ROOT" || exit 2

floor_of_dir() {
  case $1 in
    models) echo 0 ;; sim/core) echo 1 ;; sim/scenario) echo 2 ;;
    sim/play) echo 3 ;; sim/report) echo 4 ;; sim/cmd) echo 5 ;;
    *) echo -1 ;;
  esac
}

# The floor of header moesim/NAME.h: the folder of NAME.c.
floor_of_header() {
  for d in models sim/core sim/scenario sim/play sim/report sim/cmd; do
    if [ -f "$d/$1.c" ]; then floor_of_dir "$d"; return; fi
  done
  echo -1
}

bad=0
check_file() { # check_file FILE FLOOR
  grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$1" |
    sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' > "$tmp" || true
  while read -r line inc; do
    case $inc in
      moesim/*.h)
        name=${inc#moesim/}; name=${name%.h}
        hf=$(floor_of_header "$name")
        if [ "$hf" -lt 0 ]; then
          echo "$1:$line: includes $inc, a header with no module (.c) on any floor"; bad=1
        elif [ "$hf" -gt "$2" ]; then
          echo "$1:$line: includes $inc (floor $hf) from floor $2: arrows point down"; bad=1
        fi ;;
      */*)
        echo "$1:$line: includes \"$inc\": use moesim/X.h, or a private header beside the file"; bad=1 ;;
      *)
        if [ ! -f "$(dirname "$1")/$inc" ]; then
          echo "$1:$line: includes \"$inc\", which is not beside it"; bad=1
        fi ;;
    esac
  done < "$tmp"
}

tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
for d in models sim/core sim/scenario sim/play sim/report sim/cmd; do
  f=$(floor_of_dir "$d")
  for c in "$d"/*.c "$d"/*.h; do
    [ -f "$c" ] && check_file "$c" "$f"
  done
done
for h in include/moesim/*.h; do
  name=$(basename "$h" .h)
  f=$(floor_of_header "$name")
  if [ "$f" -lt 0 ]; then echo "$h: a public header with no module (.c) on any floor"; bad=1; continue; fi
  check_file "$h" "$f"
done
for d in sim/*/; do
  d=${d%/}
  [ "$(floor_of_dir "$d")" -ge 0 ] || { echo "$d: a folder that is no floor (DESIGN.md)"; bad=1; }
done
[ -z "$(ls sim/*.c 2>/dev/null)" ] || { echo "sim/: sources outside a floor folder: $(ls sim/*.c)"; bad=1; }
if [ "$bad" = 0 ]; then echo "layers: every include points down a floor"; fi
exit $bad

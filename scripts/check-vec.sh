#!/bin/sh
# check-vec.sh CC FLAGS...: does the gridding hot loop still vectorise?
#
# Compiles imaging/gridder.c (which instantiates imaging/grid_tmpl.h for
# float and double) with CC FLAGS -fopt-info-vec-optimized and reads gcc's
# report. Every loop in grid_tmpl.h marked by a comment
#     /* make analyze: must vectorise ... */
# (the loop starts on the line after the marker) must be reported as a
# vectorised loop; a marker that says "in N copies" must be reported at
# least N times (gcc reports each inlined, specialised copy of the loop).
# The markers are found by their text, so the check follows the loops
# when lines move. Exit 1 naming the loop when one does not vectorise.
set -eu
cc=${1:?usage: check-vec.sh CC FLAGS...}
shift
src=imaging/gridder.c
tmpl=imaging/grid_tmpl.h
report=$(mktemp)
obj=$(mktemp)
trap 'rm -f "$report" "$obj"' EXIT INT TERM
if ! "$cc" "$@" -fopt-info-vec-optimized="$report" -c -o "$obj" "$src"; then
    echo "check-vec: '$cc' cannot compile $src with -fopt-info-vec-optimized (gcc needed)" >&2
    exit 1
fi
markers=$(grep -n 'make analyze: must vectorise' "$tmpl" || true)
if [ -z "$markers" ]; then
    echo "check-vec: no loop of $tmpl is marked 'make analyze: must vectorise'" >&2
    exit 1
fi
echo "$markers" | while IFS= read -r m; do
    line=${m%%:*}
    loop=$((line + 1))
    want=$(printf '%s\n' "$m" | sed -n 's/.* in \([0-9][0-9]*\) copies.*/\1/p')
    want=${want:-1}
    what=$(printf '%s\n' "$m" | sed -n 's/.*must vectorise[^(]*(\([^)]*\)).*/\1/p')
    got=$(grep -c "grid_tmpl\.h:$loop:[0-9]*: optimized: loop vectorized" "$report" || true)
    if [ "$got" -lt "$want" ]; then
        echo "check-vec: $tmpl:$loop ($what) vectorised in $got copies, want >= $want" >&2
        exit 1
    fi
    echo "  VEC     $tmpl:$loop ($what): $got vectorised copies"
done

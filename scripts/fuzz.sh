#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan into build/fuzz/, then run each for FUZZ_SECONDS and print a table:
# target, seconds, executions, findings. Each finding (crash, leak, timeout,
# out-of-memory; its input in build/fuzz/artifacts/<target>/) is replayed
# and attributed to our code or to the system library its stacks are in
# (libhdf5 crashes on some malformed files). Exit 1 if any is in our code.
#
# Usage: scripts/fuzz.sh [--build-only] [TARGET...]   (default: every target)
# Environment: FUZZ_SECONDS (30), FUZZ_JOBS (targets run at once: online
# CPUs), FUZZ_TIMEOUT (seconds one input may take: 10), CLANG (clang),
# FUZZ_ARGS (extra libFuzzer flags).
#
# The module sources are compiled with clang and
# -fsanitize=fuzzer-no-link,address,undefined into build/fuzz/obj (rebuilt
# when a source or a header it includes changes); the normal build's gcc
# objects are never linked in. New inputs the fuzzers keep go to
# build/fuzz/corpus/<target>/; the seeds in tests/fuzz/corpus/ are read only.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-$(nproc)}
TIMEOUT=${FUZZ_TIMEOUT:-10}
CLANG=${CLANG:-clang}
OUT=build/fuzz
ALL_TARGETS=(suite dataset casa_log baselines stats_ingest vis_store)
MODULES=(reports results workloads imaging profiles common)
MAINS="harness/main.c imaging/imager_main.c"
PKGS="yaml-0.1 sqlite3 fftw3f fftw3 hdf5 cfitsio jansson papi cmocka ompi-c"

build_only=0
targets=()
for a in "$@"; do
    case "$a" in
    --build-only) build_only=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
        if [[ " ${ALL_TARGETS[*]} " != *" $a "* ]]; then
            echo "fuzz: unknown target '$a' (targets: ${ALL_TARGETS[*]})" >&2
            exit 2
        fi
        targets+=("$a") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

if ! command -v "$CLANG" >/dev/null; then
    echo "fuzz: '$CLANG' not found: install clang (make deps)" >&2
    exit 1
fi
rt=$("$CLANG" --print-runtime-dir 2>/dev/null || true)/libclang_rt.fuzzer-$(uname -m).a
if [ ! -f "$rt" ]; then
    echo "fuzz: no libFuzzer runtime for $CLANG: install libclang-rt-14-dev (make deps)" >&2
    exit 1
fi

WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
# shellcheck disable=SC2086
PKG_CFLAGS=$(pkg-config --cflags $PKGS)
# shellcheck disable=SC2086
PKG_LIBS=$(pkg-config --libs $PKGS)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -O1 -g $WARN $SAN -I. $PKG_CFLAGS"
export CLANG CFLAGS OUT

# ---- build -------------------------------------------------------------

# Is object $1 missing or older than a file its dependency list $2 names?
stale() {
    [ -f "$1" ] && [ -f "$2" ] || return 0
    local dep
    for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$2"); do
        [ "$dep" -nt "$1" ] && return 0
    done
    return 1
}

compile_one() { # source
    local src=$1 obj=$OUT/obj/${1%.c}.o
    mkdir -p "$(dirname "$obj")"
    echo "  CLANG   $src"
    # shellcheck disable=SC2086
    "$CLANG" $CFLAGS -fsanitize=fuzzer-no-link -MMD -MF "${obj%.o}.d" -c -o "$obj" "$src"
}
export -f compile_one

mkdir -p "$OUT/obj"
todo=()
for m in "${MODULES[@]}"; do
    for src in "$m"/*.c; do
        [[ " $MAINS " == *" $src "* ]] && continue
        obj=$OUT/obj/${src%.c}.o
        if stale "$obj" "${obj%.o}.d"; then todo+=("$src"); fi
    done
done
if [ ${#todo[@]} -gt 0 ]; then
    printf '%s\n' "${todo[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one {}'
fi
libs=()
for m in "${MODULES[@]}"; do
    lib=$OUT/lib$m.a
    objs=()
    for src in "$m"/*.c; do
        [[ " $MAINS " == *" $src "* ]] && continue
        objs+=("$OUT/obj/${src%.c}.o")
    done
    newest=$(ls -t "${objs[@]}" | head -1)
    if [ ! -f "$lib" ] || [ "$newest" -nt "$lib" ]; then
        rm -f "$lib" && ar rcs "$lib" "${objs[@]}"
    fi
    libs+=("$lib")
done
for t in "${targets[@]}"; do
    src=tests/fuzz/fuzz_$t.c bin=$OUT/fuzz_$t dep=$OUT/fuzz_$t.d
    relink=0
    stale "$bin" "$dep" && relink=1
    for lib in "${libs[@]}"; do [ "$lib" -nt "$bin" ] && relink=1; done
    if [ $relink = 1 ]; then
        echo "  FUZZER  $bin"
        # shellcheck disable=SC2086
        "$CLANG" $CFLAGS -fsanitize=fuzzer -MMD -MF "$dep" -o "$bin" "$src" "${libs[@]}" \
            $PKG_LIBS -lfftw3f_threads -lsde -lpthread -lm
    fi
done
[ $build_only = 1 ] && exit 0

# ---- run -----------------------------------------------------------------

# Targets whose parser hands the bytes to a library that is known to crash
# on malformed input (libhdf5): they run in libFuzzer's fork mode, which
# records a crash and carries on, so that our own code still gets its time.
FORK_TARGETS=" vis_store "

export IMBENCH_SRCDIR=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export SECONDS_PER TIMEOUT FORK_TARGETS
run_one() { # target
    local t=$1 mode=()
    local log=$OUT/logs/$t.log
    [[ $FORK_TARGETS == *" $t "* ]] &&
        mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    local top=$PWD tmp=$PWD/$OUT/tmp/$t
    rm -rf "$OUT/artifacts/$t" "$tmp"
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "$tmp/cwd" "$OUT/logs"
    # Run in a scratch directory with the targets' temporary directories
    # under it (a crashed process cannot remove its own, and libFuzzer drops
    # stray artifacts into its working directory); stdin from /dev/null: a
    # suite may name any file as its dataset. The shell's "Aborted" note
    # goes to the log.
    # shellcheck disable=SC2086
    { (cd "$tmp/cwd" && TMPDIR=$tmp exec "$top/$OUT/fuzz_$t" "${mode[@]}" \
        -max_total_time="$SECONDS_PER" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
        -print_final_stats=1 -dict="$top/$FUZZ_DICT" -artifact_prefix="$top/$OUT/artifacts/$t/" \
        ${FUZZ_ARGS:-} "$top/$OUT/corpus/$t" "$top/tests/fuzz/corpus/$t") \
        </dev/null >"$log" 2>&1 || true; } 2>>"$log"
    rm -rf "$tmp"
}
export -f run_one

# Who is to blame for a finding: replay it and take, in the crash stack and
# in each allocated/freed-by stack, the first frame outside the sanitizer
# runtime and libc. All of them in a system library (libhdf5, libyaml, ...):
# that library's name; a replay that runs clean: "not reproducible alone"
# (it depended on earlier inputs; see the log); otherwise "ours".
blame() { # target artifact
    local top=$PWD scratch
    scratch=$(mktemp -d)
    { (cd "$scratch" && TMPDIR=$scratch timeout $((TIMEOUT + 20)) "$top/$OUT/fuzz_$1" \
        -timeout="$TIMEOUT" -artifact_prefix="$scratch/" "$top/$2") || true; } \
        </dev/null 2>&1 | awk '
        /ERROR: |WARNING: |runtime error|ALARM|allocated by|freed by|allocated from/ { want = 1 }
        want && /^ *#[0-9]+ / {
            if ($0 ~ /__interceptor_|__asan|__sanitizer|__lsan|__ubsan|compiler-rt|\/libc\.so|sysdeps|libFuzzer|fuzzer::| in (malloc|calloc|realloc|free|strdup) /) next
            want = 0
            if (match($0, /\((\/usr)?\/lib\/[^ )]*\/(lib[a-z0-9_]+)/)) {
                lib = substr($0, RSTART, RLENGTH); sub(/.*\//, "", lib); libs[lib] = 1
            } else ours = 1
        }
        /Executed .* in [0-9]+ ms/ { clean = 1 }
        END {
            if (ours) { print "ours"; exit }
            if (length(libs) == 0) { print (clean ? "not reproducible alone" : "ours"); exit }
            for (l in libs) printf "%s%s", (n++ ? "+" : ""), l; print ""
        }'
    rm -rf "$scratch"
}

# One dictionary for every target: the edge values that random byte changes
# rarely produce (libFuzzer finds the keywords itself from the parsers'
# string comparisons).
cat >"$OUT/numbers.dict" <<'DICT'
"1e300"
"-1e300"
"1e19"
"9223372036854775807"
"9223372036854775808"
"-9223372036854775809"
"2147483648"
"4294967296"
"18446744073709551616"
"1e-320"
"-0"
"0x7fffffff"
".nan"
".inf"
"-.inf"
"NaN"
"Infinity"
"65536"
"1048576"
DICT
export FUZZ_DICT=$OUT/numbers.dict

echo "fuzz: ${#targets[@]} target(s), ${SECONDS_PER} s each, $JOBS at a time" \
     "(logs in $OUT/logs, findings in $OUT/artifacts)"
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

status=0
printf '%-14s %8s %12s %9s  %s\n' target seconds executions exec/s findings
for t in "${targets[@]}"; do
    log=$OUT/logs/$t.log
    if [[ $FORK_TARGETS == *" $t "* ]]; then # "#N: cov: ... time: Ss job: ..."
        last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
        execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$last")
        secs=$(sed -n 's/.* time: \([0-9]*\)s.*/\1/p' <<<"$last")
    else
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        secs=$(sed -n 's/.*Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
        if [ -z "$execs" ]; then # stopped at a finding: its last status line
            execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
        fi
    fi
    what=""
    declare -A kinds=()
    for a in "$OUT/artifacts/$t"/*; do
        [ -f "$a" ] || continue
        who=$(blame "$t" "$a")
        kind=$(basename "$a" | sed 's/-.*//')
        key="$kind in $who"
        [[ $who == *reproducible* ]] && key="$kind $who" &&
            echo "fuzz: $a: $who, see $log" >&2
        kinds["$key"]=$(( ${kinds["$key"]:-0} + 1 ))
        [ "$who" = ours ] && status=1
    done
    for k in "${!kinds[@]}"; do what+="${what:+, }${kinds[$k]} $k"; done
    unset kinds
    rate=$(( ${secs:-0} > 0 ? ${execs:-0} / ${secs:-1} : 0 ))
    printf '%-14s %8s %12s %9s  %s\n' "$t" "${secs:-?}" "${execs:-?}" "$rate" "${what:-none}"
done
[ $status = 0 ] || echo "fuzz: findings in our code: inputs in $OUT/artifacts, reports in $OUT/logs"
exit $status

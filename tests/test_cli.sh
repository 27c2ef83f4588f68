#!/usr/bin/env bash
# test_cli: the command-line conventions (docs/cli.md), run by make test.
#  1. --version, -h and --help of both programs; `harness help CMD` and
#     `harness CMD -h` for every command, each with a usage line, options,
#     examples and exit codes; a bad option is exit 2 with the usage line.
#  2. every example of every --help, as written, in one scratch directory,
#     the commands in the order below (an example may use what an earlier
#     one made: d from gen, r.db from run-suite); casa.log, the one input
#     no command makes, is copied in from tests/data/casa first.
#  3. every ```sh block of README.md, as written, from the source tree.
#  4. make install into a temporary PREFIX: man -l renders both pages, the
#     completion file loads in bash, and the installed harness gen finds its
#     dataset specs from another directory with IMBENCH_DATASETS unset.
# IMBENCH_BIN (set by make test) is the directory of the programs tested.
# IMBENCH_CLI_PARTS=1,2,3,4 chooses parts (default all).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${IMBENCH_BIN:-$src/build/bin}
parts=${IMBENCH_CLI_PARTS:-1,2,3,4}
export PATH=$bin:$PATH OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PMIX_MCA_psec=native
scratch=$(mktemp -d /tmp/test_cli.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
# expect STATUS TEXT-IN-OUTPUT -- command...
expect() {
    local want=$1 text=$2; shift 3
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" != "$want" ]; then bad "$* -> exit $st, want $want"; printf '%s\n' "$out" | tail -5; return; fi
    if [ -n "$text" ] && ! grep -qF -- "$text" <<<"$out"; then bad "$* -> no '$text' in output"; return; fi
    ok "$* -> $st"
}
# The command order of part 2; must name every harness command.
order="gen imager export-ms import-ms compare-images sysinfo provenance run-suite list show
       export verify migrate ingest casa-import baselines compare report bench simulate"

commands=$(harness help --commands) || { echo "FAIL harness help --commands"; exit 1; }
for c in $commands; do
    grep -qw -- "$c" <<<"$order" || bad "command $c has no place in test_cli.sh's order"
done

help_of() { if [ "$1" = imager ]; then imager --help; else harness "$1" --help; fi; }

if [[ $parts == *1* ]]; then
    echo "--- 1: help, version, usage errors"
    expect 0 "harness (imbench) " -- harness --version
    expect 0 "imager (imbench) " -- imager --version
    expect 0 "Commands:" -- harness --help
    expect 0 "Commands:" -- harness -h
    expect 0 "Commands:" -- harness help
    expect 2 "unknown command 'nope'" -- harness nope
    expect 2 "unknown command 'nope'" -- harness help nope
    expect 0 "Usage: imager --vis DIR" -- imager -h
    expect 2 "unknown option '--nope'" -- imager --nope
    for c in $commands; do
        h=$(harness "$c" -h 2>&1); st=$?
        h2=$(harness help "$c" 2>&1)
        if [ $st != 0 ] || [ "$h" != "$h2" ]; then bad "harness $c -h (exit $st) differs from harness help $c"; continue; fi
        miss=
        for s in "Usage: harness $c" "Options:" "  -h, --help" "Examples:" "Exit status:" "  0  " "  2  "; do
            grep -qF -- "$s" <<<"$h" || miss="$miss '$s'"
        done
        n=$(sed -n '/^Examples:/,/^$/p' <<<"$h" | grep -c "^  harness $c ")
        [ "$n" -ge 1 ] || miss="$miss examples"
        # options aligned: every help text of a one-line option starts in one column
        cols=$(sed -n '/^Options:/,/^$/p' <<<"$h" | grep -E '^  (-h, )?--' |
               awk '{ if (match($0, /^  [^ ]+( [^ ]+)?  +/)) print RLENGTH }' | sort -u | wc -l)
        [ "$cols" -le 1 ] || miss="$miss aligned($cols columns)"
        [ -z "$miss" ] && ok "harness $c -h: usage, options, $n examples, exit codes" ||
            bad "harness $c -h lacks:$miss"
        expect 2 "Usage: harness $c" -- harness "$c" --no-such-option
        # no line of the help wraps in 80 columns, except the usage line
        long=$(grep -v '^Usage:\|^  or:' <<<"$h" | awk 'length($0) > 80' | head -1)
        [ -z "$long" ] || bad "harness $c -h: line over 80 columns: $long"
    done
fi

if [[ $parts == *2* ]]; then
    echo "--- 2: every example of every --help, in $scratch/ex"
    mkdir -p "$scratch/ex"
    cp "$src/tests/data/casa/casa6_cube.log" "$scratch/ex/casa.log"
    t0=$SECONDS
    for c in $order; do
        while IFS= read -r line; do
            [ -n "$line" ] || continue
            s=$SECONDS
            out=$(cd "$scratch/ex" && bash -c "$line" 2>&1); st=$?
            if [ $st = 0 ]; then ok "[$((SECONDS - s))s] $line"; else
                bad "[$((SECONDS - s))s] $line -> exit $st"; printf '%s\n' "$out" | tail -8; fi
        done < <(help_of "$c" | sed -n '/^Examples:/,/^$/p' | sed -n 's/^  \(\(harness\|imager\|mpirun\) .*\)$/\1/p')
    done
    echo "examples: $((SECONDS - t0)) s"
fi

if [[ $parts == *3* ]]; then
    echo "--- 3: README.md's sh blocks, from $src"
    awk '/^```sh$/ { on = 1; n++; next } /^```$/ { on = 0 } on { print > ("'"$scratch"'/readme-" n ".sh") }' "$src/README.md"
    t0=$SECONDS
    for f in "$scratch"/readme-*.sh; do
        [ -e "$f" ] || { bad "README.md has no sh block"; break; }
        # as written, but with the programs under test first in PATH
        out=$(cd "$src" && bash -e -o pipefail -c "$(cat "$f"); true" 2>&1 </dev/null); st=$?
        if [ $st = 0 ]; then ok "README block $(basename "$f") ($(wc -l <"$f") lines)"; else
            bad "README block $(basename "$f") -> exit $st"; printf '%s\n' "$out" | tail -15; fi
    done
    echo "readme: $((SECONDS - t0)) s"
    rm -rf /tmp/imbench-tour
fi

if [[ $parts == *4* ]]; then
    echo "--- 4: make install PREFIX=$scratch/prefix"
    prefix=$scratch/prefix
    if out=$(make -C "$src" --no-print-directory install PREFIX="$prefix" 2>&1); then
        ok "make install PREFIX=$prefix"
        for p in harness imager; do
            [ -x "$prefix/bin/$p" ] && ok "installed bin/$p" || bad "no bin/$p"
            page=$(MANWIDTH=80 man -l "$prefix/share/man/man1/$p.1" 2>&1)
            grep -q "^NAME" <<<"$page" && grep -q -- "--help" <<<"$page" && ok "man -l $p.1 renders" ||
                bad "man -l $p.1: $(head -3 <<<"$page")"
            bash -c "source '$prefix/share/bash-completion/completions/$p' && complete -p $p" >/dev/null 2>&1 &&
                ok "completion for $p loads" || bad "completion for $p does not load"
        done
        grep -q "harness gen" <<<"$(man -l "$prefix/share/man/man1/harness.1" 2>/dev/null)" &&
            ok "harness.1 holds the commands" || bad "harness.1 lacks the commands"
        for d in datasets/alma-xc66.yaml suites/smoke.yaml baselines/seed-study.yaml platforms/study-cluster.yaml; do
            [ -f "$prefix/share/imbench/$d" ] && ok "installed share/imbench/$d" || bad "no share/imbench/$d"
        done
        # completion: the commands, then a command's options
        words=$(bash -c "source '$prefix/share/bash-completion/completions/harness'
            COMP_WORDS=(harness run-s); COMP_CWORD=1; _imbench_harness; echo \${COMPREPLY[*]}
            COMP_WORDS=(harness run-suite --dr); COMP_CWORD=2; _imbench_harness; echo \${COMPREPLY[*]}")
        [ "$words" = $'run-suite\n--dry-run' ] && ok "completion: run-s -> run-suite, --dr -> --dry-run" ||
            bad "completion gave: $words"
        mkdir -p "$scratch/elsewhere"
        expect 0 "written" -- env -u IMBENCH_DATASETS -u IMBENCH_BIN -C "$scratch/elsewhere" \
            "$prefix/bin/harness" gen --dataset alma-xc66 --scale 0.001 --out "$scratch/x"
        expect 0 "cells" -- env -u IMBENCH_DATASETS -u IMBENCH_BIN -C "$scratch/elsewhere" \
            "$prefix/bin/harness" run-suite smoke --dry-run --db "$scratch/elsewhere/r.db"
    else
        bad "make install PREFIX=$prefix"; printf '%s\n' "$out" | tail -10
    fi
fi
echo "test_cli: $checks checks, $fails failed"
[ $fails = 0 ]

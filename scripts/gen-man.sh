#!/usr/bin/env bash
# Man page PROG(1) from the program's own --help and --version, with
# Debian's help2man: scripts/gen-man.sh BINDIR PROG OUT.1
# For harness, a COMMANDS section holds every command's --help (usage,
# options, examples, exit codes), so that `man harness` is the whole
# reference; both pages get FILES and ENVIRONMENT sections (docs/cli.md).
set -euo pipefail
bindir=$1 prog=$2 out=$3
command -v help2man >/dev/null || { echo "gen-man: help2man is not installed (make deps)" >&2; exit 1; }
inc=$(mktemp "${out}.inc.XXXXXX")
trap 'rm -f "$inc" "$out.tmp"' EXIT
# text as roff: backslashes doubled, a leading . or ' protected
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
if [ "$prog" = harness ]; then
    {
        echo "[COMMANDS]"
        for c in $("$bindir/harness" help --commands); do
            echo ".SS \"harness $c\""
            echo ".nf"
            "$bindir/harness" "$c" --help | roff
            echo ".fi"
        done
    } >"$inc"
    name="benchmark and profiling harness for radio-interferometric imaging"
else
    : >"$inc"
    name="make dirty image cubes from an imbench visibility store"
fi
cat >>"$inc" <<'EOT'
[ENVIRONMENT]
.TP
.B IMBENCH_DATASETS
Directory of the dataset specs (NAME.yaml). Default: found beside the
program: the source tree's workloads/datasets for build/bin, or
PREFIX/share/imbench/datasets for an installed PREFIX/bin, else the datadir
compiled in. Suites, baselines and platforms are looked up in the
directory above it (suites/, baselines/, platforms/).
.TP
.B IMBENCH_BIN
Directory of the imager that harness launches (default: the harness's own).
.TP
.B IMBENCH_FFTW_WISDOM
FFTW wisdom file of the imager (default $XDG_CACHE_HOME or ~/.cache, then
imbench/fftw-wisdom-PRECISION).
[FILES]
.TP
.I PREFIX/share/imbench/datasets/*.yaml
the seed dataset specs (harness gen --dataset NAME)
.TP
.I PREFIX/share/imbench/suites/*.yaml
the suites shipped (harness run-suite NAME)
.TP
.I PREFIX/share/imbench/baselines/*.yaml
published and measured baselines (harness baselines import NAME)
.TP
.I PREFIX/share/imbench/platforms/*.yaml
SimGrid platforms (harness simulate --platform NAME)
.TP
.I results/imbench.db
the default results database (--db)
[SEE ALSO]
harness(1), imager(1), mpirun(1); docs/cli.md in the imbench sources.
EOT
help2man --no-info --no-discard-stderr --section=1 --source=imbench --name="$name" \
    --include="$inc" --output="$out.tmp" "$bindir/$prog"
mv "$out.tmp" "$out"

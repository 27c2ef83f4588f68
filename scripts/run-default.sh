#!/usr/bin/env bash
# make run: generate the default data, run the default suite (resuming a
# run that was interrupted), render the report and print its path.
set -euo pipefail
BIN=${1:-build/bin}
DB=${IMBENCH_DB:-results/imbench.db}
OUT=${IMBENCH_REPORT:-results/reports/default}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BIN/harness" sysinfo
"$BIN/harness" baselines import workloads/baselines/seed-study.yaml --db "$DB"
"$BIN/harness" run-suite workloads/suites/default.yaml --db "$DB" --resume
# The simulations the report draws (harness simulate, SimGrid; stored in the
# database's own simulation tables): each 2-core cell predicted from its
# 1-core cell on this machine's platform, and the study's effects with every
# seed dataset on 1-8 nodes x 16 threads of the study's platform.
# IMBENCH_SIMULATE=0 skips them (the report then has no simulated figures).
if [ "${IMBENCH_SIMULATE:-1}" != 0 ]; then
    t0=$(date +%s)
    "$BIN/harness" simulate --validate --db "$DB"
    "$BIN/harness" simulate --study --db "$DB"
    echo "simulations: $(( $(date +%s) - t0 )) s"
fi
"$BIN/harness" report --db "$DB" --out "$OUT"
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
echo "report: $OUT/index.html"

#!/usr/bin/env bash
# make full: the seed datasets at the study's size (workloads/suites/full.yaml)
# on this machine, recorded in the same database as `make run`'s small
# cells, which the cost model is fitted on; then the report with the
# model's full-size predictions stored beside the measurements. Hours on a
# 2-core machine and tens of GB of disk: never part of CI. Prints the
# suite's sizes and estimates first (--dry-run). IMBENCH_FULL_FILTER
# (a run-suite --filter) runs part of it.
set -euo pipefail
BIN=${1:-build/bin}
DB=${IMBENCH_DB:-results/imbench.db}
OUT=${IMBENCH_REPORT:-results/reports/full}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
filter=()
[ -n "${IMBENCH_FULL_FILTER:-}" ] && filter=(--filter "$IMBENCH_FULL_FILTER")
"$BIN/harness" sysinfo
"$BIN/harness" baselines import workloads/baselines/seed-study.yaml --db "$DB"
"$BIN/harness" run-suite workloads/suites/full.yaml --db "$DB" "${filter[@]}" --dry-run
"$BIN/harness" run-suite workloads/suites/full.yaml --db "$DB" "${filter[@]}" --resume
"$BIN/harness" report --db "$DB" --out "$OUT" --store-predictions
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
echo "report: $OUT/index.html"

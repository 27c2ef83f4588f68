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
"$BIN/harness" report --db "$DB" --out "$OUT"
echo "report: $PWD/$OUT/index.html"

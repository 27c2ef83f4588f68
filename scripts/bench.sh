#!/usr/bin/env bash
# make bench: run workloads/suites/bench.yaml and bench-support.yaml (the
# per-support curve; repeats interleaved, recorded in SQLite), print the
# ratios measured side by side in each run, and
# render its report (writes and schedulers side by side with per-rank busy
# and idle time, scaling on cores, the cost model) beside make run's.
set -euo pipefail
BIN=${1:-build/bin}
DB=${IMBENCH_BENCH_DB:-results/bench.db}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BIN/harness" run-suite workloads/suites/bench.yaml --db "$DB"
"$BIN/harness" run-suite workloads/suites/bench-support.yaml --db "$DB"
OUT=${IMBENCH_BENCH_REPORT:-results/reports/bench}
"$BIN/harness" bench --db "$DB"
"$BIN/harness" bench --db "$DB" --suite bench-support
"$BIN/harness" report --db "$DB" --out "$OUT" --quiet >/dev/null
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
echo "report: $OUT/index.html"

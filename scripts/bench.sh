#!/usr/bin/env bash
# make bench: run workloads/suites/bench.yaml (repeats interleaved, recorded
# in SQLite) and print the ratios measured side by side in that run.
set -euo pipefail
BIN=${1:-build/bin}
DB=${IMBENCH_BENCH_DB:-results/bench.db}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$BIN/harness" run-suite workloads/suites/bench.yaml --db "$DB"
"$BIN/harness" bench --db "$DB"

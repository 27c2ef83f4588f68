#!/usr/bin/env bash
# Run every test binary given, even after a failure; exit 1 if any failed.
set -u
fail=0
for t in "$@"; do
    echo "=== $t"
    if ! "$t"; then
        echo "FAILED: $t"
        fail=1
    fi
done
exit $fail

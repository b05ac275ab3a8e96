#!/usr/bin/env bash
# Runs memvec's benchmarks against their baselines and prints the goal
# ratios (BENCHMARKS.md). First touches of memory on a VM are bimodal, so
# the whole set runs $RUNS times in a loop, which interleaves the impls
# (go test -count would run one benchmark's repetitions back to back), and
# the ratios are of medians. Raw output goes to $OUT for benchstat.
#
#   scripts/bench.sh                  # 7 passes, ~20 minutes (more on a busy machine)
#   RUNS=3 scripts/bench.sh
#   BENCH=Follow scripts/bench.sh     # only the benchmarks -bench Follow selects
#   go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
runs=${RUNS:-7}
out=${OUT:-bench.txt}
bench=${BENCH:-.}
go test -c -o /tmp/memvec-bench.test .
: > "$out"
for i in $(seq "$runs"); do
	echo "pass $i of $runs" >&2
	/tmp/memvec-bench.test -test.run '^$' -test.bench "$bench" >> "$out"
done
go run ./scripts/benchratio < "$out"

#!/usr/bin/env bash
# Benchmark of driver isolation (issue 16): what running every driver in a
# process of its own costs, against the build before it, measured in one run.
#
#   benches/driver-isolation.sh                build both, measure, print the table
#   BENCH_BASE=<commit> ...                    the baseline (default 03b15c4, the
#                                              last commit loading drivers in-process)
#   BENCH_RUNS=30 ...                          runs per measure
#   BENCH_SKIP_BUILD=1 ...                     reuse both release builds
#
# Measures the median wall time of, for each build:
#   1. doppel drivers list              the six first-party drivers (target: <= 1.5x)
#   2. doppel -s demo status            the lab's demo service: two symclone clone
#                                       sets and an app.script, against the SYMCLI
#                                       simulators (target: <= 1.3x)
# Each build runs from a directory holding its doppel binary and the six
# first-party drivers only (no test drivers). The baseline is exported with
# `git archive` into target/bench-base/src and built there (its own target
# dir), so the working tree is left alone. Results: docs/benchmarks.md.
set -euo pipefail

cd "$(dirname "$0")/.."
WS=$(pwd)
BASE=${BENCH_BASE:-03b15c4}
RUNS=${BENCH_RUNS:-30}
DRIVERS="script symclone drd alt_disk replica nimadm"
BASE_DIR=$WS/target/bench-base

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== cargo build --release --workspace (this tree)" >&2
    cargo build --release --workspace >&2
    echo "== baseline $BASE: git archive + cargo build --release" >&2
    rm -rf "$BASE_DIR/src"
    mkdir -p "$BASE_DIR/src"
    git archive "$BASE" | tar -x -C "$BASE_DIR/src"
    (cd "$BASE_DIR/src" && CARGO_TARGET_DIR=$BASE_DIR/target cargo build --release --workspace >&2)
fi

ROOT=$(mktemp -d /tmp/doppel-bench-iso-XXXXXX)
trap 'rm -rf "$ROOT"' EXIT

# An install per build: the binary and the six first-party drivers.
install_build() {
    local from=$1 to=$2 d
    mkdir -p "$to"
    cp "$from/doppel" "$to/"
    for d in $DRIVERS; do cp "$from/libdoppel_driver_$d.so" "$to/"; done
}
install_build "$WS/target/release" "$ROOT/new"
install_build "$BASE_DIR/target/release" "$ROOT/base"
export DOPPEL_DRIVER_PATH=""

# The lab, set up by its own demo script (with this tree's build and simulators).
echo "== setting up the lab (examples/lab/demo.sh)" >&2
DOPPEL_LAB_ROOT=$ROOT/lab DOPPEL_LAB_BIN=$WS/target/release examples/lab/demo.sh >/dev/null 2>&1
export LAB=$ROOT/lab DOPPEL_SIM_ROOT=$ROOT/lab/sim
# demo.sh ends with the service stopped; start it so status has clones to query.
"$ROOT/new/doppel" --root "$LAB" -q -s demo start >/dev/null 2>&1 || true

# median_ms <command...>: the median of RUNS runs, in ms (one warm-up run).
median_ms() {
    local i t0 t1
    "$@" >/dev/null 2>&1 || true
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}

# Check the installs are what they claim (six drivers each).
for b in base new; do
    n=$("$ROOT/$b/doppel" --root "$ROOT/empty" drivers list 2>/dev/null | grep -c '^[a-z]*\.[a-z_]* ' || true)
    [[ $n == 6 ]] || { echo "bench: the $b install lists $n drivers, not 6" >&2; exit 1; }
done

declare -A result
for b in base new; do
    result[$b,list]=$(median_ms "$ROOT/$b/doppel" --root "$ROOT/empty" drivers list)
    result[$b,status]=$(median_ms "$ROOT/$b/doppel" --root "$LAB" -s demo status)
done
# Interleave a second round so a load change during the run shows as noise in
# both, not as a ratio.
for b in new base; do
    l=$(median_ms "$ROOT/$b/doppel" --root "$ROOT/empty" drivers list)
    s=$(median_ms "$ROOT/$b/doppel" --root "$LAB" -s demo status)
    result[$b,list]=$(awk -v a="${result[$b,list]}" -v b="$l" 'BEGIN {printf "%.1f", (a < b) ? a : b}')
    result[$b,status]=$(awk -v a="${result[$b,status]}" -v b="$s" 'BEGIN {printf "%.1f", (a < b) ? a : b}')
done
ratio() { awk -v n="$1" -v b="$2" 'BEGIN {printf "%.2f", n / b}'; }

echo
echo "Machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr), $(rustc --version | cut -d' ' -f1-2)"
echo "Baseline: $BASE (drivers in-process); this tree: $(git rev-parse --short HEAD) (driver processes). Median of $RUNS runs, best of two rounds."
echo
echo "| measure | baseline | isolated | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
echo "| \`doppel drivers list\` (6 first-party drivers) | ${result[base,list]} ms | ${result[new,list]} ms | $(ratio "${result[new,list]}" "${result[base,list]}")x | <= 1.5x |"
echo "| \`doppel -s demo status\` (lab) | ${result[base,status]} ms | ${result[new,status]} ms | $(ratio "${result[new,status]}" "${result[base,status]}")x | <= 1.3x |"

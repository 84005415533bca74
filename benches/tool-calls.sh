#!/usr/bin/env bash
# What a tool call costs doppel beyond the tool's own time (issue: "every command a
# driver runs costs at least 20 ms"), on the release build.
#
#   benches/tool-calls.sh              build, measure, print a Markdown table
#   BENCH_SKIP_BUILD=1 ...             reuse target/release
#   BENCH_CALLS=10 BENCH_RUNS=15 ...   resources per service, runs per measure
#
# One service of BENCH_CALLS test-driver resources whose status runs a read-only
# command through doppel (`query`): `true` (a tool that takes no time) and
# `sleep 0.05` (a 50 ms stand-in tool), against the same service without a query.
# The overhead per call is (median with the tool - median without) / calls - the
# tool's own time (nominal, and as measured run by the shell). The test
# driver is not reentrant: a service's resources are asked one after the
# other, so the calls add up.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${BENCH_CALLS:-10}
RUNS=${BENCH_RUNS:-15}
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -p doppel -p doppel-driver-testapp >&2
fi
BIN=$(pwd)/target/release/doppel
ROOT=$(mktemp -d /tmp/doppel-bench-calls-XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/etc/doppel/services"
chmod 755 "$ROOT"
echo 'nodename = "bench"' > "$ROOT/etc/doppel/doppel.toml"
export DOPPEL_DRIVER_PATH=""

gen() { # name query
    local i
    for ((i = 0; i < CALLS; i++)); do
        printf '[app#%d]\ntype = test\nstatus = up\n' "$i"
        [[ -n $2 ]] && printf 'query = %s\n' "$2"
        printf '\n'
    done > "$ROOT/etc/doppel/services/$1.conf"
}
gen none ""
gen instant "/bin/true"
gen slow "/bin/sleep 0.05"

# Median wall time in ms of `doppel -s <svc> status`.
median_ms() {
    local svc=$1 i t0 t1 times=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$BIN" --root "$ROOT" -q -s "$svc" status >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
"$BIN" --root "$ROOT" -q -s none status >/dev/null # warm up
base=$(median_ms none)
instant=$(median_ms instant)
slow=$(median_ms slow)
# The tools' own time, started by the shell one after the other (their exec and
# exit included, as any launcher pays them): median of RUNS rounds of CALLS.
alone_ms() {
    local i j t0 t1 times=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        for ((j = 0; j < CALLS; j++)); do "$@"; done
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000 / CALLS)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
true_alone=$(alone_ms /bin/true)
sleep_alone=$(alone_ms /bin/sleep 0.05)
per_instant=$(awk -v a="$instant" -v b="$base" -v n="$CALLS" 'BEGIN {printf "%.2f", (a-b)/n}')
per_slow=$(awk -v a="$slow" -v b="$base" -v n="$CALLS" 'BEGIN {printf "%.2f", (a-b)/n - 50}')
over_true=$(awk -v p="$per_instant" -v t="$true_alone" 'BEGIN {printf "%.2f", p-t}')
over_sleep=$(awk -v a="$slow" -v b="$base" -v n="$CALLS" -v t="$sleep_alone" 'BEGIN {printf "%.2f", (a-b)/n - t}')
echo "| measure ($CALLS resources, median of $RUNS) | ms |"
echo "| --- | --- |"
echo "| status, no tool call | $base |"
echo "| status, each resource runs /bin/true | $instant |"
echo "| status, each resource runs a 50 ms tool | $slow |"
echo "| cost of one /bin/true call (fork, exec, wait, log) | $per_instant |"
echo "| overhead of one 50 ms call beyond the tool's 50 ms | $per_slow |"
echo "| /bin/true alone, started by the shell | $true_alone |"
echo "| /bin/sleep 0.05 alone, started by the shell | $sleep_alone |"
echo "| doppel's overhead on one /bin/true call (beyond the tool alone; target < 2 ms) | $over_true |"
echo "| doppel's overhead on one 50 ms call (beyond the tool alone; target < 2 ms) | $over_sleep |"

#!/usr/bin/env bash
# What the in-flight record of a tool command costs (issue 24): every
# state-changing command a driver runs is recorded in the resource's state
# directory (an atomic write: temp file, fsync, rename, fsync of the directory)
# before doppel waits on it, and removed when it ends.
#
#   benches/inflight-records.sh          build both, measure, print a Markdown table
#   BENCH_BASE=<commit> ...              the baseline (default a9e02d6, main before
#                                        the records)
#   BENCH_CALLS=20 BENCH_RUNS=15 ...     resources per service, runs per measure
#   BENCH_SKIP_BUILD=1 ...               reuse both release builds
#
# One service of BENCH_CALLS test-driver resources whose `start` runs a
# state-changing `/bin/true` through doppel, against the same service without a
# command, for this tree and the baseline (exported with `git archive` into
# target/bench-base-inflight and built there). Per call: (median with the
# command - median without) / calls; the record's cost is the difference
# between the two builds' per-call figures.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=$(pwd)
BASE=${BENCH_BASE:-a9e02d6}
CALLS=${BENCH_CALLS:-20}
RUNS=${BENCH_RUNS:-15}
BASE_DIR=$WS/target/bench-base-inflight
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== cargo build --release (this tree)" >&2
    cargo build --release -p doppel -p doppel-driver-testapp >&2
    echo "== baseline $BASE: git archive + cargo build --release" >&2
    rm -rf "$BASE_DIR/src"
    mkdir -p "$BASE_DIR/src"
    git archive "$BASE" | tar -x -C "$BASE_DIR/src"
    (cd "$BASE_DIR/src" && CARGO_TARGET_DIR=$BASE_DIR/target cargo build --release -p doppel -p doppel-driver-testapp >&2)
fi
ROOT=$(mktemp -d /tmp/doppel-bench-inflight-XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
export DOPPEL_DRIVER_PATH=""

setup() { # build-dir root
    local from=$1 root=$2 i
    mkdir -p "$root/bin" "$root/etc/doppel/services"
    chmod 755 "$root"
    cp "$from/doppel" "$from/libdoppel_driver_testapp.so" "$root/bin/"
    echo 'nodename = "bench"' > "$root/etc/doppel/doppel.toml"
    for svc in none calls; do
        for ((i = 0; i < CALLS; i++)); do
            printf '[app#%d]\ntype = test\nstatus = up\n' "$i"
            [[ $svc == calls ]] && printf 'command = /bin/true\n'
            printf '\n'
        done > "$root/etc/doppel/services/$svc.conf"
    done
}

# Median wall time in ms of `doppel -s <svc> start`.
median_ms() { # root svc
    local root=$1 svc=$2 i t0 t1 times=()
    "$root/bin/doppel" --root "$root" -q -s "$svc" start >/dev/null # warm up
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$root/bin/doppel" --root "$root" -q -s "$svc" start >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

setup "$WS/target/release" "$ROOT/new"
setup "$BASE_DIR/target/release" "$ROOT/base"
declare -A R
for b in base new; do
    R[$b.none]=$(median_ms "$ROOT/$b" none)
    R[$b.calls]=$(median_ms "$ROOT/$b" calls)
    R[$b.per]=$(awk -v a="${R[$b.calls]}" -v b="${R[$b.none]}" -v n="$CALLS" 'BEGIN {printf "%.2f", (a-b)/n}')
done
# The records were really written (and removed): the state dirs have inflight/.
ls -d "$ROOT/new/var/lib/doppel/calls/app#0/inflight" >/dev/null
record=$(awk -v a="${R[new.per]}" -v b="${R[base.per]}" 'BEGIN {printf "%.2f", a-b}')
echo "| measure ($CALLS resources, median of $RUNS runs) | baseline $BASE | with records |"
echo "| --- | --- | --- |"
echo "| start, no tool command | ${R[base.none]} | ${R[new.none]} |"
echo "| start, each resource runs /bin/true | ${R[base.calls]} | ${R[new.calls]} |"
echo "| one state-changing /bin/true call | ${R[base.per]} | ${R[new.per]} |"
echo "| the in-flight record of one command (write + remove) | | $record |"

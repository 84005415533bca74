#!/usr/bin/env bash
# Benchmark of the action engine (issue 4 item 13), on the release build.
#
#   benches/engine.sh            build, generate, measure, print a summary
#   BENCH_SKIP_BUILD=1 ...       use the release binaries already built
#   BENCH_SERVICES=200 BENCH_RESOURCES=10 BENCH_PARALLEL=20 ...   the sizes
#
# Generates BENCH_SERVICES services of BENCH_RESOURCES test-driver resources each
# under a temporary --root, plus one service "par" of BENCH_PARALLEL sync
# resources taking 1 s each in a parallel subset, and measures the median of:
#   1. doppel -s '*' print status     (from the caches; target < 100 ms)
#   2. doppel -s '*' validate
#   3. doppel -s par sync update      (target ~1 s, not BENCH_PARALLEL s)
# with hyperfine when installed (apt-get install hyperfine), else a loop timed
# with `date +%s%N`. Results: docs/benchmarks.md.
set -euo pipefail

cd "$(dirname "$0")/.."
SERVICES=${BENCH_SERVICES:-200}
RESOURCES=${BENCH_RESOURCES:-10}
PARALLEL=${BENCH_PARALLEL:-20}
RUNS=${BENCH_RUNS:-20}

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== cargo build --release --workspace" >&2
    if ! cargo build --release --workspace >&2; then
        # Another crate of the workspace may be mid-edit: the benchmark only
        # needs the host and the drivers it loads.
        echo "== workspace build failed; building doppel and the test drivers only" >&2
        cargo build --release -p doppel -p doppel-driver-script -p doppel-driver-testsync -p doppel-driver-testdisk \
            -p doppel-driver-testfs -p doppel-driver-testapp -p doppel-driver-testtask >&2
    fi
fi
BIN=$(pwd)/target/release/doppel
[[ -x "$BIN" ]] || { echo "no $BIN: build first" >&2; exit 1; }

ROOT=$(mktemp -d /tmp/doppel-bench-XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
SVC_DIR=$ROOT/etc/doppel/services
mkdir -p "$SVC_DIR"
echo 'nodename = "bench"' > "$ROOT/etc/doppel/doppel.toml"
# Keep only the release build's drivers (next to the binary).
export DOPPEL_DRIVER_PATH=""

# One service: RESOURCES resources cycling through the test groups, with
# statuses, last syncs, tags, subsets, triggers and conditions like real files.
gen_service() {
    local name=$1 i group idx
    local groups=(sync disk fs fs app sync fs app task disk)
    declare -A count=()
    {
        printf '[DEFAULT]\nnodes = bench\nsync_max_delay = 1d\npre_start = /bin/true\n\n'
        for ((i = 0; i < RESOURCES; i++)); do
            group=${groups[i % ${#groups[@]}]}
            idx=${count[$group]:-0}
            count[$group]=$((idx + 1))
            printf '[%s#%d]\ntype = test\n' "$group" "$idx"
            case $group in
                sync) printf 'status = up\nlast_sync_ago = 2h\nschedule = 00:00-06:00@60\n' ;;
                fs) printf 'initial = up\ntags = data\nsubset = s%d\n' $((idx % 2)) ;;
                app) printf 'initial = up\nstart_depends = fs#0\npost_start = /bin/true\n' ;;
                *) printf 'initial = up\n' ;;
            esac
            printf '\n'
        done
    } > "$SVC_DIR/$name.conf"
}

echo "== generating $SERVICES services x $RESOURCES resources under $ROOT" >&2
for ((s = 0; s < SERVICES; s++)); do
    gen_service "$(printf 'svc%03d' "$s")"
done
{
    printf '[subset#sync:all]\nparallel = true\n\n'
    for ((i = 0; i < PARALLEL; i++)); do
        printf '[sync#%d]\ntype = test\nsubset = all\nduration = 1s\n\n' "$i"
    done
} > "$SVC_DIR/par.conf"

# Fill the status caches (what `print status` reads). `status` exits 1 when a
# service is not up (a probe's answer), which is not a failure here.
"$BIN" --root "$ROOT" -s '*' status > /dev/null || [ $? -eq 1 ]

PRINT=("$BIN" --root "$ROOT" -s '*' print status)
VALIDATE=("$BIN" --root "$ROOT" -s '*' validate)
SYNC=("$BIN" --root "$ROOT" -q -s par sync update)
"${PRINT[@]}" > /dev/null
"${VALIDATE[@]}" > /dev/null

declare -A MEDIAN=()
if command -v hyperfine > /dev/null; then
    measure() { # label runs command...
        local label=$1 runs=$2 json
        shift 2
        json=$(mktemp)
        hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$json" -n "$label" "$(printf '%q ' "$@")" >&2
        MEDIAN[$label]=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$json")
        rm -f "$json"
    }
    TOOL="hyperfine $(hyperfine --version | cut -d' ' -f2)"
else
    measure() { # label runs command...: median of a date +%s%N loop
        local label=$1 runs=$2 i t0 t1
        shift 2
        local times=()
        for ((i = 0; i < runs; i++)); do
            t0=$(date +%s%N)
            "$@" > /dev/null 2>&1
            t1=$(date +%s%N)
            times+=($(((t1 - t0) / 1000)))
        done
        MEDIAN[$label]=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}')
        echo "$label: median ${MEDIAN[$label]} ms over $runs runs" >&2
    }
    TOOL="date +%s%N loop (hyperfine not installed)"
fi

measure "print status" "$RUNS" "${PRINT[@]}"
measure "validate" "$RUNS" "${VALIDATE[@]}"
measure "sync update" 5 "${SYNC[@]}"

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "machine: $(nproc) CPU ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
echo "tool: $TOOL"
echo
echo "| measure | median | target |"
echo "| --- | --- | --- |"
echo "| \`doppel -s '*' print status\` ($SERVICES services x $RESOURCES resources, from cache) | ${MEDIAN[print status]} ms | < 100 ms |"
echo "| \`doppel -s '*' validate\` ($SERVICES services x $RESOURCES resources) | ${MEDIAN[validate]} ms | - |"
echo "| \`doppel -s par sync update\` ($PARALLEL x 1 s resources, parallel subset) | ${MEDIAN[sync update]} ms | ~1000 ms |"

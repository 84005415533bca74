#!/usr/bin/env bash
# Status and actions on thousands of services (issue 21), on the release build.
#
#   benches/scale.sh                      build, measure, print Markdown tables
#   BENCH_SKIP_BUILD=1 ...                reuse target/release
#   BENCH_RUNS=9 ...                      runs per measure (median)
#   BENCH_BIG=20000 ...                   services of the largest print status
#   BENCH_BASELINE=/path/to/old/doppel    also time validate with that binary
#                                         (it must find the same drivers: copy it
#                                         into target/release under another name)
#   BENCH_ONLY="tools rss validate print drivers"   a subset of the sections
#
# Stand-in tools: a test-driver resource whose status runs `query = /bin/sleep
# 0.05` (a 50 ms tool) through doppel. Absolute times depend on the machine
# (2 cores shared with other jobs when this was written): read the ratios, which
# are measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-9}
BIG=${BENCH_BIG:-20000}
ONLY=${BENCH_ONLY:-tools rss validate print drivers}
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -p doppel -p doppel-driver-testapp -p doppel-driver-testfs \
        -p doppel-driver-testdisk -p doppel-driver-testsync -p doppel-driver-testtask >&2
fi
REL=$(pwd)/target/release
BIN=$REL/doppel
[[ -x "$BIN" ]] || { echo "no $BIN: build first" >&2; exit 1; }
export DOPPEL_DRIVER_PATH=""
TMP=$(mktemp -d /tmp/doppel-bench-scale-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"

# newroot NAME: an empty --root; prints its path.
newroot() {
    local root=$TMP/$1
    mkdir -p "$root/etc/doppel/services"
    echo 'nodename = "bench"' > "$root/etc/doppel/doppel.toml"
    echo "$root"
}

# median_ms CMD...: the median wall time of RUNS runs, in ms (exit status ignored:
# `status` exits 1 when a service is not up).
median_ms() {
    local i t0 t1 times=()
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$@" > /dev/null 2>&1 || true
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}'; }

# service ROOT NAME GROUPS...: one resource per group word, each running the
# 50 ms tool in its status.
service() {
    local root=$1 name=$2 g i=0
    shift 2
    declare -A idx=()
    for g in "$@"; do
        printf '[%s#%d]\ntype = test\nstatus = up\nquery = /bin/sleep 0.05\n\n' "$g" "${idx[$g]:-0}"
        idx[$g]=$((${idx[$g]:-0} + 1))
        i=$((i + 1))
    done > "$root/etc/doppel/services/$name.conf"
}

echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $RUNS runs, release build, $(date -u +%Y-%m-%d)"
echo

if [[ " $ONLY " == *" tools "* ]]; then
    R=$(newroot tools)
    service "$R" one fs
    for i in $(seq -w 0 9); do service "$R" "many$i" fs; done
    service "$R" tenfs fs fs fs fs fs fs fs fs fs fs
    service "$R" tenmixed fs app disk sync task fs app disk sync task
    D=(-q --root "$R")
    "$BIN" "${D[@]}" -s one status > /dev/null || true # warm up
    one=$(median_ms "$BIN" "${D[@]}" -s one status)
    ten_serial=$(median_ms "$BIN" "${D[@]}" -s 'many*' status --parallel=1)
    ten_default=$(median_ms "$BIN" "${D[@]}" -s 'many*' status)
    ten_par=$(median_ms "$BIN" "${D[@]}" -s 'many*' status --parallel)
    tenfs=$(median_ms "$BIN" "${D[@]}" -s tenfs status)
    tenmixed=$(median_ms "$BIN" "${D[@]}" -s tenmixed status)
    # The test driver's reentrant flag follows its environment, which the
    # manifest cache does not look at: probe every time for this one.
    tenre=$(DOPPEL_TEST_DRIVER_REENTRANT=fs DOPPEL_DRIVER_CACHE=off median_ms "$BIN" "${D[@]}" -s tenfs status)
    echo "| status with a 50 ms tool per resource | ms | vs 1 x 1 | target |"
    echo "| --- | --- | --- | --- |"
    echo "| 1 service x 1 resource | $one | 1x | |"
    echo "| 10 services x 1 resource, \`-s 'many*' status --parallel=1\` (one after the other) | $ten_serial | $(ratio "$ten_serial" "$one") | |"
    echo "| 10 services x 1 resource, \`-s 'many*' status\` (default: 8 at a time) | $ten_default | $(ratio "$ten_default" "$one") | <= 3x |"
    echo "| 10 services x 1 resource, \`status --parallel\` (64 at a time) | $ten_par | $(ratio "$ten_par" "$one") | <= 3x |"
    echo "| 1 service x 10 resources of one driver (fs.test, one at a time) | $tenfs | $(ratio "$tenfs" "$one") | |"
    echo "| 1 service x 10 resources of 5 drivers (2 each) | $tenmixed | $(ratio "$tenmixed" "$one") | <= 3x |"
    echo "| 1 service x 10 resources of one reentrant driver | $tenre | $(ratio "$tenre" "$one") | <= 3x |"
    echo
fi

if [[ " $ONLY " == *" rss "* ]]; then
    R=$(newroot rss)
    for ((i = 0; i < 2000; i++)); do
        printf '[fs#0]\ntype = test\nstatus = up\n\n[app#0]\ntype = test\nstatus = up\n' > "$R/etc/doppel/services/r$i.conf"
    done
    echo "| 2000 services x 2 resources, \`ulimit -n 256\` | exit | peak RSS of doppel | time | target |"
    echo "| --- | --- | --- | --- | --- |"
    for par in "" "--parallel"; do
        out=$TMP/rss.out
        t0=$(date +%s%N)
        code=0
        (ulimit -n 256 && /usr/bin/time -f '%M' -o "$TMP/rss.time" "$BIN" -q --root "$R" -s '*' status $par > "$out" 2> "$TMP/rss.err") || code=$?
        t1=$(date +%s%N)
        rss=$(tail -1 "$TMP/rss.time")
        lines=$(grep -c . "$out" || true)
        if [[ $code -ne 0 ]]; then
            echo "status $par exited $code: $(grep -v '^[0-9]*$' "$TMP/rss.err" | head -2)" >&2
        fi
        echo "| \`-s '*' status $par\` | $code | $(awk -v k="$rss" 'BEGIN {printf "%.1f MiB", k/1024}') | $(((t1 - t0) / 1000000)) ms | < 64 MiB, works |"
    done
    echo
fi

if [[ " $ONLY " == *" validate "* ]]; then
    # The same 200 x 10 as benches/engine.sh: what a real file holds.
    R=$(newroot validate)
    groups=(sync disk fs fs app sync fs app task disk)
    for ((s = 0; s < 200; s++)); do
        declare -A count=()
        {
            printf '[DEFAULT]\nnodes = bench\nsync_max_delay = 1d\npre_start = /bin/true\n\n'
            for ((i = 0; i < 10; i++)); do
                g=${groups[i]}
                idx=${count[$g]:-0}
                count[$g]=$((idx + 1))
                printf '[%s#%d]\ntype = test\n' "$g" "$idx"
                case $g in
                    sync) printf 'status = up\nlast_sync_ago = 2h\nschedule = 00:00-06:00@60\n' ;;
                    fs) printf 'initial = up\ntags = data\nsubset = s%d\n' $((idx % 2)) ;;
                    app) printf 'initial = up\nstart_depends = fs#0\npost_start = /bin/true\n' ;;
                    *) printf 'initial = up\n' ;;
                esac
                printf '\n'
            done
        } > "$R/etc/doppel/services/$(printf 'svc%03d' "$s").conf"
        unset count
    done
    "$BIN" -q --root "$R" -s '*' validate > /dev/null
    v=$(median_ms "$BIN" -q --root "$R" -s '*' validate)
    echo "| validate, 200 services x 10 resources | ms | ratio |"
    echo "| --- | --- | --- |"
    if [[ -n "${BENCH_BASELINE:-}" ]]; then
        b=$(median_ms "$BENCH_BASELINE" -q --root "$R" -s '*' validate)
        v2=$(median_ms "$BIN" -q --root "$R" -s '*' validate)
        v=$(printf '%s\n%s\n' "$v" "$v2" | sort -n | head -1)
        echo "| baseline ($BENCH_BASELINE) | $b | 1x |"
        echo "| this build (best of two rounds) | $v | $(ratio "$v" "$b") |"
    else
        echo "| this build | $v | |"
    fi
    echo
fi

if [[ " $ONLY " == *" print "* ]]; then
    # BIG services in three name groups: a quarter, a quarter, a half; caches
    # filled once, then `print status` of 1/4, 1/2 and all of them.
    R=$(newroot print)
    q=$((BIG / 4))
    for ((i = 0; i < BIG; i++)); do
        if ((i < q)); then p=a; elif ((i < 2 * q)); then p=b; else p=c; fi
        printf '[fs#0]\ntype = test\nstatus = up\n' > "$R/etc/doppel/services/$p$i.conf"
    done
    "$BIN" -q --root "$R" -s '*' status --parallel > /dev/null || true
    t1=$(median_ms "$BIN" -q --root "$R" -s 'a*' print status)
    t2=$(median_ms "$BIN" -q --root "$R" -s 'a*,b*' print status)
    t4=$(median_ms "$BIN" -q --root "$R" -s '*' print status)
    per() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%.1f", t * 1000 / n}'; }
    echo "| print status, from the caches | services | ms | us per service | vs the smallest |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| \`-s 'a*'\` | $q | $t1 | $(per "$t1" "$q") | 1x |"
    echo "| \`-s 'a*,b*'\` | $((2 * q)) | $t2 | $(per "$t2" $((2 * q))) | $(ratio "$t2" "$t1") |"
    echo "| \`-s '*'\` | $BIG | $t4 | $(per "$t4" "$BIG") | $(ratio "$t4" "$t1") |"
    echo "(linear: the time doubles with the services, the time per service stays flat)"
    echo
fi

if [[ " $ONLY " == *" drivers "* ]]; then
    R=$(newroot drivers)
    libs=("$REL"/libdoppel_driver_*.so)
    # A C program that dlopens the same libraries: the floor for `drivers list`.
    cat > "$TMP/dl.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!dlopen(argv[i], RTLD_NOW | RTLD_LOCAL)) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    return 0;
}
EOF
    cc -O2 -o "$TMP/dl" "$TMP/dl.c" -ldl
    # Warm: the manifest cache (var/cache/doppel/drivers.json) filled by the
    # first run; cold: every library probed (DOPPEL_DRIVER_CACHE=off, as the
    # first command after an install or upgrade).
    "$BIN" -q --root "$R" drivers list > /dev/null
    d=$(median_ms "$BIN" -q --root "$R" drivers list)
    cold=$(DOPPEL_DRIVER_CACHE=off median_ms "$BIN" -q --root "$R" drivers list)
    c=$(median_ms "$TMP/dl" "${libs[@]}")
    diff() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a-b}'; }
    echo "| drivers list (${#libs[@]} libraries) | ms | above the C program (target <= 3 ms) |"
    echo "| --- | --- | --- |"
    echo "| C program dlopening the same libraries | $c | |"
    echo "| \`doppel drivers list\`, manifests from the cache | $d | $(diff "$d" "$c") |"
    echo "| \`doppel drivers list\`, every library probed | $cold | $(diff "$cold" "$c") |"
    echo
fi

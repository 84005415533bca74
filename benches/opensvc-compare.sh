#!/usr/bin/env bash
# doppel against OpenSVC's Python agent (issue 21), on the same service files.
#
#   OPENSVC_SRC=/path/to/opensvc benches/opensvc-compare.sh
#   benches/opensvc-compare.sh                  doppel alone (and how to get the tree)
#   BENCH_SERVICES=200 BENCH_RESOURCES=10 BENCH_RUNS=10 ...   the sizes
#   BENCH_SKIP_BUILD=1 ...                      use the release binaries already built
#   BENCH_KEEP=1 ...                            keep the temporary roots (printed)
#   OPENSVC_REV=b2.1@17db875 ...                names the OpenSVC revision when the tree has no .git
#
# OPENSVC_SRC is a checkout of https://github.com/opensvc/opensvc, the Python
# agent (branch b2.1 or any tree with the opensvc/ package: opensvc/env.py and
# opensvc/__main__.py), e.g.
#   git clone --depth 1 -b b2.1 https://github.com/opensvc/opensvc /tmp/opensvc-src
# It is only read: the script runs a copy of symlinks to it, under a temporary root.
#
# What it does:
#   1. generates BENCH_SERVICES services of BENCH_RESOURCES sync.symclone
#      resources each, one file per service, written once and copied byte for
#      byte to both roots: [DEFAULT] id = <uuid> (which OpenSVC writes in every
#      file and doppel accepts and ignores), nodes = <this host>, and sections
#      [sync#<i>] type = symclone, symid, pairs = <one pair of its own>;
#   2. doppel: a --root with etc/doppel/services/<name>.conf and a node config
#      pointing [driver.symclone] at doppel's SYMCLI simulators
#      (target/release/symclone, symdev), on a simulated array where every pair
#      is an activated clone (Copied), then `doppel -s '*' status` fills the caches;
#   3. OpenSVC: its relocatable layout. OpenSVC's env.py (Paths(detect=True))
#      takes as its root the directory above the opensvc/ package it runs from,
#      and uses <root>/etc for the service files, <root>/var for the status
#      caches, <root>/tmp and <root>/log. So the script builds <root>/opensvc
#      and <root>/bin, <root>/usr as trees of symlinks to OPENSVC_SRC (`cp -rs`),
#      the files go to <root>/etc/<name>.conf, and it runs
#      `python3 -m opensvc svc ...` with PYTHONPATH=<root> (what bin/svcmgr
#      runs, without its sudo and its /usr/share/opensvc default). The bytecode
#      is compiled once beforehand (python3 -m compileall), as a package install
#      does, so that no run pays the compilation; PYTHONDONTWRITEBYTECODE is unset.
#      `svc -s '*' print status --refresh` fills its caches (<root>/var/svc/<name>/status.json);
#   4. measures the median of, on both:
#        print status   doppel -s '*' print status    | om svc -s '*' print status
#                       (200 services listed, every status read from its cache)
#        validate       doppel -s '*' validate        | om svc -s '*' validate config
#      and prints a Markdown table with the ratios.
#
# OpenSVC's sync.symclone driver does not run the simulators: it calls
# /usr/symcli/bin/symclone and /usr/symcli/bin/symdev (absolute paths, no
# keyword or node setting changes them), and the Linux class of the b2.1 driver
# (drivers/resource/sync/symclone/linux.py) takes symid and pairs as named
# arguments without passing them on, so its resources have no pairs and its
# status never calls a tool (it reports "down", label "symid None"). Only the
# cached `print status` and `validate` are compared, where no tool is called on
# either side; doppel's caches hold the simulated array's real states. What is
# compared is the agents' own work: start, parse 200 files, build the services
# and their resources, read the caches or check the keywords, print.
#
# OpenSVC needs only python3 (3.6+) and its standard library for these commands
# (its foreign/ directory vendors the rest). Results: docs/benchmarks.md.
set -euo pipefail

cd "$(dirname "$0")/.."
SERVICES=${BENCH_SERVICES:-200}
RESOURCES=${BENCH_RESOURCES:-10}
RUNS=${BENCH_RUNS:-10}
SID=000197900123

if [[ -n "${OPENSVC_SRC:-}" ]]; then
    OPENSVC_SRC=$(cd "$OPENSVC_SRC" && pwd) || { echo "opensvc-compare: OPENSVC_SRC=$OPENSVC_SRC: no such directory" >&2; exit 2; }
    if [[ ! -f $OPENSVC_SRC/opensvc/env.py || ! -f $OPENSVC_SRC/opensvc/__main__.py ]]; then
        echo "opensvc-compare: OPENSVC_SRC=$OPENSVC_SRC has no opensvc/env.py and opensvc/__main__.py: not a tree of OpenSVC's Python agent (2.x layout, e.g. branch b2.1)" >&2
        exit 2
    fi
    command -v python3 > /dev/null || { echo "opensvc-compare: OpenSVC needs python3 (apt-get install -y python3)" >&2; exit 2; }
fi

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== cargo build --release -p doppel -p doppel-sim -p doppel-driver-symclone" >&2
    cargo build --release -p doppel -p doppel-sim -p doppel-driver-symclone >&2
fi
REL=$(pwd)/target/release
for tool in doppel symclone symdev symsim sg_turs multipath libdoppel_driver_symclone.so; do
    [[ -e $REL/$tool ]] || { echo "opensvc-compare: no $REL/$tool: build first (cargo build --release --workspace)" >&2; exit 2; }
done
BIN=$REL/doppel

WORK=$(mktemp -d /tmp/opensvc-compare-XXXXXX)
if [[ -n "${BENCH_KEEP:-}" ]]; then
    echo "== keeping $WORK" >&2
else
    trap 'rm -rf "$WORK"' EXIT
fi
DROOT=$WORK/doppel
OROOT=$WORK/opensvc
FILES=$WORK/services
NODE=$(hostname | tr '[:upper:]' '[:lower:]')
NODE=${NODE%%.*}
export DOPPEL_SIM_ROOT=$WORK/sim
# Only the release build's drivers (next to the binary).
export DOPPEL_DRIVER_PATH=""

# --- the service files (one copy, used by both) -------------------------------
new_uuid() { cat /proc/sys/kernel/random/uuid; }
dev() { printf '%05X' $((0x10000 + $1)); }

echo "== generating $SERVICES services x $RESOURCES sync.symclone resources" >&2
mkdir -p "$FILES"
PAIRS_FILE=$WORK/all.pairs
: > "$PAIRS_FILE"
n=0
for ((s = 0; s < SERVICES; s++)); do
    name=$(printf 'svc%03d' "$s")
    {
        printf '[DEFAULT]\nid = %s\nnodes = %s\n\n' "$(new_uuid)" "$NODE"
        for ((i = 0; i < RESOURCES; i++)); do
            src=$(dev $((2 * n)))
            tgt=$(dev $((2 * n + 1)))
            n=$((n + 1))
            printf '[sync#%d]\ntype = symclone\nsymid = %s\npairs = %s:%s\n\n' "$i" "$SID" "$src" "$tgt"
            printf '%s %s\n' "$src" "$tgt" >> "$PAIRS_FILE"
        done
    } > "$FILES/$name.conf"
done

# --- the simulated array: every pair an activated, fully copied clone ---------
echo "== simulated array $SID: $((2 * n)) devices, $n clone pairs (doppel's simulators, $DOPPEL_SIM_ROOT)" >&2
"$REL/symsim" array create "$SID" --devs "$(dev 0):$(dev $((2 * n - 1)))" --copy-seconds 0 > /dev/null
"$REL/symclone" -sid "$SID" -f "$PAIRS_FILE" create -diff -precopy -noprompt > /dev/null 2>&1
"$REL/symclone" -sid "$SID" -f "$PAIRS_FILE" activate -noprompt > /dev/null 2>&1
"$REL/symsim" sysfs "$DOPPEL_SIM_ROOT/host" > /dev/null

# --- doppel's root --------------------------------------------------------------
mkdir -p "$DROOT/etc/doppel/services"
cp "$FILES"/*.conf "$DROOT/etc/doppel/services/"
cat > "$DROOT/etc/doppel/doppel.toml" <<EOF
nodename = "$NODE"

[driver.symclone]
bin = "$REL"
sysroot = "$DOPPEL_SIM_ROOT/host"
sg_turs = "$REL/sg_turs"
multipath = "$REL/multipath"
EOF
echo "== doppel: filling the status caches (doppel -s '*' status, against the simulators)" >&2
"$BIN" --root "$DROOT" -s '*' status > /dev/null || [ $? -eq 1 ]
D_PRINT=("$BIN" --root "$DROOT" -s '*' print status)
D_VALIDATE=("$BIN" --root "$DROOT" -s '*' validate)
"${D_PRINT[@]}" > /dev/null
"${D_VALIDATE[@]}" > /dev/null
up=$("$BIN" --root "$DROOT" -s '*' print status --format json | python3 -c '
import json, sys
rs = [r for s in json.load(sys.stdin) for r in s["resources"]]
print("%d of %d" % (sum(r["status"] == "up" for r in rs), len(rs)))' 2> /dev/null || echo "?")
echo "   doppel: $up resources up in the caches" >&2

# --- OpenSVC's root -------------------------------------------------------------
if [[ -n "${OPENSVC_SRC:-}" ]]; then
    echo "== OpenSVC: relocatable root $OROOT (symlinks to $OPENSVC_SRC)" >&2
    mkdir -p "$OROOT/etc" "$OROOT/var" "$OROOT/tmp" "$OROOT/log"
    for d in opensvc bin usr; do
        [[ -e $OPENSVC_SRC/$d ]] && cp -rs "$OPENSVC_SRC/$d" "$OROOT/"
    done
    cp "$FILES"/*.conf "$OROOT/etc/"
    unset PYTHONDONTWRITEBYTECODE
    echo "== OpenSVC: compiling its bytecode once (python3 -m compileall)" >&2
    python3 -m compileall -q "$OROOT/opensvc" > /dev/null 2>&1 || true
    om() { (cd "$OROOT" && PYTHONPATH=$OROOT exec python3 -m opensvc "$@"); }
    echo "== OpenSVC: filling the status caches (svc -s '*' print status --refresh)" >&2
    om svc -s '*' print status --refresh > /dev/null 2>&1 || true
    cached=$(find "$OROOT/var" -name status.json -path '*/svc/*' | wc -l)
    echo "   OpenSVC: $cached of $SERVICES status caches written" >&2
    [[ $cached -eq $SERVICES ]] || { echo "opensvc-compare: OpenSVC wrote $cached status caches, not $SERVICES: see 'cd $OROOT && PYTHONPATH=$OROOT python3 -m opensvc svc -s \"*\" print status --refresh' (BENCH_KEEP=1)" >&2; exit 1; }
    O_PRINT=(env -C "$OROOT" PYTHONPATH="$OROOT" python3 -m opensvc svc -s '*' print status)
    O_VALIDATE=(env -C "$OROOT" PYTHONPATH="$OROOT" python3 -m opensvc svc -s '*' validate config)
    # Both must succeed before they are timed: a failing command is fast.
    "${O_PRINT[@]}" > "$WORK/osvc-print.out" 2>&1 || { echo "opensvc-compare: OpenSVC print status failed:" >&2; tail -5 "$WORK/osvc-print.out" >&2; exit 1; }
    "${O_VALIDATE[@]}" > "$WORK/osvc-validate.out" 2>&1 || { echo "opensvc-compare: OpenSVC validate config failed:" >&2; tail -5 "$WORK/osvc-validate.out" >&2; exit 1; }
    listed=$(grep -c '^svc[0-9]' "$WORK/osvc-print.out" || true)
    echo "   OpenSVC: print status lists $listed services" >&2
    OSVC_REV=${OPENSVC_REV:-$(git -C "$OPENSVC_SRC" log -1 --format='%h %cs' 2> /dev/null || echo "revision unknown: set OPENSVC_REV")}
fi

# --- measuring --------------------------------------------------------------------
declare -A MEDIAN=()
if command -v hyperfine > /dev/null; then
    measure() { # label command...
        local label=$1 json
        shift
        json=$(mktemp)
        hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$json" -n "$label" "$(printf '%q ' "$@")" >&2
        MEDIAN[$label]=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$json")
        rm -f "$json"
    }
    TOOL="hyperfine $(hyperfine --version | cut -d' ' -f2), --warmup 1, $RUNS runs"
else
    measure() { # label command...: median of a date +%s%N loop, after one warm-up run
        local label=$1 i t0 t1
        shift
        local times=()
        "$@" > /dev/null 2>&1 || true
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s%N)
            "$@" > /dev/null 2>&1 || true
            t1=$(date +%s%N)
            times+=($(((t1 - t0) / 1000)))
        done
        MEDIAN[$label]=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}')
        echo "$label: median ${MEDIAN[$label]} ms over $RUNS runs" >&2
    }
    TOOL="date +%s%N loop, 1 warm-up run, $RUNS runs (hyperfine not installed)"
fi

measure "doppel print status" "${D_PRINT[@]}"
measure "doppel validate" "${D_VALIDATE[@]}"
if [[ -n "${OPENSVC_SRC:-}" ]]; then
    measure "opensvc print status" "${O_PRINT[@]}"
    measure "opensvc validate" "${O_VALIDATE[@]}"
fi

ratio() { python3 -c 'import sys; print("%.0fx" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "machine: $(nproc) CPU ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "doppel: $(git log -1 --format='%h %cs' 2> /dev/null || echo '?'), release build"
[[ -n "${OPENSVC_SRC:-}" ]] && echo "OpenSVC: $OPENSVC_SRC ($OSVC_REV), $(python3 --version)"
echo "tool: $TOOL"
echo "services: $SERVICES x $RESOURCES sync.symclone resources (one pair each), the same files on both sides"
echo
if [[ -n "${OPENSVC_SRC:-}" ]]; then
    echo "| measure | doppel | OpenSVC | ratio |"
    echo "| --- | --- | --- | --- |"
    echo "| \`print status\` of every service, from the caches | ${MEDIAN[doppel print status]} ms | ${MEDIAN[opensvc print status]} ms | $(ratio "${MEDIAN[opensvc print status]}" "${MEDIAN[doppel print status]}") |"
    echo "| \`validate\` (OpenSVC: \`validate config\`) of every service | ${MEDIAN[doppel validate]} ms | ${MEDIAN[opensvc validate]} ms | $(ratio "${MEDIAN[opensvc validate]}" "${MEDIAN[doppel validate]}") |"
else
    echo "| measure | doppel |"
    echo "| --- | --- |"
    echo "| \`print status\` of every service, from the caches | ${MEDIAN[doppel print status]} ms |"
    echo "| \`validate\` of every service | ${MEDIAN[doppel validate]} ms |"
    echo
    echo "OpenSVC not measured: set OPENSVC_SRC to a tree of its Python agent, e.g."
    echo "  git clone --depth 1 -b b2.1 https://github.com/opensvc/opensvc /tmp/opensvc-src"
    echo "  OPENSVC_SRC=/tmp/opensvc-src benches/opensvc-compare.sh"
fi

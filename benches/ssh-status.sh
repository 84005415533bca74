#!/usr/bin/env bash
# What running a resource's commands over ssh costs (issue 18): the status of
# BENCH_CALLS resources on one remote host against the same resources run
# locally, on the release build, with a real sshd on 127.0.0.1.
#
#   benches/ssh-status.sh              build, measure, print a Markdown table
#   BENCH_SKIP_BUILD=1 ...             reuse target/release
#   BENCH_CALLS=10 BENCH_RUNS=15 ...   resources per service, runs per measure
#
# Each resource is an app.script whose check is `true`, so the figures are
# doppel's and ssh's own costs. "cold" runs start with no shared connection (the
# first command pays the handshake, the other ones reuse its ControlMaster);
# "warm" runs find the connection of the previous run (ControlPersist).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${BENCH_CALLS:-10}
RUNS=${BENCH_RUNS:-15}
[[ -x /usr/sbin/sshd ]] || { echo "ssh-status: /usr/sbin/sshd is missing (apt-get install openssh-server)" >&2; exit 2; }
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -p doppel -p doppel-driver-script >&2
fi
BIN=$(pwd)/target/release/doppel
ROOT=$(mktemp -d /tmp/doppel-bench-ssh-XXXXXX)
SSHD_PID=
cleanup() { [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null; rm -rf "$ROOT"; }
trap cleanup EXIT
mkdir -p "$ROOT/etc/doppel/services" "$ROOT/sshd" /run/sshd
chmod 755 "$ROOT"
K=$ROOT/sshd
ssh-keygen -q -t ed25519 -N '' -f "$K/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$K/client_key"
cp "$K/client_key.pub" "$K/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cat "$K/host_key.pub")" > "$K/known_hosts"
cat > "$K/sshd_config" <<CFG
ListenAddress 127.0.0.1
HostKey $K/host_key
AuthorizedKeysFile $K/authorized_keys
StrictModes no
UsePAM no
PidFile $K/sshd.pid
PermitRootLogin prohibit-password
CFG
/usr/sbin/sshd -D -e -p "$PORT" -f "$K/sshd_config" 2>"$K/sshd.log" &
SSHD_PID=$!
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
cat > "$ROOT/etc/doppel/doppel.toml" <<CFG
nodename = "bench"

[ssh]
identity = "$K/client_key"
known_hosts = "$K/known_hosts"
CFG
export DOPPEL_DRIVER_PATH=""

gen() { # name ssh-destination
    {
        printf '[DEFAULT]\n'
        [[ -n $2 ]] && printf 'ssh = %s\n' "$2"
        for ((i = 0; i < CALLS; i++)); do
            printf '\n[app#%d]\ntype = script\nstart = true\nstop = true\ncheck = true\n' "$i"
        done
    } > "$ROOT/etc/doppel/services/$1.conf"
}
gen local ""
gen remote "ssh://root@127.0.0.1:$PORT"

# Median wall time in ms of `doppel -s <svc> status`; `cold` closes the shared
# connection before each run.
median_ms() {
    local svc=$1 mode=$2 i t0 t1 times=()
    for ((i = 0; i < RUNS; i++)); do
        if [[ $mode == cold ]]; then
            for sock in "$ROOT"/var/lib/doppel/.ssh/*; do
                [[ -S $sock ]] && ssh -o ControlPath="$sock" -O exit dummy 2>/dev/null || true
            done
        fi
        t0=$(date +%s%N)
        "$BIN" --root "$ROOT" -q -s "$svc" status >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
"$BIN" --root "$ROOT" -q -s local status >/dev/null # warm up
"$BIN" --root "$ROOT" -q -s remote status >/dev/null || { echo "ssh-status: the remote status failed:" >&2; "$BIN" --root "$ROOT" -s remote status; exit 1; }
local_ms=$(median_ms local warm)
cold_ms=$(median_ms remote cold)
warm_ms=$(median_ms remote warm)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
per() { awk -v a="$1" -v b="$2" -v n="$CALLS" 'BEGIN {printf "%.2f", (a-b)/n}'; }
echo "| status of $CALLS resources (median of $RUNS) | ms | vs local | extra ms per command |"
echo "| --- | --- | --- | --- |"
echo "| local | $local_ms | 1.00 | |"
echo "| over ssh, connection shared within the run (cold) | $cold_ms | $(ratio "$cold_ms" "$local_ms") | $(per "$cold_ms" "$local_ms") |"
echo "| over ssh, connection kept from the previous run (warm) | $warm_ms | $(ratio "$warm_ms" "$local_ms") | $(per "$warm_ms" "$local_ms") |"

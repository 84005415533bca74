#!/usr/bin/env bash
# The doppel lab demo, end to end. THE ARRAY IS SIMULATED: symclone, symdev,
# symdg and symld here are doppel's SYMCLI simulators (tests/sim), which keep a
# fake Symmetrix under $DOPPEL_SIM_ROOT. Everything else is the real doppel.
#
# Usage: examples/lab/demo.sh            (after: cargo build --workspace --release)
#   DOPPEL_LAB_BIN   where doppel, its drivers and the simulators are (target/release)
#   DOPPEL_LAB_ROOT  where to build the lab (default: a new temp dir, kept afterwards)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${DOPPEL_LAB_BIN:-$here/../../target/release}
bin=$(cd "$bin" && pwd)
for tool in doppel symclone symdev symdg symld symsim sg_turs multipath drd drdsim lspv aixsim libdoppel_driver_symclone.so libdoppel_driver_script.so libdoppel_driver_drd.so libdoppel_driver_alt_disk.so mtsim multitool libdoppel_driver_replica.so nimadm nimsim libdoppel_driver_nimadm.so; do
    [ -e "$bin/$tool" ] || { echo "demo: $bin/$tool is missing: run 'cargo build --workspace --release' first" >&2; exit 2; }
done
lab=${DOPPEL_LAB_ROOT:-$(mktemp -d /tmp/doppel-lab.XXXXXX)}
export LAB=$lab DOPPEL_SIM_ROOT=$lab/sim
doppel() { "$bin/doppel" --root "$lab" "$@"; }
sim() { "$bin/$@"; }
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$*"; }

step "Building the lab in $lab"
mkdir -p "$lab/etc/doppel/services" "$lab/bin"
sed -e "s|@SIM_BIN@|$bin|" -e "s|@SIM_ROOT@|$DOPPEL_SIM_ROOT|" "$here/etc/doppel/doppel.toml.in" > "$lab/etc/doppel/doppel.toml"
cp "$here"/etc/doppel/services/*.conf "$lab/etc/doppel/services/"
cp "$here"/etc/drd_exclude "$here"/etc/exclude.rootvg "$lab/etc/"
cp "$here"/bin/*.sh "$lab/bin/"
say "node config:   $lab/etc/doppel/doppel.toml (symclone tools: the simulators in $bin)"
say "services:      $(cd "$lab/etc/doppel/services" && echo *.conf) (this demo walks demo.conf)"

step "Setting up the SIMULATED array 000197900123 (what an array admin does once, per the seed)"
sim symsim array create 000197900123 --devs 00B60:00B65 --copy-seconds 4
sim symdg create -type REGULAR DGDEMO
for pair in "00B60 DEV001 00B61 CLONE001" "00B62 DEV002 00B63 CLONE002" "00B64 DEV003 00B65 CLONE003"; do
    set -- $pair
    sim symld -g DGDEMO -sid 123 add dev "$1" "$2"
    sim symld -g DGDEMO -sid 123 add dev "$3" "$4" -tgt
done
say "initial copy: symclone -g DGDEMO create -diff -precopy (the clones start copying)"
sim symclone -g DGDEMO create -diff -precopy -noprompt DEV001 sym ld CLONE001 DEV002 sym ld CLONE002 DEV003 sym ld CLONE003 2>/dev/null
sim symclone -g DGDEMO query
sim symsim sysfs "$DOPPEL_SIM_ROOT/host" >/dev/null
say "the host's view of the devices: a fake sysfs under $DOPPEL_SIM_ROOT/host (rescanned after each activation)"

step "Setting up the other SIMULATED machines of the lab (HP-UX DRD, AIX, NIM, MultiSite)"
sim drdsim init --sample >/dev/null
sim aixsim init >/dev/null
sim aixsim set copy-seconds 1 >/dev/null
sim mtsim family create /vobs/dev paris@paris tokyo@tokyo >/dev/null
sim nimsim setup --clients lpar1,lpar2,lpar3,lpar4 >/dev/null
say "HP-UX root images under $DOPPEL_SIM_ROOT/drd, AIX disks under $DOPPEL_SIM_ROOT/aix,"
say "a NIM master with clients lpar1-4 under $DOPPEL_SIM_ROOT/nim,"
say "a VOB family /vobs/dev replicated at paris and tokyo under $DOPPEL_SIM_ROOT/mts"

step "doppel drivers list"
doppel drivers list

step "doppel -s '*' validate   (every service of the lab)"
doppel -s '*' validate

step "doppel -s demo start   (activate both clone sets, then the app: start_depends + blocking trigger)"
doppel -s demo start

step "doppel -s demo print status"
doppel -s demo print status

step "doppel -s demo sync update --rid sync#1   (refused: the service is up; recreating the clones would pull the data from under the app)"
if doppel -s demo sync update --rid sync#1; then
    echo "demo: the clone refresh should have been refused" >&2; exit 1
else
    say "refused, as expected (exit $?); --force would override"
fi

step "doppel -s demo stop"
doppel -s demo stop

step "doppel -s demo sync update --rid sync#1   (the service is down now: refresh the archive-log clones, recreate then activate)"
doppel -s demo sync update --rid sync#1

step "doppel -s demo sync resync   (recreate every clone from production)"
doppel -s demo sync resync

step "doppel -s demo print status   (the clones are re-established, not active: no longer usable until started)"
doppel -s demo print status

step "doppel -s demo start --dry-run   (what a start would run, without running it)"
doppel -s demo start --dry-run

step "The other services of the lab"
doppel -s rootclone,altroot,migrate,replica-paris,replica-tokyo print status
say "try: doppel -s rootclone provision; doppel -s rootclone sync update --dry-run   (docs/drivers/drd.md)"
say "try: doppel -s altroot provision; doppel -s altroot wake                         (docs/drivers/alt_disk.md)"
say "try: doppel -s migrate run --clients lpar1,lpar2                                (docs/drivers/nimadm.md)"
say "try: $bin/mtsim change paris --text fix; doppel -s replica-paris,replica-tokyo sync update (docs/drivers/replica.md)"

step "A resource on another host: HP-UX's drd driven over ssh (docs/remote.md)"
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
    # The "remote host" is an sshd of the lab's own on 127.0.0.1: its sessions
    # get the simulators' state root from sshd (SetEnv), as a real HP-UX host
    # has its own disks; doppel's commands reach drd only through it.
    k=$lab/sshd
    mkdir -p "$k" && rm -f "$k"/*_key*
    ssh-keygen -q -t ed25519 -N '' -f "$k/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$k/client_key"
    cp "$k/client_key.pub" "$k/authorized_keys"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 2222)
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cat "$k/host_key.pub")" > "$k/known_hosts"
    chmod 600 "$k/known_hosts"
    cat > "$k/sshd_config" <<EOF2
ListenAddress 127.0.0.1
HostKey $k/host_key
AuthorizedKeysFile $k/authorized_keys
StrictModes no
UsePAM no
PidFile $k/sshd.pid
PermitRootLogin prohibit-password
SetEnv DOPPEL_SIM_ROOT=$DOPPEL_SIM_ROOT
EOF2
    mkdir -p /run/sshd 2>/dev/null || true
    /usr/sbin/sshd -D -e -p "$port" -f "$k/sshd_config" 2>"$k/sshd.log" &
    sshd_pid=$!
    trap 'kill $sshd_pid 2>/dev/null' EXIT
    for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
    printf '\n[ssh]\nidentity = "%s"\nknown_hosts = "%s"\nconnect_timeout = "5s"\n' "$k/client_key" "$k/known_hosts" >> "$lab/etc/doppel/doppel.toml"
    cat > "$lab/etc/doppel/services/remoteclone.conf" <<EOF2
# The HP-UX root-disk clone of rootclone.conf, with drd run on "hpux01" over
# ssh (here the lab's sshd on 127.0.0.1): a clone of the booted disk on disk3.
[DEFAULT]
nodes = labnode
ssh = ssh://$(id -un)@127.0.0.1:$port

[sync#0]
type = drd
target = /dev/disk/disk3
optional = false
EOF2
    env -u DOPPEL_SIM_ROOT "$bin/doppel" --root "$lab" -s remoteclone provision
    step "doppel -s remoteclone print status   (the resource shows where it runs)"
    doppel -s remoteclone print status
else
    say "skipped: no OpenSSH server here (apt-get install openssh-server openssh-client to see it)"
fi

step "Done"
say "the lab stays in $lab: try 'LAB=$lab $bin/doppel --root $lab -s demo print status --format json'"
say "log file: $lab/var/log/doppel/demo.log"

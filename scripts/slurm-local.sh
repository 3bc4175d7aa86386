#!/usr/bin/env bash
# A real single-node Slurm cluster (munged + slurmctld + slurmd) on this machine, for the
# sharded-sweep integration test. Needs root and Debian's packages; no systemd, no cgroups.
#   scripts/slurm-local.sh install   apt-get the packages if missing
#   scripts/slurm-local.sh start     write slurm.conf, start the daemons, wait for `idle`
#   scripts/slurm-local.sh stop      cancel leftover jobs, stop only the daemons we started
# Notes and pitfalls: ../shared/reference/slurm-notes.md (Debian 12, Slurm 22.05).
set -euo pipefail

STATE=/var/lib/dwcp-slurm
PIDS=$STATE/pids
CONF=/etc/slurm/slurm.conf

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "slurm-local: needs root (uid $(id -u))" >&2
        exit 2
    fi
}

install_packages() {
    need_root
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        echo "slurm-local: packages already installed"
        return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

alive() { # name pid
    [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm")" = "$1" ]
}

start() {
    need_root
    mkdir -p "$STATE" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    if [ -f "$PIDS" ]; then
        local up=0
        while read -r name pid; do alive "$name" "$pid" && up=$((up + 1)); done <"$PIDS"
        if [ "$up" = 3 ]; then
            echo "slurm-local: already running"
            return
        fi
        stop
        mkdir -p "$STATE"
    fi
    : >"$PIDS"
    # munge: its run dir is not created without systemd; it must run as the munge user.
    install -d -o munge -g munge -m 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    setpriv --reuid=munge --regid=munge --init-groups munged
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    echo "munged $(cat /run/munge/munged.pid)" >>"$PIDS"

    local host node_line
    host=$(hostname -s)
    # The node's shape from slurmd itself, memory 5% lower so the node is never "drained".
    node_line=$(slurmd -C | head -n1 | sed -E "s/NodeName=[^ ]+/NodeName=$host NodeAddr=127.0.0.1/")
    local mem
    mem=$(echo "$node_line" | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p')
    node_line=$(echo "$node_line" | sed -E "s/RealMemory=[0-9]+/RealMemory=$((mem * 95 / 100))/")
    if [ -f "$CONF" ] && ! grep -q "written by dwcp-sim" "$CONF"; then
        cp "$CONF" "$CONF.before-dwcp-sim"
    fi
    cat >"$CONF" <<CONF
# written by dwcp-sim scripts/slurm-local.sh
ClusterName=dwcp-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
MinJobAge=300
ReturnToService=2
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    rm -f /run/slurmctld.pid /run/slurmd.pid
    slurmctld -c
    for _ in $(seq 50); do [ -s /run/slurmctld.pid ] && break; sleep 0.1; done
    echo "slurmctld $(cat /run/slurmctld.pid)" >>"$PIDS"
    slurmd -N "$host"
    for _ in $(seq 50); do [ -s /run/slurmd.pid ] && break; sleep 0.1; done
    echo "slurmd $(cat /run/slurmd.pid)" >>"$PIDS"
    for _ in $(seq 100); do
        if sinfo -h -o %T 2>/dev/null | grep -q idle; then
            echo "slurm-local: node $host idle"
            return
        fi
        sleep 0.2
    done
    echo "slurm-local: node did not become idle" >&2
    sinfo >&2 || true
    exit 1
}

stop() {
    [ -f "$PIDS" ] || { echo "slurm-local: not running"; return; }
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    # slurmd, then slurmctld, then munged: the reverse of start.
    tac "$PIDS" | while read -r name pid; do
        if alive "$name" "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 100); do alive "$name" "$pid" || break; sleep 0.1; done
            alive "$name" "$pid" && kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -f "$PIDS"
}

case "${1:-}" in
    install) install_packages ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac

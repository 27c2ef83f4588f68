#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests, CI and
# trying the Slurm launcher: Debian's slurm-wlm (22.05) and munge, every
# file under one directory (default build/slurm in this checkout; never
# /etc), daemons stopped by their pid files.
#
#   scripts/slurm-local.sh start     write slurm.conf, create the munge key if
#                                    missing, start munged, slurmctld and
#                                    slurmd, wait until the node is idle
#   scripts/slurm-local.sh stop      stop the three daemons (pid files)
#   scripts/slurm-local.sh status    sinfo, or why the cluster does not answer
#   scripts/slurm-local.sh env       print `export SLURM_CONF=...` for eval
#   scripts/slurm-local.sh run [SUITE] [DB]
#                                    start if needed, submit SUITE (default
#                                    workloads/suites/slurm.yaml) with
#                                    `harness run-suite --launcher slurm
#                                    --submit`, wait, ingest into DB (default
#                                    results/slurm.db), `harness show`
#
# Environment: IMBENCH_SLURM_DIR (the directory), IMBENCH_SLURM_PORT
# (slurmctld's port, default 6817; slurmd takes the next one). Clients
# find the cluster through SLURM_CONF=DIR/slurm.conf.
#
# The machine's real cores and memory (`slurmd -C`) make one node,
# reached on 127.0.0.1, in partition 'debug'. Needs root: slurmd starts
# jobs as their users. Plug-ins for root in a VM without systemd:
# proctrack/linuxproc and task/none (no cgroup hierarchy needed), no
# accounting; MpiDefault=pmix when `srun --mpi=list` offers it. munged
# runs with its key, socket, pid, seed and log in DIR/munge (slurm.conf's
# AuthInfo points Slurm at that socket); the directory is 0755 because
# munged refuses a socket that not every user can reach. A Unix socket's
# path holds at most 107 bytes, and slurmd makes one per job step in its
# spool directory: when DIR is longer than 60 characters, munge/ and
# spool/slurmd/ go to /tmp/imbench-slurm-<hash of DIR> instead (the
# configuration, state and logs stay in DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${IMBENCH_SLURM_DIR:-$root/build/slurm}
port=${IMBENCH_SLURM_PORT:-6817}
conf=$dir/slurm.conf
export SLURM_CONF=$conf
run=$dir
if [ "${#dir}" -gt 60 ]; then
    run=/tmp/imbench-slurm-$(printf '%s' "$dir" | md5sum | cut -c1-12)
fi

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

# pid of daemon NAME from pid file FILE when that process still runs
live_pid() {
    local file=$1 name=$2 pid
    [ -s "$file" ] || return 1
    pid=$(tr -dc 0-9 <"$file")
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    echo "$pid"
}

# stop_daemon FILE NAME: SIGTERM to the pid in FILE, SIGKILL after 15 s
stop_daemon() {
    local file=$1 name=$2 pid
    if ! pid=$(live_pid "$file" "$name"); then
        rm -f "$file"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        say "$name (pid $pid) still running after 15 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
    say "stopped $name (pid $pid)"
}

stop() {
    stop_daemon "$dir/slurmd.pid" slurmd
    stop_daemon "$dir/slurmctld.pid" slurmctld
    stop_daemon "$run/munge/munged.pid" munged
}

# write_conf MPI: slurm.conf for this machine with MpiDefault=MPI
write_conf() {
    local host node
    host=$(hostname -s)
    # NodeName=... CPUs=... Boards=... SocketsPerBoard=... CoresPerSocket=...
    # ThreadsPerCore=... RealMemory=... as slurmd measures them
    node=$(slurmd -C | sed -n '1s/^NodeName=[^ ]* //p')
    [ -n "$node" ] || die "slurmd -C printed no node configuration"
    cat >"$conf.tmp" <<CONF
# Written by scripts/slurm-local.sh: a one-node cluster on this machine.
ClusterName=imbench
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$run/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=$1
ReturnToService=2
MailProg=/bin/true
KillWait=30
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$run/spool/slurmd
StateSaveLocation=$dir/spool/slurmctld
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
NodeName=$host NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    mv -f "$conf.tmp" "$conf"
}

start_munged() {
    local m=$run/munge
    if live_pid "$m/munged.pid" munged >/dev/null; then return 0; fi
    mkdir -p "$m"
    chmod 0755 "$m"
    if [ ! -s "$m/munge.key" ]; then
        mungekey --create --keyfile="$m/munge.key"
        say "created the munge key $m/munge.key"
    fi
    chmod 0600 "$m/munge.key"
    munged --key-file="$m/munge.key" --socket="$m/munge.socket" --pid-file="$m/munged.pid" \
        --seed-file="$m/munged.seed" --log-file="$m/munged.log" ||
        die "munged did not start (see $m/munged.log)"
    munge -n -S "$m/munge.socket" | unmunge -S "$m/munge.socket" >/dev/null ||
        die "munged at $m/munge.socket does not answer"
}

start() {
    [ "$(id -u)" = 0 ] || die "start needs root (slurmd runs jobs as their users)"
    for p in slurmctld slurmd munged mungekey sinfo; do
        command -v "$p" >/dev/null || die "$p not found: install slurm-wlm and munge (make deps)"
    done
    case $dir in *[[:space:]]*) die "directory '$dir' holds a space: slurm.conf cannot" ;; esac
    mkdir -p "$run/spool/slurmd" "$dir/spool/slurmctld" "$dir/log"
    start_munged
    local ctld d
    ctld=$(live_pid "$dir/slurmctld.pid" slurmctld || true)
    d=$(live_pid "$dir/slurmd.pid" slurmd || true)
    if [ -z "$ctld" ] || [ -z "$d" ]; then
        # srun --mpi=list reads the plug-ins of the configuration it is given
        write_conf none
        local mpi=none
        if srun --mpi=list 2>&1 | grep -qw pmix; then mpi=pmix; fi
        write_conf "$mpi"
        [ -n "$ctld" ] || slurmctld -f "$conf" || die "slurmctld did not start (see $dir/log/slurmctld.log)"
        [ -n "$d" ] || slurmd -f "$conf" || die "slurmd did not start (see $dir/log/slurmd.log)"
    fi
    local state=
    for _ in $(seq 120); do
        state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
        case $state in idle | mixed | allocated) break ;; esac
        sleep 0.5
    done
    case $state in
    idle | mixed | allocated) ;;
    *) die "the node is '${state:-not reported}' after 60 s (logs in $dir/log)" ;;
    esac
    say "cluster up: $(sinfo -h -o '%P %D node(s) %c cores %m MB %T %l') (MpiDefault=$(
        sed -n 's/^MpiDefault=//p' "$conf"))"
    say "export SLURM_CONF=$conf"
}

status() {
    if scontrol ping >/dev/null 2>&1; then
        sinfo
    else
        echo "slurm-local: no cluster answers at SLURM_CONF=$conf"
        return 1
    fi
}

run() {
    local suite=${1:-workloads/suites/slurm.yaml} db=${2:-results/slurm.db}
    start
    make --no-print-directory programs >/dev/null
    local jobs
    jobs=$dir/jobs-$(date +%Y%m%d-%H%M%S)
    "$root/build/bin/harness" run-suite "$suite" --launcher slurm --emit "$jobs" \
        --data-dir "$dir/cache" --submit
    say "waiting for the jobs"
    local ids
    ids=$(awk '{print $1}' "$jobs/jobs.txt" | paste -sd,)
    while [ -n "$(squeue -h -o %i -j "$ids" 2>/dev/null)" ]; do sleep 2; done
    mkdir -p "$(dirname "$db")"
    local out
    out=$("$root/build/bin/harness" ingest "$jobs" --db "$db")
    echo "$out"
    local id
    id=$(echo "$out" | sed -n 's/^run \([0-9]*\) .*/\1/p' | head -1)
    "$root/build/bin/harness" show "$id" --db "$db"
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$conf" ;;
run)
    shift
    run "$@"
    ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

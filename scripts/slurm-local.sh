#!/usr/bin/env bash
# Runs a suite through a real Slurm: installs Debian's slurm-wlm and munge,
# starts munged, slurmctld and slurmd as a one-node cluster on this machine
# (configuration in $SLURM_DIR, default /tmp/imbench-slurm; the daemons keep
# running afterwards, stop them with `scripts/slurm-local.sh stop`), emits
# and submits one job per cell and repeat with `harness run-suite --launcher
# slurm --submit`, waits for the jobs, ingests them and shows the run.
#
#   scripts/slurm-local.sh [SUITE] [DB]     default workloads/suites/slurm.yaml,
#                                           results/slurm.db
# Needs root (package install, daemons). Multi-rank jobs use srun with the
# PMIx plug-in (SLURM_MPI_TYPE=pmix).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${SLURM_DIR:-/tmp/imbench-slurm}
conf=/etc/slurm/slurm.conf

stop() {
    pkill -x slurmd 2>/dev/null || true
    pkill -x slurmctld 2>/dev/null || true
}
if [ "${1:-}" = stop ]; then
    stop
    exit 0
fi
suite=${1:-workloads/suites/slurm.yaml}
db=${2:-results/slurm.db}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
make --no-print-directory programs >/dev/null

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p "$dir/spool/ctld" "$dir/spool/d" "$dir/log" /run/munge /etc/slurm
if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 ||
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    chown munge:munge /etc/munge/munge.key /run/munge 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
    su -s /bin/sh munge -c /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
fi
cat > "$conf" <<CONF
# written by imbench scripts/slurm-local.sh: a one-node cluster
ClusterName=imbench
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool/d
StateSaveLocation=$dir/spool/ctld
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
stop
slurmctld
slurmd
for _ in $(seq 30); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo

jobs=$dir/jobs
rm -rf "$jobs"
export SLURM_MPI_TYPE=pmix
"$root/build/bin/harness" run-suite "$suite" --launcher slurm --emit "$jobs" \
    --data-dir "$dir/cache" --tasks-per-node "$cpus" --submit
echo "waiting for the jobs"
while [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do sleep 2; done
mkdir -p "$(dirname "$db")"
out=$("$root/build/bin/harness" ingest "$jobs" --db "$db")
echo "$out"
run=$(echo "$out" | sed -n 's/^run \([0-9]*\) .*/\1/p' | head -1)
"$root/build/bin/harness" show "$run" --db "$db"

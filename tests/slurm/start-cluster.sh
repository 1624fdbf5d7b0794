#!/usr/bin/env bash
# A single-node Slurm cluster on loopback for tests/slurm_e2e.rs: munged, slurmctld and
# slurmd (Debian's munge, slurmctld and slurmd packages) started by hand, no systemd. Run as
# root; it writes /etc/slurm/slurm.conf (so sbatch, squeue and sinfo find it with no
# environment) and refuses to replace one it did not write. Idempotent: daemons already
# answering are left running. It returns once `sinfo` shows the node up (idle at first).
#
#   tests/slurm/start-cluster.sh && cargo test --workspace --test slurm_e2e
#
# State, spool and logs: $GPTSWEEP_SLURM_DIR (default /var/lib/gptsweep-slurm).
set -euo pipefail

dir=${GPTSWEEP_SLURM_DIR:-/var/lib/gptsweep-slurm}
conf=/etc/slurm/slurm.conf
marker="# written by gptsweep tests/slurm/start-cluster.sh"

die() {
	echo "start-cluster.sh: $*" >&2
	exit 1
}

[[ $(id -u) == 0 ]] || die "run as root (the daemons run as root here)"
for tool in munged munge unmunge slurmctld slurmd sinfo scontrol; do
	command -v "$tool" >/dev/null || die "$tool not found: apt-get install -y munge slurmctld slurmd slurm-client"
done

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
	local seconds=$1
	shift
	for ((i = 0; i < seconds * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# --- munge: the key the package made (or a new one), munged as the munge user.
if [[ ! -s /etc/munge/munge.key ]]; then
	install -d -o munge -g munge -m 0700 /etc/munge
	dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
fi
munge_works() { munge -n | unmunge; }
if ! munge_works >/dev/null 2>&1; then
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
	runuser -u munge -- munged
	wait_for 10 munge_works || die "munged does not answer (see /var/log/munge/munged.log)"
fi

# --- slurm.conf: one node, localhost, on 127.0.0.1.
if [[ -e $conf ]] && ! grep -qF "$marker" "$conf"; then
	die "$conf exists and was not written by this script: not replacing it"
fi
mkdir -p "$dir/ctld" "$dir/d" /etc/slurm
# At least 2 CPUs, so both tasks of a 0-1 array run at once even on a 1-core machine
# (config_overrides: slurmd takes the configured counts over what it detects).
cpus=$(nproc)
((cpus >= 2)) || cpus=2
memory=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 / 2))
cat >"$conf.new" <<CONF
$marker
ClusterName=gptsweep-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
if cmp -s "$conf.new" "$conf"; then
	rm "$conf.new"
else
	mv "$conf.new" "$conf"
	# Daemons running on another configuration are stopped, and started again below.
	scontrol shutdown >/dev/null 2>&1 || true
	wait_for 10 bash -c '! scontrol ping | grep -q "is UP"' || true
fi

# --- slurmctld, then slurmd (named localhost, whatever the host name).
if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
	slurmctld
	wait_for 20 bash -c 'scontrol ping | grep -q "is UP"' ||
		die "slurmctld does not answer: $(tail -20 "$dir/slurmctld.log" 2>/dev/null)"
fi
# The slurmd of the pid file, if it runs (a zombie, left by a parent that never reaps, does
# not: hence no pgrep).
slurmd_runs() {
	local pid state
	pid=$(cat "$dir/slurmd.pid" 2>/dev/null) || return 1
	[[ -n $pid ]] || return 1
	# /proc/PID/stat: "PID (COMM) STATE ..."; no procps on a minimal Debian.
	state=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}
if ! slurmd_runs; then
	slurmd -N localhost
fi
# Up: idle, or running jobs already (a second call while a test runs).
node_up() { [[ $(sinfo -h -n localhost -o %T) =~ ^(idle|mixed|allocated)$ ]]; }
if ! wait_for 30 node_up; then
	# A node left down or drained by an earlier run comes back.
	scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
	wait_for 10 node_up ||
		die "node localhost is not up: $(sinfo -N -l 2>&1); slurmd log: $(tail -20 "$dir/slurmd.log" 2>/dev/null)"
fi
sinfo

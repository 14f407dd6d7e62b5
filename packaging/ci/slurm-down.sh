#!/usr/bin/env bash
# slurm-down.sh STATE_DIR
#
# Stop what slurm-up.sh STATE_DIR started (and only that), using the pids it
# recorded in STATE_DIR/started/ (checked against /proc/PID/comm, so a
# recycled pid is never signalled); never by process name.  Before stopping
# Slurm it cancels the jobs still queued or running in the test partition,
# and it closes the loopback sshd's open sessions, so nothing is left behind.
# Daemons that slurm-up.sh found already running (not started by it) are left
# alone.  Files in STATE_DIR (keys, port, env.json) are kept so that the next
# slurm-up.sh is faster and keeps the same port.
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export LC_ALL=C

log() { printf '[slurm-down] %s\n' "$*"; }
die() { printf '[slurm-down] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 STATE_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root (running as uid $(id -u))"
STATE_DIR=$(realpath -m -- "$1")
STARTED=$STATE_DIR/started
PARTITION=debug
if [[ ! -d $STARTED ]]; then
    log "nothing to stop: $STARTED does not exist"
    exit 0
fi

mkdir -p /run/lock
exec 9>/run/lock/nodeflow-slurm-ci.lock
flock -w 600 9 || die "could not get /run/lock/nodeflow-slurm-ci.lock within 600 s"

# live_pid NAME COMM -> prints the recorded pid if it is still that daemon
live_pid() {
    local mpid pf st
    [[ -r $STARTED/$1 ]] || return 1
    read -r mpid pf < "$STARTED/$1" || return 1
    [[ $mpid =~ ^[0-9]+$ ]] || return 1
    [[ $(cat "/proc/$mpid/comm" 2>/dev/null) == "$2" ]] || return 1
    st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$mpid/stat" 2>/dev/null || true)
    [[ -n $st && $st != Z ]] || return 1
    echo "$mpid"
}
gone() { [[ ! -d /proc/$1 ]] || [[ $(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
descendants_of() {   # all descendants of PID (from /proc ppids, no name matching), parents first
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        { pid = $1; sub(/^.*\) /, ""); parent[pid] = $2; n++; pids[n] = pid }
        END {
            in_tree[root] = 1
            do {
                added = 0
                for (i = 1; i <= n; i++) {
                    p = pids[i]
                    if (!(p in in_tree) && (parent[p] in in_tree)) { in_tree[p] = 1; print p; added = 1 }
                }
            } while (added)
        }' || true
}
stop_pid() {      # stop_pid PID NAME : SIGTERM, wait up to 20 s, then SIGKILL; wait for exit
    local pid=$1 name=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        gone "$pid" && { log "$name (pid $pid) stopped"; return 0; }
        sleep 0.2
    done
    log "$name (pid $pid) ignored SIGTERM for 20 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do gone "$pid" && return 0; sleep 0.2; done
    log "WARNING: $name (pid $pid) is still there"
    return 1
}

rc=0

# 1. Cancel leftover jobs while slurmctld and slurmd still run (ours only).
if live_pid slurmctld slurmctld >/dev/null && live_pid slurmd slurmd >/dev/null; then
    jobs=$(squeue -h -p "$PARTITION" -t pending,running,suspended,configuring,completing -o %i 2>/dev/null || true)
    if [[ -n $jobs ]]; then
        log "cancelling $(wc -w <<<"$jobs") job(s) left in partition $PARTITION"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for ((i = 0; i < 75; i++)); do
            [[ -z $(squeue -h -p "$PARTITION" -t running,completing,configuring -o %i 2>/dev/null || true) ]] && break
            sleep 0.2
        done
    fi
fi

# 2. Stop the daemons, users first.
for spec in sshd:sshd slurmd:slurmd slurmctld:slurmctld munged:munged; do
    name=${spec%%:*} comm=${spec#*:}
    [[ -e $STARTED/$name ]] || continue
    if pid=$(live_pid "$name" "$comm"); then
        if [[ $name == sshd ]]; then
            # Close open sessions and what they run: every process below the
            # listening sshd (collected first: killing a parent re-parents
            # its children to init, out of our reach).
            session_pids=$(descendants_of "$pid")
            if [[ -n $session_pids ]]; then
                log "closing open ssh sessions: pids $(echo $session_pids)"
                # shellcheck disable=SC2086
                kill -TERM $session_pids 2>/dev/null || true
                for ((i = 0; i < 25; i++)); do
                    alive=
                    for p in $session_pids; do gone "$p" || alive+=" $p"; done
                    [[ -z $alive ]] && break
                    sleep 0.2
                done
                # shellcheck disable=SC2086
                [[ -z $alive ]] || { log "SIGKILL to session pids$alive"; kill -KILL $alive 2>/dev/null || true; }
            fi
        fi
        stop_pid "$pid" "$name" || rc=1
    else
        log "$name is not running (already stopped)"
    fi
    rm -f "$STARTED/$name"
done

exit "$rc"

#!/usr/bin/env bash
# slurm-up.sh STATE_DIR
#
# Bring up, on this machine, everything nodeflow's Slurm-over-SSH tests need:
#   * munged                (global: /run/munge/munged.pid)
#   * a one-node Slurm      (cluster "nodeflowtest", partition "debug",
#                            /etc/slurm/slurm.conf, slurmctld + slurmd)
#   * an sshd on 127.0.0.1  (own config, host key and pid file in STATE_DIR)
#   * a test user "nfuser"  (key login only; jobs run as this user)
# and write STATE_DIR/env.sh and STATE_DIR/env.json describing it.
#
# Idempotent: daemons that already run (same slurm.conf, same sshd config)
# are reused.  Missing packages are installed with apt-get (Debian only).
# Needs root.  Stop everything again with slurm-down.sh STATE_DIR.
#
# Tunables (environment): NODEFLOW_SLURM_CPUS (default 8, CPUs declared for
# the node; more than exist is fine, see SlurmdParameters=config_overrides),
# NODEFLOW_SLURM_TIMEOUT (default 90, seconds to wait for each daemon).
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
export LC_ALL=C

T0=$(date +%s.%N)
log() { printf '[slurm-up] %s\n' "$*"; }
die() { printf '[slurm-up] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 STATE_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages, writes /etc/slurm/slurm.conf and /etc/hosts, creates user nfuser and starts munged/slurmctld/slurmd/sshd); running as uid $(id -u)"

STATE_DIR=$(realpath -m -- "$1")
CLUSTER=nodeflowtest
PARTITION=debug
SSH_HOST=127.0.0.1
SSH_USER=nfuser
SLURM_CONF=/etc/slurm/slurm.conf
SLURM_CPUS=${NODEFLOW_SLURM_CPUS:-8}
TIMEOUT=${NODEFLOW_SLURM_TIMEOUT:-90}
MUNGE_PIDFILE=/run/munge/munged.pid
CTLD_PIDFILE=/run/slurm/slurmctld.pid
SLURMD_PIDFILE=/run/slurm/slurmd.pid
SSHD_PIDFILE=$STATE_DIR/sshd.pid
SSHD_CONFIG=$STATE_DIR/sshd_config
HOST_KEY=$STATE_DIR/ssh_host_ed25519_key
CLIENT_KEY=$STATE_DIR/id_ed25519
KNOWN_HOSTS=$STATE_DIR/known_hosts
PORT_FILE=$STATE_DIR/ssh_port
STARTED=$STATE_DIR/started          # one file per daemon this STATE_DIR started: "PID PIDFILE"
[[ $SLURM_CPUS =~ ^[1-9][0-9]*$ ]] || die "NODEFLOW_SLURM_CPUS must be a positive integer, got '$SLURM_CPUS'"

# ---------------------------------------------------------------- packages
REQUIRED_CMDS=(slurmctld slurmd sbatch squeue sinfo scontrol scancel munged munge unmunge
               /usr/sbin/sshd ssh ssh-keygen ssh-keyscan runuser useradd usermod flock getent)
missing=()
for c in "${REQUIRED_CMDS[@]}"; do have "$c" || missing+=("$c"); done
if ((${#missing[@]})); then
    have apt-get || die "not a Debian/apt system (apt-get not found) and these commands are missing: ${missing[*]}"
    log "missing: ${missing[*]} -> installing slurm-wlm slurm-client munge openssh-server openssh-client"
    # Keep the packages' maintainer scripts from starting daemons we don't track.
    policy_created=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_created=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    # --no-upgrade: leave already-installed packages of this list as they are.
    apt-get install -y -q --no-install-recommends --no-upgrade \
        slurm-wlm slurm-client munge openssh-server openssh-client \
        || die "apt-get install failed"
    if [[ -n $policy_created ]]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    missing=()
    for c in "${REQUIRED_CMDS[@]}"; do have "$c" || missing+=("$c"); done
    ((${#missing[@]} == 0)) || die "still missing after install: ${missing[*]}"
    log "packages installed ($(elapsed) s)"
fi

mkdir -p "$STATE_DIR" "$STARTED"
chmod 700 "$STATE_DIR"

# One up/down at a time on this machine (the Slurm cluster is global).
# fd 9 must not leak into daemons (they would hold the lock forever): every
# daemon start below closes it with 9>&-.
mkdir -p /run/lock
exec 9>/run/lock/nodeflow-slurm-ci.lock
flock -w 600 9 || die "could not get /run/lock/nodeflow-slurm-ci.lock within 600 s"

# ---------------------------------------------------------------- helpers
# pid_alive PIDFILE COMM -> prints the pid if the pid file names a live
# (non-zombie) process whose comm is COMM.
pid_alive() {
    local f=$1 comm=$2 pid st
    [[ -r $f ]] || return 1
    pid=$(tr -dc '0-9' < "$f" 2>/dev/null || true)
    [[ -n $pid ]] || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
    st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $st && $st != Z ]] || return 1
    echo "$pid"
}
mark_started() { printf '%s %s\n' "$2" "$3" > "$STARTED/$1"; }   # NAME PID PIDFILE
# owned NAME PIDFILE COMM -> true if the daemon running now is the one this STATE_DIR started
owned() {
    local pid mpid _f
    pid=$(pid_alive "$2" "$3") || return 1
    [[ -r $STARTED/$1 ]] || return 1
    read -r mpid _f < "$STARTED/$1" || return 1
    [[ $mpid == "$pid" ]]
}
# wait_for DESCRIPTION COMMAND... : retry COMMAND every 0.2 s until it succeeds or TIMEOUT
wait_for() {
    local what=$1; shift
    local end=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || return 1
        sleep 0.2
    done
}
stop_pid() {   # stop_pid PID NAME : TERM, wait up to 20 s, then KILL
    local pid=$1 name=$2 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        [[ -d /proc/$pid ]] || return 0
        [[ $(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
        sleep 0.2
    done
    log "$name (pid $pid) ignored SIGTERM for 20 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}
show_log() { [[ -r $1 ]] && { echo "---- last lines of $1:" >&2; tail -n 25 "$1" >&2; echo "----" >&2; } || true; }
json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

# ---------------------------------------------------------------- hostname
NODE=$(hostname -s 2>/dev/null || uname -n)
NODE=${NODE%%.*}
[[ -n $NODE ]] || die "cannot determine the host name"
if ! getent hosts "$NODE" >/dev/null 2>&1; then
    log "host name '$NODE' does not resolve: adding '127.0.0.1 $NODE' to /etc/hosts"
    printf '127.0.0.1 %s\n' "$NODE" >> /etc/hosts
    getent hosts "$NODE" >/dev/null 2>&1 || die "'$NODE' still does not resolve after editing /etc/hosts"
fi

# ---------------------------------------------------------------- munge
id munge >/dev/null 2>&1 || die "user 'munge' does not exist (is the munge package installed correctly?)"
install -d -o munge -g munge -m 755 /run/munge
install -d -o munge -g munge -m 700 /etc/munge /var/log/munge
install -d -o munge -g munge -m 711 /var/lib/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    if have mungekey; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
munge_ok() { munge -n | unmunge; }
if pid=$(pid_alive "$MUNGE_PIDFILE" munged) && munge_ok >/dev/null 2>&1; then
    log "munged already running (pid $pid), reusing"
else
    log "starting munged"
    runuser -u munge -- munged --force </dev/null >>"$STATE_DIR/munged.stdout" 2>&1 9>&- \
        || { show_log /var/log/munge/munged.log; die "munged failed to start"; }
    wait_for munge munge_ok || { show_log /var/log/munge/munged.log; die "munge -n | unmunge still fails after ${TIMEOUT} s"; }
    pid=$(pid_alive "$MUNGE_PIDFILE" munged) || die "munged runs but $MUNGE_PIDFILE names no live munged"
    mark_started munged "$pid" "$MUNGE_PIDFILE"
fi

# ---------------------------------------------------------------- slurm.conf
id slurm >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin slurm
REAL_MEM=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.95 }' /proc/meminfo)
((REAL_MEM > 0)) || REAL_MEM=1000
mkdir -p /etc/slurm
NEW_CONF=$STATE_DIR/slurm.conf.new
cat > "$NEW_CONF" <<EOF
# Written by nodeflow packaging/ci/slurm-up.sh -- one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PIDFILE
SlurmdPidFile=$SLURMD_PIDFILE
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
# Declare more CPUs than the machine has so that more trivial jobs run at once.
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$SLURM_CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
if cmp -s "$NEW_CONF" "$SLURM_CONF"; then
    rm -f "$NEW_CONF"
else
    for d in slurmd:"$SLURMD_PIDFILE" slurmctld:"$CTLD_PIDFILE"; do
        if pid=$(pid_alive "${d#*:}" "${d%%:*}"); then
            log "slurm.conf changes: stopping running ${d%%:*} (pid $pid)"
            stop_pid "$pid" "${d%%:*}"
        fi
    done
    log "writing $SLURM_CONF"
    install -m 644 "$NEW_CONF" "$SLURM_CONF"
    rm -f "$NEW_CONF"
fi

install -d -o slurm -g slurm -m 755 /run/slurm /var/spool/slurmctld /var/log/slurm
install -d -o root -g root -m 755 /var/spool/slurmd

# ---------------------------------------------------------------- slurmctld
if pid=$(pid_alive "$CTLD_PIDFILE" slurmctld); then
    log "slurmctld already running with this slurm.conf (pid $pid), reusing"
else
    log "starting slurmctld"
    slurmctld </dev/null >>"$STATE_DIR/slurmctld.stdout" 2>&1 9>&- \
        || { show_log "$STATE_DIR/slurmctld.stdout"; show_log /var/log/slurm/slurmctld.log; die "slurmctld failed to start"; }
    wait_for slurmctld pid_alive "$CTLD_PIDFILE" slurmctld \
        || { show_log /var/log/slurm/slurmctld.log; die "slurmctld wrote no pid file within ${TIMEOUT} s"; }
    pid=$(pid_alive "$CTLD_PIDFILE" slurmctld)
    mark_started slurmctld "$pid" "$CTLD_PIDFILE"
fi
wait_for "scontrol ping" scontrol ping \
    || { show_log /var/log/slurm/slurmctld.log; die "scontrol ping not OK within ${TIMEOUT} s"; }

# ---------------------------------------------------------------- slurmd
if pid=$(pid_alive "$SLURMD_PIDFILE" slurmd); then
    log "slurmd already running with this slurm.conf (pid $pid), reusing"
else
    log "starting slurmd"
    slurmd </dev/null >>"$STATE_DIR/slurmd.stdout" 2>&1 9>&- \
        || { show_log "$STATE_DIR/slurmd.stdout"; show_log /var/log/slurm/slurmd.log; die "slurmd failed to start"; }
    wait_for slurmd pid_alive "$SLURMD_PIDFILE" slurmd \
        || { show_log /var/log/slurm/slurmd.log; die "slurmd wrote no pid file within ${TIMEOUT} s"; }
    pid=$(pid_alive "$SLURMD_PIDFILE" slurmd)
    mark_started slurmd "$pid" "$SLURMD_PIDFILE"
fi

# Wait for the node to be usable; resume it if it is down or drained.
end=$((SECONDS + TIMEOUT)); next_resume=0; state=
while :; do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
    case $state in
        idle | mix | alloc) break ;;
        down* | drain* | drng* | fail*)
            if ((SECONDS >= next_resume)); then
                log "node $NODE is '$state': scontrol update nodename=$NODE state=resume"
                scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
                next_resume=$((SECONDS + 2))
            fi ;;
    esac
    if ((SECONDS >= end)); then
        scontrol show node "$NODE" >&2 || true
        show_log /var/log/slurm/slurmd.log
        die "node $NODE not idle within ${TIMEOUT} s (state '$state')"
    fi
    sleep 0.2
done
log "slurm up: node $NODE is $state ($(elapsed) s)"

# ---------------------------------------------------------------- test user
if ! id "$SSH_USER" >/dev/null 2>&1; then
    log "creating user $SSH_USER"
    useradd -m -s /bin/bash "$SSH_USER"
fi
# useradd leaves the password locked ('!'), and sshd refuses key logins to
# locked accounts: '*' = no password login, but not locked.
case $(getent shadow "$SSH_USER" | cut -d: -f2) in
    '!'* | '') usermod -p '*' "$SSH_USER" ;;
esac
case $(getent passwd "$SSH_USER" | cut -d: -f7) in
    */nologin | */false | '') usermod -s /bin/bash "$SSH_USER" ;;
esac
USER_HOME=$(getent passwd "$SSH_USER" | cut -d: -f6)
USER_GROUP=$(id -gn "$SSH_USER")
[[ -d $USER_HOME ]] || install -d -o "$SSH_USER" -g "$USER_GROUP" -m 755 "$USER_HOME"
install -d -o "$SSH_USER" -g "$USER_GROUP" -m 700 "$USER_HOME/.ssh"

if [[ ! -s $CLIENT_KEY || ! -s $CLIENT_KEY.pub ]]; then
    rm -f "$CLIENT_KEY" "$CLIENT_KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C "nodeflow-ci@$STATE_DIR" -f "$CLIENT_KEY"
fi
chmod 600 "$CLIENT_KEY"
AUTH_KEYS=$USER_HOME/.ssh/authorized_keys
touch "$AUTH_KEYS"
grep -qxF "$(cat "$CLIENT_KEY.pub")" "$AUTH_KEYS" || cat "$CLIENT_KEY.pub" >> "$AUTH_KEYS"
chown "$SSH_USER:$USER_GROUP" "$AUTH_KEYS"
chmod 600 "$AUTH_KEYS"

# ---------------------------------------------------------------- sshd
[[ -s $HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C "nodeflow-ci-hostkey" -f "$HOST_KEY"
chmod 600 "$HOST_KEY"
install -d -m 755 /run/sshd    # privilege separation directory

write_sshd_config() {   # write_sshd_config PORT FILE
    cat > "$2" <<EOF
# Written by nodeflow packaging/ci/slurm-up.sh -- loopback sshd for tests.
Port $1
ListenAddress $SSH_HOST
HostKey $HOST_KEY
PidFile $SSHD_PIDFILE
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
PrintMotd no
MaxSessions 100
MaxStartups 100:30:200
ClientAliveInterval 30
Subsystem sftp internal-sftp
EOF
}
port_free() {
    if have python3; then
        python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
    else
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}
pick_port() {
    local p
    if have python3; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        port_free "$p" && { echo "$p"; return; }
    done
    return 1
}

PORT=
if pid=$(pid_alive "$SSHD_PIDFILE" sshd) && [[ -s $PORT_FILE ]]; then
    PORT=$(cat "$PORT_FILE")
    write_sshd_config "$PORT" "$SSHD_CONFIG.new"
    if cmp -s "$SSHD_CONFIG.new" "$SSHD_CONFIG"; then
        log "sshd already running on $SSH_HOST:$PORT (pid $pid), reusing"
        rm -f "$SSHD_CONFIG.new"
    else
        log "sshd config changed: restarting sshd (pid $pid)"
        stop_pid "$pid" sshd
        PORT=
    fi
elif pid=$(pid_alive "$SSHD_PIDFILE" sshd); then
    log "sshd (pid $pid) runs without a port file: restarting it"
    stop_pid "$pid" sshd
fi
if [[ -z $PORT ]]; then
    started=
    for attempt in 1 2 3 4 5; do
        # Prefer the port of an earlier run (known_hosts and env stay valid).
        if [[ $attempt -eq 1 && -s $PORT_FILE ]] && port_free "$(cat "$PORT_FILE")"; then
            PORT=$(cat "$PORT_FILE")
        else
            PORT=$(pick_port) || die "could not find a free TCP port on 127.0.0.1"
        fi
        write_sshd_config "$PORT" "$SSHD_CONFIG"
        rm -f "$SSHD_CONFIG.new"
        /usr/sbin/sshd -t -f "$SSHD_CONFIG" || die "sshd rejects its config $SSHD_CONFIG"
        log "starting sshd on $SSH_HOST:$PORT"
        if /usr/sbin/sshd -f "$SSHD_CONFIG" -E "$STATE_DIR/sshd.log" </dev/null >>"$STATE_DIR/sshd.stdout" 2>&1 9>&-; then
            if wait_for sshd pid_alive "$SSHD_PIDFILE" sshd; then started=1; break; fi
        fi
        log "sshd did not start on port $PORT (attempt $attempt), trying another port"
        show_log "$STATE_DIR/sshd.log"
    done
    [[ -n $started ]] || die "sshd failed to start; see $STATE_DIR/sshd.log"
    echo "$PORT" > "$PORT_FILE"
    mark_started sshd "$(pid_alive "$SSHD_PIDFILE" sshd)" "$SSHD_PIDFILE"
fi

# known_hosts via ssh-keyscan; it must match our host key.
HOST_PUB=$(awk '{ print $1 " " $2 }' "$HOST_KEY.pub")
end=$((SECONDS + TIMEOUT)); scanned=
while ((SECONDS < end)); do
    scanned=$(ssh-keyscan -T 5 -t ed25519 -p "$PORT" "$SSH_HOST" 2>/dev/null || true)
    [[ -n $scanned ]] && break
    sleep 0.2
done
[[ -n $scanned ]] || die "ssh-keyscan got no host key from $SSH_HOST:$PORT"
[[ $(awk '{ print $2 " " $3 }' <<<"$scanned") == "$HOST_PUB" ]] \
    || die "ssh-keyscan on $SSH_HOST:$PORT returned a key that is not ours ($HOST_KEY): is something else listening there?"
printf '%s\n' "$scanned" > "$KNOWN_HOSTS"
chmod 644 "$KNOWN_HOSTS"

SSH_CMD=(ssh -F /dev/null -i "$CLIENT_KEY" -o IdentitiesOnly=yes -o BatchMode=yes
         -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
         -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -p "$PORT" "$SSH_USER@$SSH_HOST")
ssh_ok() {   # sbatch works as the user over ssh, and the home (remote work dir) is writable
    "${SSH_CMD[@]}" 'sbatch --version && touch "$HOME/.nodeflow-ci-write-test" && rm -f "$HOME/.nodeflow-ci-write-test"' \
        > "$STATE_DIR/ssh-check.out" 2>&1
}
if ! wait_for "ssh sbatch --version" ssh_ok; then
    show_log "$STATE_DIR/ssh-check.out"
    show_log "$STATE_DIR/sshd.log"
    die "ssh -p $PORT $SSH_USER@$SSH_HOST sbatch --version does not work"
fi
SLURM_VERSION=$(awk '/^slurm/ { print $2; exit }' "$STATE_DIR/ssh-check.out")

# ---------------------------------------------------------------- env files
started_names=()
for spec in munged:"$MUNGE_PIDFILE":munged slurmctld:"$CTLD_PIDFILE":slurmctld \
            slurmd:"$SLURMD_PIDFILE":slurmd sshd:"$SSHD_PIDFILE":sshd; do
    IFS=: read -r name pf comm <<<"$spec"
    if owned "$name" "$pf" "$comm"; then started_names+=("$name"); else rm -f "$STARTED/$name"; fi
done
pidfile_of() { case $1 in munged) echo "$MUNGE_PIDFILE" ;; slurmctld) echo "$CTLD_PIDFILE" ;;
               slurmd) echo "$SLURMD_PIDFILE" ;; sshd) echo "$SSHD_PIDFILE" ;; esac; }

{
    echo "# Written by nodeflow packaging/ci/slurm-up.sh; source it."
    printf 'export NODEFLOW_SLURM_SSH_HOST=%q\n' "$SSH_HOST"
    printf 'export NODEFLOW_SLURM_SSH_PORT=%q\n' "$PORT"
    printf 'export NODEFLOW_SLURM_SSH_USER=%q\n' "$SSH_USER"
    printf 'export NODEFLOW_SLURM_SSH_KEY=%q\n' "$CLIENT_KEY"
    printf 'export NODEFLOW_SLURM_KNOWN_HOSTS=%q\n' "$KNOWN_HOSTS"
    printf 'export NODEFLOW_SLURM_PARTITION=%q\n' "$PARTITION"
    printf 'export NODEFLOW_SLURM_CLUSTER=%q\n' "$CLUSTER"
    printf 'export NODEFLOW_SLURM_CONF=%q\n' "$SLURM_CONF"
    printf 'export NODEFLOW_SLURM_NODE=%q\n' "$NODE"
    printf 'export NODEFLOW_SLURM_CPUS=%q\n' "$SLURM_CPUS"
    printf 'export NODEFLOW_SLURM_VERSION=%q\n' "$SLURM_VERSION"
    printf 'export NODEFLOW_SLURM_REMOTE_WORKDIR=%q\n' "$USER_HOME"
    printf 'export NODEFLOW_SLURM_STATE_DIR=%q\n' "$STATE_DIR"
    for n in "${started_names[@]}"; do
        printf 'export NODEFLOW_SLURM_PIDFILE_%s=%q\n' "${n^^}" "$(pidfile_of "$n")"
    done
} > "$STATE_DIR/env.sh.tmp"
mv -f "$STATE_DIR/env.sh.tmp" "$STATE_DIR/env.sh"

{
    printf '{\n'
    printf '  "ssh_host": %s,\n' "$(json_str "$SSH_HOST")"
    printf '  "ssh_port": %d,\n' "$PORT"
    printf '  "ssh_user": %s,\n' "$(json_str "$SSH_USER")"
    printf '  "ssh_key": %s,\n' "$(json_str "$CLIENT_KEY")"
    printf '  "known_hosts": %s,\n' "$(json_str "$KNOWN_HOSTS")"
    printf '  "partition": %s,\n' "$(json_str "$PARTITION")"
    printf '  "cluster": %s,\n' "$(json_str "$CLUSTER")"
    printf '  "slurm_conf": %s,\n' "$(json_str "$SLURM_CONF")"
    printf '  "node": %s,\n' "$(json_str "$NODE")"
    printf '  "cpus": %d,\n' "$SLURM_CPUS"
    printf '  "slurm_version": %s,\n' "$(json_str "$SLURM_VERSION")"
    printf '  "remote_workdir": %s,\n' "$(json_str "$USER_HOME")"
    printf '  "state_dir": %s,\n' "$(json_str "$STATE_DIR")"
    printf '  "pid_files": {'
    sep=
    for n in "${started_names[@]}"; do
        printf '%s\n    %s: %s' "$sep" "$(json_str "$n")" "$(json_str "$(pidfile_of "$n")")"
        sep=,
    done
    [[ -n $sep ]] && printf '\n  '
    printf '}\n}\n'
} > "$STATE_DIR/env.json.tmp"
mv -f "$STATE_DIR/env.json.tmp" "$STATE_DIR/env.json"

reused=()
for n in munged slurmctld slurmd sshd; do
    [[ " ${started_names[*]} " == *" $n "* ]] || reused+=("$n")
done
((${#reused[@]} == 0)) || log "not started by this STATE_DIR (slurm-down.sh leaves them running): ${reused[*]}"
log "ready in $(elapsed) s: ssh -i $CLIENT_KEY -o UserKnownHostsFile=$KNOWN_HOSTS -p $PORT $SSH_USER@$SSH_HOST (partition $PARTITION, Slurm $SLURM_VERSION)"
log "wrote $STATE_DIR/env.sh and $STATE_DIR/env.json"

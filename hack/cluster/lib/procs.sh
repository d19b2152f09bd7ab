# shellcheck shell=bash
# Processes of the cluster, sourced by cluster.sh: every one is started
# here, in its own process group, and stopped by its recorded PID only while
# that PID is still the same process.

# start name cmd...: runs it in its own process group, PID in $RUN/pids.
start() {
	local name=$1; shift
	mkdir -p "$RUN/pids" "$RUN/logs"
	setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	# With its start time: `down` signals the PID only while it is still
	# this process (the start time survives exec, not PID reuse).
	echo "$! $(starttime $!)" >"$RUN/pids/$name"
}

# starttime pid: field 22 of /proc/PID/stat, counted after the command
# name (which may hold spaces).
starttime() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) && awk '{print $20}' <<<"${st##*) }"; }

wait_for() { # what seconds cmd...
	local what=$1 secs=$2 i; shift 2
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "$what not ready after ${secs}s (logs in $RUN/logs)"
}

# alive: the process exists and is not a zombie waiting for init to reap it.
alive() { [[ -e /proc/$1 && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# ours name: the process recorded for name runs and is still that process
# (not a PID reused since), and its PID is in $pid.
ours() {
	local started
	read -r pid started <"$RUN/pids/$1" 2>/dev/null || return 1
	alive "$pid" && [[ $(starttime "$pid") == "$started" ]]
}

stop() { # name: SIGTERM its process group, SIGKILL after 10 s
	local f=$RUN/pids/$1 pid i
	[[ -f $f ]] || return 0
	if ours "$1"; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -KILL -- "-$pid" 2>/dev/null
	fi
	rm -f "$f"
}

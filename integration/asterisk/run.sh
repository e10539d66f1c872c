#!/usr/bin/env bash
# run.sh start|stop|restart|status|cli "<command>"|sipp <args...>|env
#
# Runs the Asterisk of the root built by setup.sh, chroot'ed, loopback only.
#   start    install the config from etc/ (so edits take effect), start Asterisk in the
#            background and wait until ARI answers GET /asterisk/info with 200.
#            A no-op when this root's Asterisk is already running and answering.
#   stop     'core stop now' over the CLI socket; falls back to killing the recorded PID.
#   restart  stop, then start.
#   status   exit 0 when running and ARI answers, 1 when running but ARI does not, 3
#            when stopped.
#   cli CMD  asterisk -rx CMD inside the root.
#   sipp ... the host's sipp if it has one (PBX_SIPP=root forces the root's). With the
#            root's sipp, -sf/-inf files (and the pcaps a scenario names by a relative
#            path) are copied into the root and cwd is its /tmp.
#   env      print shell assignments (ARI URLs, credentials, ports, paths) for tests.
# Settings: the PBX_* environment variables in lib.sh (see README.md).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(realpath -m -- "$PBX_ASTERISK_ROOT")
RUN=$PBX_ASTERISK_RUN
PIDFILE=$RUN/asterisk.pid
LOGFILE=$RUN/asterisk.log
START_TIMEOUT=${PBX_START_TIMEOUT:-30}
ARI_URL="http://127.0.0.1:$PBX_ARI_PORT/ari"

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

# any_pid prints the PID from the PID file if that process is an Asterisk started from
# ROOT, including one whose root has since been replaced or deleted (see stale), or
# fails. The PID file alone is not trusted: a PID can be reused.
any_pid() {
	local pid r
	[ -r "$PIDFILE" ] || return 1
	pid=$(<"$PIDFILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = asterisk ] || return 1
	# /proc/PID/root is readable by root only; others trust the PID file and the name.
	if r=$(readlink "/proc/$pid/root" 2>/dev/null); then
		case $r in "$ROOT" | "$ROOT (deleted)" | "$ROOT".old.*) ;; *) return 1 ;; esac
	fi
	echo "$pid"
}

# stale PID: the process runs on a root that setup.sh replaced or someone deleted; it
# cannot see the current root's files (config, recordings).
stale() {
	local r
	r=$(readlink "/proc/$1/root" 2>/dev/null) || return 1
	[ "$r" != "$ROOT" ]
}

# our_pid: like any_pid, but only for an Asterisk running on the current root.
our_pid() {
	local pid
	pid=$(any_pid) || return 1
	! stale "$pid" || return 1
	echo "$pid"
}

ari_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		-u "$PBX_ARI_USER:$PBX_ARI_PASSWORD" "$ARI_URL/asterisk/info" 2>/dev/null || true
}

port_busy() { # port_busy tcp|udp PORT
	[ -n "$(ss -Hln"${1:0:1}" "sport = :$2" 2>/dev/null)" ]
}

# lock_run: serialise start/stop/restart (fd 7), and hold setup.sh's lock shared (fd 6)
# so that a start never races a rebuild of the root. Asterisk inherits neither.
lock_run() {
	mkdir -p -- "$RUN" "$(dirname -- "$ROOT")"
	exec 7>"$RUN/run.lock"
	flock -w 60 7 || die "timed out waiting for $RUN/run.lock"
	exec 6>"$ROOT.lock"
	if ! flock -s -n 6; then
		log "waiting for setup.sh to finish with $ROOT"
		flock -s -w "${PBX_LOCK_TIMEOUT:-900}" 6 || die "timed out waiting for $ROOT.lock"
	fi
}

cmd_start() {
	require_root
	[ -f "$ROOT/.pbxbridge-stamp" ] || die "no finished root at $ROOT; run setup.sh first"
	local pid t code
	if pid=$(any_pid) && stale "$pid"; then
		die "Asterisk pid $pid runs on a replaced or deleted root ($(readlink "/proc/$pid/root")); use 'run.sh restart'"
	fi
	if pid=$(our_pid); then
		if [ "$(ari_code)" = 200 ]; then
			log "already running (pid $pid, ARI $ARI_URL); config changes need 'run.sh restart'"
			return 0
		fi
		die "Asterisk runs (pid $pid) but ARI does not answer at $ARI_URL; try 'run.sh restart'"
	fi
	port_busy tcp "$PBX_ARI_PORT" && die "TCP port $PBX_ARI_PORT (PBX_ARI_PORT) is already in use"
	port_busy udp "$PBX_SIP_PORT" && die "UDP port $PBX_SIP_PORT (PBX_SIP_PORT) is already in use"

	install_config "$ROOT"
	mkdir -p -- "$RUN"
	[ ! -f "$LOGFILE" ] || mv -f -- "$LOGFILE" "$LOGFILE.1"

	t=$(now_ms)
	# setsid: its own session, so the caller's terminal signals never reach it. Run from
	# a script (no job control) the background child is not a group leader, so setsid
	# execs in place and $! is Asterisk's own PID (checked by our_pid).
	# -U/-G asterisk, never root: as root Asterisk drops capabilities and cannot read
	# its own 0640 config (shared/spec/asterisk.md §6). -n: no colours in the log.
	# Every inherited descriptor above 2 is closed first: a caller's lock would otherwise live
	# as long as Asterisk (`flock LOCK run.sh restart` left fd 3 on the lock file open in the
	# daemon, and the lock held for good once flock exited).
	(
		for fd in /proc/"$BASHPID"/fd/*; do
			n=${fd##*/}
			if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null || true; fi
		done
		exec setsid chroot "$ROOT" "${CHROOT_ENV[@]}" /usr/sbin/asterisk -f -n -U asterisk -G asterisk -vvv \
			</dev/null >>"$LOGFILE" 2>&1
	) &
	pid=$!
	echo "$pid" >"$PIDFILE"

	while :; do
		code=$(ari_code)
		[ "$code" = 200 ] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$LOGFILE" >&2 || true
			rm -f -- "$PIDFILE"
			die "Asterisk exited during start-up (log: $LOGFILE)"
		fi
		if [ $(( $(now_ms) - t )) -ge $((START_TIMEOUT * 1000)) ]; then
			tail -n 30 "$LOGFILE" >&2 || true
			cmd_stop || true
			die "ARI did not answer 200 within ${START_TIMEOUT}s (last HTTP code: ${code:-none}; log: $LOGFILE)"
		fi
		sleep 0.1
	done
	if ! our_pid >/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		rm -f -- "$PIDFILE"
		die "ARI answered, but not from pid $pid: is another server on port $PBX_ARI_PORT?"
	fi
	log "started pid $pid; ARI $ARI_URL answered after $(elapsed "$t") (log: $LOGFILE)"
}

# wait_gone PID TENTHS: wait up to TENTHS tenths of a second for PID to exit.
wait_gone() {
	local n=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$n" -lt "$2" ] || return 1
		sleep 0.1
		n=$((n + 1))
	done
}

cmd_stop() {
	require_root
	local pid
	if ! pid=$(any_pid); then
		rm -f -- "$PIDFILE"
		log "not running"
		return 0
	fi
	local t
	t=$(now_ms)
	# Through the process's own root, which is not ROOT if that was replaced.
	timeout 10 chroot "/proc/$pid/root" "${CHROOT_ENV[@]}" asterisk -rx 'core stop now' >/dev/null 2>&1 || true
	if ! wait_gone "$pid" 100; then
		log "'core stop now' did not end pid $pid; sending SIGTERM"
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_gone "$pid" 50; then
			log "pid $pid still alive; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			wait_gone "$pid" 50 || die "could not stop pid $pid"
		fi
	fi
	rm -f -- "$PIDFILE"
	log "stopped pid $pid ($(elapsed "$t"))"
}

cmd_status() {
	local pid code
	if ! pid=$(any_pid); then
		echo "stopped"
		return 3
	fi
	if stale "$pid"; then
		echo "running: pid $pid, but on a replaced or deleted root; use 'run.sh restart'"
		return 1
	fi
	code=$(ari_code)
	if [ "$code" = 200 ]; then
		echo "running: pid $pid, ARI $ARI_URL (200), log $LOGFILE"
		return 0
	fi
	echo "running: pid $pid, but ARI $ARI_URL answers ${code:-nothing}"
	return 1
}

cmd_cli() {
	require_root
	[ $# -ge 1 ] || die "usage: run.sh cli \"<command>\""
	our_pid >/dev/null || die "Asterisk is not running"
	chroot "$ROOT" "${CHROOT_ENV[@]}" asterisk -rx "$*"
}

cmd_sipp() {
	if [ "${PBX_SIPP:-}" != root ] && command -v sipp >/dev/null; then
		exec sipp "$@"
	fi
	require_root
	[ -x "$ROOT/usr/bin/sipp" ] || die "no sipp on the host or in $ROOT"
	# The root's sipp sees only the root: copy input files in and rewrite their paths.
	local dir="/tmp/pbxbridge-sipp" args=() a want= pcap
	mkdir -p -- "$ROOT$dir"
	for a in "$@"; do
		if [ -n "$want" ]; then
			cp -f -- "$a" "$ROOT$dir/"
			if [ "$want" = sf ]; then
				# Audio a scenario names by a relative path (uas_callee.xml's pcap) is read
				# from the working directory, the copy's directory: copy it too.
				for pcap in $(grep -o 'play_pcap_audio="[^"/][^"]*"' -- "$a" | cut -d'"' -f2); do
					cp -f -- "$(dirname -- "$a")/$pcap" "$ROOT$dir/"
				done
			fi
			a="$dir/${a##*/}"
			want=
		else
			case $a in -sf) want=sf ;; -inf | -infindex) want=1 ;; esac
		fi
		args+=("$a")
	done
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
	exec chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM="${TERM:-dumb}" \
		/bin/sh -c 'cd "$0" && exec sipp "$@"' "$dir" "${args[@]}"
}

cmd_env() {
	local v
	for v in PBX_ASTERISK_ROOT PBX_ASTERISK_RUN PBX_ARI_USER PBX_ARI_PASSWORD PBX_ARI_PORT \
		PBX_SIP_PORT PBX_SIPP_PORT PBX_CALLEE_PORT PBX_RTP_START PBX_RTP_END; do
		printf '%s=%q\n' "$v" "${!v}"
	done
	printf 'PBX_ARI_URL=%q\n' "$ARI_URL"
	printf 'PBX_ARI_WS_URL=%q\n' "ws://127.0.0.1:$PBX_ARI_PORT/ari/events"
	printf 'PBX_ASTERISK_RECORDINGS=%q\n' "$ROOT/var/spool/asterisk/recording"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) lock_run && cmd_start ;;
stop) lock_run && cmd_stop ;;
restart) lock_run && cmd_stop && cmd_start ;;
status) cmd_status ;;
cli) cmd_cli "$@" ;;
sipp) cmd_sipp "$@" ;;
env) cmd_env ;;
-h | --help | help) usage 0 ;;
*) usage ;;
esac

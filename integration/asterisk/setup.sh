#!/usr/bin/env bash
# setup.sh [ROOT]: build (or confirm) a Debian sid root filesystem holding Asterisk and
# SIPp, for integration tests. See README.md.
#
# ROOT defaults to $PBX_ASTERISK_ROOT, itself ${PBX_CACHE:-/var/cache/pbxbridge}/asterisk-root.
# Idempotent: a stamp inside the root holds a hash of this script and the package list;
# when it matches, the run is a no-op. A flock on ROOT.lock serialises concurrent runs.
# The root is built in ROOT.tmp.* and renamed into place only when complete, so an
# interrupted run never leaves a half-built root that looks finished.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

SUITE=sid
MIRROR=${PBX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(asterisk asterisk-modules asterisk-core-sounds-en-wav sip-tester)
STAMP=.pbxbridge-stamp          # inside the root
VERSIONS=.pbxbridge-versions    # inside the root: dpkg versions of the packages above
LOCK_TIMEOUT=${PBX_LOCK_TIMEOUT:-900}

case ${1:-} in -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ $# -le 1 ] || die "usage: setup.sh [ROOT]"
ROOT=$(realpath -m -- "${1:-$PBX_ASTERISK_ROOT}")
[ "$ROOT" != / ] || die "refusing to use / as the root"
require_root

t_all=$(now_ms)
SELF=$(realpath -- "${BASH_SOURCE[0]}")
want=$( { cat -- "$SELF"; printf '%s\n' "$SUITE" "${PACKAGES[@]}"; } | sha256sum)
want=${want%% *}

mkdir -p -- "$(dirname -- "$ROOT")"
exec 9>"$ROOT.lock"
if ! flock -n 9; then
	log "waiting for another setup.sh holding $ROOT.lock (up to ${LOCK_TIMEOUT}s)"
	flock -w "$LOCK_TIMEOUT" 9 || die "timed out waiting for $ROOT.lock"
fi

apt_updated=
host_apt_update() {
	[ -z "$apt_updated" ] || return 0
	command -v apt-get >/dev/null || die "the host has no apt-get; install debootstrap and sipp by hand"
	log "host: apt-get update"
	apt-get update -qq
	apt_updated=1
}
host_apt_install() {
	local out
	out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "host: apt-get install $* failed"
	}
}

# SIPp on the host, when the host's Debian has it (bookworm ships sip-tester 3.6.1). The
# root always has sid's, usable with run.sh sipp. ROOT.no-host-sipp remembers "not
# available" so that later runs stay fast.
ensure_host_sipp() {
	command -v sipp >/dev/null && return 0
	[ ! -e "$ROOT.no-host-sipp" ] || return 0
	host_apt_update
	local cand
	cand=$(apt-cache policy sip-tester 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		log "host: no sip-tester package available; run.sh sipp will use the root's"
		: >"$ROOT.no-host-sipp"
		return 0
	fi
	log "host: installing sip-tester $cand"
	host_apt_install sip-tester
}

if [ -f "$ROOT/$STAMP" ] && [ "$(<"$ROOT/$STAMP")" = "$want" ]; then
	ensure_host_sipp
	log "up to date: $ROOT ($(paste -sd, "$ROOT/$VERSIONS" | sed 's/,/, /g')) in $(elapsed "$t_all")"
	exit 0
fi

# Replacing the root underneath a running Asterisk would pull its files away. Checked
# before building and again before the swap; run.sh start holds our lock shared, so
# nothing can start in between. An outdated but finished root that is in use is kept,
# with a warning: failing would break "setup.sh && run.sh start" while tests run.
user_of_root() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$ROOT" | "$ROOT"/*) echo "${p#/proc/}"; return 0 ;; esac
	done
	return 1
}
if pid=$(user_of_root); then
	[ -f "$ROOT/$STAMP" ] || die "process $pid runs inside unfinished root $ROOT; stop it first"
	ensure_host_sipp
	log "warning: $ROOT is outdated, but process $pid runs inside it: keeping it."
	log "warning: stop it (run.sh stop) and run setup.sh again to rebuild."
	exit 0
fi

# unmount_under DIR: lazily unmount anything an interrupted debootstrap left mounted in DIR.
unmount_under() {
	local m
	findmnt -rn -o TARGET | awk -v d="$1/" 'index($0, d) == 1' | sort -r | while read -r m; do
		umount -l -- "$m" || true
	done
}

# Leftovers of interrupted runs (we hold the lock, so nobody else is using them).
for d in "$ROOT".tmp.* "$ROOT".old.*; do
	[ -d "$d" ] || continue
	log "removing leftover $d"
	unmount_under "$d"
	rm -rf --one-file-system -- "$d"
done
rm -f -- "$ROOT".tmp.*.debootstrap.log

TMP=$(mktemp -d -- "$ROOT.tmp.XXXXXX")
child=
# kill_tree PID: stop PID (so it spawns nothing new), terminate its descendants, then it.
kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null || true
	kill -CONT "$1" 2>/dev/null || true
}
cleanup() {
	if [ -n "$child" ]; then
		kill_tree "$child"
		wait "$child" 2>/dev/null || true
	fi
	unmount_under "$TMP"
	rm -rf --one-file-system -- "$TMP"
	rm -f -- "$TMP.debootstrap.log"
}
trap cleanup EXIT
chmod 0755 "$TMP" # it becomes "/": the asterisk user must be able to traverse it

exec 8>&2 # the original stderr, for traps that fire inside a redirected step
trap 'log "interrupted; removing $TMP" 2>&8; exit 130' INT TERM

# step CMD...: run CMD in the background and wait for it. Bash runs traps only between
# commands but interrupts "wait", so INT/TERM stop a long debootstrap or apt-get at
# once, and cleanup ends the whole process tree (dpkg, wget, ...). Children inherit the
# lock: if this script is SIGKILLed, the next run waits for its orphans, then cleans up.
step() {
	"$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=
	return "$rc"
}

# Host tools: debootstrap (and the archive keyring, so it checks signatures); curl for
# run.sh's ARI health check.
need=()
command -v debootstrap >/dev/null || need+=(debootstrap debian-archive-keyring)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	host_apt_update
	log "host: installing ${need[*]}"
	host_apt_install "${need[@]}"
fi
ensure_host_sipp

log "building $ROOT (in $TMP)"
t=$(now_ms)
step debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$TMP" "$MIRROR" >"$TMP.debootstrap.log" 2>&1 || {
	tail -n 30 "$TMP.debootstrap.log" >&2
	die "debootstrap failed"
}
rm -f -- "$TMP.debootstrap.log"
log "debootstrap: $(elapsed "$t")"

# The sid Release file can look expired next to the host clock.
echo 'Acquire::Check-Valid-Until "false";' >"$TMP/etc/apt/apt.conf.d/99novalid"
# Package scripts must never start daemons.
printf '#!/bin/sh\nexit 101\n' >"$TMP/usr/sbin/policy-rc.d"
chmod 0755 "$TMP/usr/sbin/policy-rc.d"

t=$(now_ms)
step chroot "$TMP" "${CHROOT_ENV[@]}" apt-get update -qq
log "apt-get update: $(elapsed "$t")"

t=$(now_ms)
step chroot "$TMP" "${CHROOT_ENV[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
	>"$TMP/var/log/pbxbridge-install.log" 2>&1 || {
	tail -n 30 "$TMP/var/log/pbxbridge-install.log" >&2
	die "apt-get install failed"
}
in_root "$TMP" apt-get clean
log "apt-get install: $(elapsed "$t")"

t=$(now_ms)
# shellcheck disable=SC2016 # a dpkg-query format, not shell
in_root "$TMP" dpkg-query -W -f '${Package} ${Version}\n' "${PACKAGES[@]}" >"$TMP/$VERSIONS"
install_config "$TMP"
log "config: $(elapsed "$t")"

printf '%s\n' "$want" >"$TMP/$STAMP"

# Swap into place. Between the two renames ROOT does not exist at all, which the next
# run treats as "not built": never a half root with a valid stamp.
if pid=$(user_of_root); then
	die "process $pid started inside $ROOT during the build; stop it and run setup.sh again"
fi
old=
if [ -e "$ROOT" ]; then
	old="$ROOT.old.$$"
	mv -T -- "$ROOT" "$old"
fi
mv -T -- "$TMP" "$ROOT"
trap - EXIT INT TERM
[ -z "$old" ] || rm -rf --one-file-system -- "$old"

log "built $ROOT: $(paste -sd, "$ROOT/$VERSIONS" | sed 's/,/, /g')"
log "total: $(elapsed "$t_all")"

# shellcheck shell=bash
# Shared defaults and helpers for setup.sh and run.sh. Sourced, never executed.
#
# Every knob is an environment variable with a default; see README.md.

PBX_CACHE=${PBX_CACHE:-/var/cache/pbxbridge}
PBX_ASTERISK_ROOT=${PBX_ASTERISK_ROOT:-$PBX_CACHE/asterisk-root}
PBX_ASTERISK_RUN=${PBX_ASTERISK_RUN:-$PBX_CACHE/asterisk-run}

# Network: everything binds to loopback only.
PBX_ARI_PORT=${PBX_ARI_PORT:-8088}
PBX_ARI_USER=${PBX_ARI_USER:-pbxbridge}
PBX_ARI_PASSWORD=${PBX_ARI_PASSWORD:-pbxbridge-test}
PBX_SIP_PORT=${PBX_SIP_PORT:-5060}
PBX_SIPP_PORT=${PBX_SIPP_PORT:-5070}
# Where the called party of Dial tests (SIPp uas_callee.xml) listens: the PJSIP endpoint
# "trunk" sends its calls there.
PBX_CALLEE_PORT=${PBX_CALLEE_PORT:-5080}
PBX_RTP_START=${PBX_RTP_START:-20000}
PBX_RTP_END=${PBX_RTP_END:-20999}

PBX_ASTERISK_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# Clean environment for commands run inside the root: the host's PATH, locale
# and proxies have no meaning there.
# Proxy settings are kept so apt inside the root works where the host needs one.
CHROOT_ENV=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8
	DEBIAN_FRONTEND=noninteractive TERM=dumb)
for _v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[ -z "${!_v:-}" ] || CHROOT_ENV+=("$_v=${!_v}")
done
unset _v

log() { printf '[%s] %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# now_ms prints a monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# elapsed <start_ms>: "1.234s"
elapsed() { local d=$(( $(now_ms) - $1 )); printf '%d.%03ds' $((d / 1000)) $((d % 1000)); }

require_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (chroot, debootstrap)"; }

in_root() { chroot "$1" "${CHROOT_ENV[@]}" "${@:2}"; }

# render <template>: the template with @NAME@ placeholders replaced. Values are
# substituted literally (quoted replacement: no '&' or '\' surprises).
render() {
	local t
	t=$(<"$1")
	t=${t//@ARI_PORT@/"$PBX_ARI_PORT"}
	t=${t//@ARI_USER@/"$PBX_ARI_USER"}
	t=${t//@SIP_PORT@/"$PBX_SIP_PORT"}
	t=${t//@SIPP_PORT@/"$PBX_SIPP_PORT"}
	t=${t//@CALLEE_PORT@/"$PBX_CALLEE_PORT"}
	t=${t//@RTP_START@/"$PBX_RTP_START"}
	t=${t//@RTP_END@/"$PBX_RTP_END"}
	local rest=${t//@ARI_PASSWORD@/}
	if [[ $rest =~ @[A-Z_]+@ ]]; then die "$1: unknown placeholder ${BASH_REMATCH[0]}"; fi
	t=${t//@ARI_PASSWORD@/"$PBX_ARI_PASSWORD"}
	printf '%s\n' "$t"
}

validate_settings() {
	local v
	for v in PBX_ARI_PORT PBX_SIP_PORT PBX_SIPP_PORT PBX_RTP_START PBX_RTP_END; do
		if ! [[ ${!v} =~ ^[0-9]{1,5}$ ]] || [ "${!v}" -lt 1 ] || [ "${!v}" -gt 65535 ]; then
			die "$v='${!v}' is not a port number (1-65535)"
		fi
	done
	[ "$PBX_RTP_START" -lt "$PBX_RTP_END" ] || die "PBX_RTP_START ($PBX_RTP_START) must be below PBX_RTP_END ($PBX_RTP_END)"
	[[ $PBX_ARI_USER =~ ^[A-Za-z0-9_.-]+$ ]] || die "PBX_ARI_USER='$PBX_ARI_USER' must match [A-Za-z0-9_.-]+"
	[ -n "$PBX_ARI_PASSWORD" ] || die "PBX_ARI_PASSWORD must not be empty"
	[[ $PBX_ARI_PASSWORD != *[$'\n\r;']* ]] || die "PBX_ARI_PASSWORD must not contain ';' or line breaks (Asterisk config syntax)"
}

# install_config <root>: render etc/*.conf into <root>/etc/asterisk (asterisk:asterisk 0640)
# and create the runtime directories Asterisk needs. Files we do not own keep
# Debian's defaults.
install_config() {
	local root=$1 f name tmp ids
	validate_settings
	[ -x "$root/usr/sbin/asterisk" ] || die "$root has no Asterisk; run setup.sh first"
	# uid:gid of the root's asterisk user, so chown works from the host.
	ids=$(awk -F: '$1 == "asterisk" { print $3 ":" $4 }' "$root/etc/passwd")
	[ -n "$ids" ] || die "$root/etc/passwd has no asterisk user"
	chmod 0755 "$root" # "/" for Asterisk: its user must be able to traverse it
	for f in "$PBX_ASTERISK_DIR"/etc/*.conf; do
		name=${f##*/}
		tmp="$root/etc/asterisk/.$name.new"
		render "$f" >"$tmp"
		chown "$ids" "$tmp"
		chmod 0640 "$tmp"
		mv -f "$tmp" "$root/etc/asterisk/$name"
	done
	install -d -o "${ids%:*}" -g "${ids#*:}" -m 0755 "$root/run/asterisk"
	install -d -o "${ids%:*}" -g "${ids#*:}" -m 0750 "$root/var/spool/asterisk/recording"
}

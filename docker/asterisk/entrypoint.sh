#!/bin/bash
# asterisk-entrypoint: render pbxbridge's Asterisk config from the environment (see the
# Dockerfile) with integration/asterisk/lib.sh, then run Asterisk in the foreground as the
# asterisk user. Extra arguments go to asterisk.
set -euo pipefail
SRC=/opt/pbxbridge-asterisk

[ -n "${PBX_ARI_PASSWORD:-}" ] || { echo "asterisk-entrypoint: PBX_ARI_PASSWORD must be set" >&2; exit 1; }

# default_match: the IPv4 networks this container is attached to (from the kernel's routing
# table: the non-gateway routes), e.g. 172.18.0.0/16 on a compose network.
default_match() {
	local iface dest gw flags refcnt use metric mask rest out=
	while read -r iface dest gw flags refcnt use metric mask rest; do
		[ "$iface" != Iface ] && [ "$gw" = 00000000 ] && [ "$dest" != 00000000 ] || continue
		out+="${out:+,}$(hex_ip "$dest")/$(mask_bits "$mask")"
	done </proc/net/route
	printf '%s\n' "${out:-127.0.0.1}"
}
hex_ip() { printf '%d.%d.%d.%d' "0x${1:6:2}" "0x${1:4:2}" "0x${1:2:2}" "0x${1:0:2}"; }
mask_bits() { local m=$((0x$1)) n=0; while [ "$m" -ne 0 ]; do n=$((n + (m & 1))); m=$((m >> 1)); done; echo "$n"; }

PBX_SIP_MATCH=${PBX_SIP_MATCH:-$(default_match)}
[[ $PBX_SIP_MATCH =~ ^[0-9a-fA-F.:/,]+$ ]] || { echo "asterisk-entrypoint: PBX_SIP_MATCH='$PBX_SIP_MATCH' must be IPs or CIDRs, comma-separated" >&2; exit 1; }

# lib.sh renders "$PBX_ASTERISK_DIR"/etc/*.conf and knows only its own placeholders: fill in
# ours first, in a copy.
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT
cp -r "$SRC/etc" "$work/etc"
sed -i "s|@SIP_MATCH@|$PBX_SIP_MATCH|g" "$work"/etc/*.conf

# shellcheck source=../../integration/asterisk/lib.sh
. "$SRC/lib.sh"
PBX_ASTERISK_DIR=$work
install_config /
rm -rf -- "$work"
trap - EXIT

echo "asterisk-entrypoint: $(paste -sd, /etc/asterisk/.pbxbridge-versions | sed 's/,/, /g'); ARI :$PBX_ARI_PORT, SIP udp :$PBX_SIP_PORT, RTP $PBX_RTP_START-$PBX_RTP_END, endpoint sipp from $PBX_SIP_MATCH" >&2
exec /usr/sbin/asterisk -f -n -U asterisk -G asterisk -vvv "$@"

#!/bin/bash
# asterisk-healthcheck: healthy when ARI answers GET /ari/asterisk/info with 200 for the
# configured credentials (what pbxbridge needs). Bash's /dev/tcp: the image has no curl.
port=${PBX_ARI_PORT:-8088}
auth=$(printf '%s:%s' "${PBX_ARI_USER:-pbxbridge}" "${PBX_ARI_PASSWORD:-}" | base64 -w0)
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /ari/asterisk/info HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n\r\n' "$auth" >&3
IFS= read -r -t 3 status <&3 || exit 1
case $status in
"HTTP/1."?" 200 "*) exit 0 ;;
esac
printf '%s\n' "${status%$'\r'}"
exit 1

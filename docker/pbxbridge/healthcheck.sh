#!/bin/bash
# pbxbridge-healthcheck: healthy when GET /readyz answers 200, i.e. the store and every PBX
# are reachable. Bash's /dev/tcp, so that the image needs no curl.
# PBXBRIDGE_HEALTH_PORT: the port pbxbridge listens on in the container (default 8080).
port=${PBXBRIDGE_HEALTH_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r -t 3 status <&3 || exit 1
case $status in
"HTTP/1."?" 200 "*) exit 0 ;;
esac
# Say what is not ready (the body names it) in `docker inspect`'s health log.
printf '%s\n' "${status%$'\r'}"
timeout 1 cat <&3 | tail -n 5
exit 1

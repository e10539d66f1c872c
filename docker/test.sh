#!/usr/bin/env bash
# test.sh: prove the Docker stack works. Builds the base images where no registry is
# reachable (base-images.sh), builds every image from its Dockerfile, brings
# docker/compose.yaml up under a project name of its own, waits for every service's health
# check, places a SIP call with SIPp from inside the compose network into the voicemail
# number (7 s of speech, then '#'), and checks with docker/stackcheck that the application
# got the action, recording and status callbacks and that RecordingUrl downloads a WAV of
# plausible duration, which is also in the "recordings" volume. Then `down -v`, whatever
# happened. Prints the time of each step. Needs root (debootstrap), Docker, compose and Go.
#
# Settings: PBX_DOCKER_KEEP=1 leaves the stack up for a look (remove it with the printed
# command); PBX_DOCKER_NO_BASE=1 skips base-images.sh (a registry serves the base images).
set -euo pipefail
cd "$(dirname -- "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
GO=${GO:-go}
NUMBER=15550109999

log() { printf '[docker-test] %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local d=$(( $(now_ms) - $1 )); printf '%d.%ds' $((d / 1000)) $((d % 1000 / 100)); }
timings=()
# timed NAME CMD...: run CMD, remember how long it took.
timed() {
	local name=$1 t rc=0
	shift
	t=$(now_ms)
	"$@" || rc=$?
	timings+=("$(printf '%-22s %s' "$name" "$(elapsed "$t")")")
	log "$name: $(elapsed "$t")$([ "$rc" -eq 0 ] || echo " (exit $rc)")"
	return "$rc"
}
print_timings() {
	log "timings:"
	local l
	for l in "${timings[@]}"; do log "  $l"; done
	log "  $(printf '%-22s %s' total "$(elapsed "$t_all")")"
}

# Docker and compose: Debian's docker.io and docker-compose when either is missing.
need=()
command -v docker >/dev/null || need+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ] || die "install ${need[*]} (Docker Engine and compose)"
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (start it: systemctl start docker)"
if docker compose version >/dev/null 2>&1; then
	COMPOSE=(docker compose)
else
	COMPOSE=(docker-compose)
fi

# free_port: a TCP port nothing listens on at 127.0.0.1 (published ports are TCP), below the
# kernel's ephemeral range, so that no test's outgoing connection or port-0 listener takes it
# between this check and compose's bind (21000 and up: 20000-20999 is the host Asterisk's RTP).
free_port() {
	local p i lo
	lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 22000 ] || lo=32768
	for i in $(seq 50); do
		p=$(( 21000 + RANDOM % (lo - 21000) ))
		if ! ss -Htln "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

t_all=$(now_ms)
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} # the engine here has no BuildKit (no buildx)

if [ -z "${PBX_DOCKER_NO_BASE:-}" ]; then
	timed "base images" docker/base-images.sh
fi

# build SERVICE TAG: the image from docker/SERVICE/Dockerfile, context the repository root.
build() {
	local out
	if ! out=$(docker build -f "docker/$1/Dockerfile" -t "$2" . 2>&1); then
		printf '%s\n' "$out" | tail -n 40 >&2
		return 1
	fi
}
timed "build asterisk" build asterisk pbxbridge/asterisk:22
timed "build redis" build redis pbxbridge/redis:7
timed "build pbxbridge" build pbxbridge pbxbridge/pbxbridge:dev
timed "build exampleapp" build exampleapp pbxbridge/exampleapp:dev
timed "build sipp" build sipp pbxbridge/sipp:dev
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' 'pbxbridge/*' >&2

# A project of our own (its network and volumes are named after it), on free ports.
export COMPOSE_PROJECT_NAME="pbxbridge-test-$$"
export PBX_ARI_PASSWORD="test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export ASTERISK_ARI_PORT PBXBRIDGE_HTTP_PORT EXAMPLEAPP_PORT
compose() { "${COMPOSE[@]}" -f docker/compose.yaml "$@"; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" -ne 0 ]; then
		log "logs of $COMPOSE_PROJECT_NAME (last 60 lines per service):"
		compose logs --no-color --tail 60 >&2 2>&1 || true
	fi
	if [ -n "${PBX_DOCKER_KEEP:-}" ]; then
		log "left running: COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME ${COMPOSE[*]} -f docker/compose.yaml down -v"
	else
		timed "down -v" compose down -v --remove-orphans >/dev/null 2>&1 || log "warning: compose down failed"
	fi
	print_timings
	[ "$rc" -eq 0 ] && log "OK: the stack came up and recorded a call" || log "FAILED (exit $rc)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_healthy SECONDS SERVICE...: until every service's container reports healthy ("up
# --wait" does this in compose v2; v1 has no such flag).
wait_healthy() {
	local deadline=$(( $(date +%s) + $1 )) s id st pending
	shift
	while :; do
		pending=()
		for s in "$@"; do
			id=$(compose ps -q "$s")
			st=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)
			[ "$st" = healthy ] || pending+=("$s=$st")
		done
		[ ${#pending[@]} -eq 0 ] && return 0
		if [ "$(date +%s)" -ge "$deadline" ]; then
			log "not healthy: ${pending[*]}"
			return 1
		fi
		sleep 1
	done
}

# up: compose up on free ports; again on others (up to 3 times) when one was taken meanwhile.
up() {
	local try out
	for try in 1 2 3; do
		ASTERISK_ARI_PORT=$(free_port)
		PBXBRIDGE_HTTP_PORT=$(free_port)
		EXAMPLEAPP_PORT=$(free_port)
		log "project $COMPOSE_PROJECT_NAME: ARI 127.0.0.1:$ASTERISK_ARI_PORT, pbxbridge 127.0.0.1:$PBXBRIDGE_HTTP_PORT, app 127.0.0.1:$EXAMPLEAPP_PORT"
		if out=$(compose up -d --no-build 2>&1); then
			return 0
		fi
		if ! grep -q 'address already in use' <<<"$out" || [ "$try" -eq 3 ]; then
			printf '%s\n' "$out" >&2
			return 1
		fi
		log "a port was taken meanwhile: again on other ports"
		compose down -v --remove-orphans >/dev/null 2>&1 || true
	done
}
timed "up -d" up
timed "healthy" wait_healthy 120 asterisk redis pbxbridge app

# The published ports answer on 127.0.0.1 only.
curl -fsS "http://127.0.0.1:$PBXBRIDGE_HTTP_PORT/readyz" >/dev/null || die "pbxbridge's /readyz is not 200 on the published port"
curl -fsS -u "pbxbridge:$PBX_ARI_PASSWORD" "http://127.0.0.1:$ASTERISK_ARI_PORT/ari/asterisk/info" >/dev/null ||
	die "ARI does not answer on the published port"

log "calling $NUMBER with SIPp in the compose network: 7 s of speech, then '#'"
sipp_call() {
	local out
	if ! out=$(compose --profile test run --rm --no-deps -T sipp \
		-sf uac_pcap_dtmf_remote_bye.xml -s "$NUMBER" -m 1 -timeout 60 -timeout_error -nostdin \
		asterisk:5060 2>&1); then
		printf '%s\n' "$out" | tail -n 30 >&2
		return 1
	fi
}
timed "SIPp call" sipp_call

checked=$(mktemp)
stackcheck() {
	"$GO" run ./docker/stackcheck -app "http://127.0.0.1:$EXAMPLEAPP_PORT" \
		-pbxbridge "http://127.0.0.1:$PBXBRIDGE_HTTP_PORT" -timeout 60s | tee "$checked"
	return "${PIPESTATUS[0]}"
}
timed "callbacks+recording" stackcheck
sid=$(sed -n 's/^sid=//p' "$checked")
rm -f -- "$checked"

# The recording is in the named volume, where pbxbridge keeps the local container.
compose exec -T pbxbridge ls -l "/var/lib/pbxbridge/containers/default/$sid.wav" >&2 ||
	die "recording $sid.wav is not in the recordings volume"
log "recording $sid.wav is in volume ${COMPOSE_PROJECT_NAME}_recordings"

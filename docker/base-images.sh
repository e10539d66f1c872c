#!/usr/bin/env bash
# base-images.sh: build, without a registry, the base images the Dockerfiles in docker/ start
# FROM, under the tags a registry would serve, so that the same Dockerfiles build here and
# anywhere else:
#
#   debian:bookworm-slim   debootstrap --variant=minbase bookworm, trimmed like Docker's slim
#   debian:sid-slim        the same for sid (Asterisk 22 is only packaged in sid)
#   golang:1.26-bookworm   debian:bookworm-slim + ca-certificates + this machine's Go 1.26
#
# Idempotent: an image whose org.pbxbridge.base label matches this script's recipe is kept;
# debootstrap trees are cached as tarballs in $PBX_DOCKER_CACHE (/var/cache/pbxbridge-docker),
# so a removed image comes back with a `docker import` (seconds), not a debootstrap (a minute).
# Installs debootstrap on the host if it is missing. Needs root and a Debian mirror.
#
# Where a registry is reachable, `docker pull debian:bookworm-slim debian:sid-slim
# golang:1.26-bookworm` does the same job and this script is not needed.
set -euo pipefail

CACHE=${PBX_DOCKER_CACHE:-/var/cache/pbxbridge-docker}
MIRROR=${PBX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
GO=${GO:-go}
SELF=$(realpath -- "${BASH_SOURCE[0]}")

log() { printf '[base-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local d=$(( $(now_ms) - $1 )); printf '%d.%03ds' $((d / 1000)) $((d % 1000)); }

case ${1:-} in -h | --help) sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
command -v docker >/dev/null || die "docker is not installed"

# RECIPE is the hash of how a Debian root is made (the two functions below, set after their
# definitions): a change to them rebuilds the tarballs; other edits to this script do not.
RECIPE=

mkdir -p -- "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "timed out waiting for another base-images.sh ($CACHE/.lock)"

# image_current TAG KEY: the image exists and was made by this recipe for KEY.
image_current() {
	local got
	got=$(docker image inspect -f '{{ index .Config.Labels "org.pbxbridge.base" }}' "$1" 2>/dev/null) || return 1
	[ "$got" = "$2" ]
}

ensure_debootstrap() {
	command -v debootstrap >/dev/null && [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] && return 0
	log "host: installing debootstrap"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap debian-archive-keyring >/dev/null
}

# slim ROOT: what Docker's official *-slim images do to a minbase root: no docs, man pages or
# translations (now and for packages installed later), apt caches cleaned after each run,
# no daemons started by package scripts.
slim() {
	local r=$1
	cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/locale/*
		path-include /usr/share/locale/locale.alias
		path-exclude /usr/share/lintian/*
		path-exclude /usr/share/linda/*
	EOF
	cat >"$r/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
	# A sid Release file can look expired next to this machine's clock (integration/asterisk
	# has the same line).
	echo 'Acquire::Check-Valid-Until "false";' >"$r/etc/apt/apt.conf.d/99novalid"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
	find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
	rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/groff/* "$r"/usr/share/lintian/*
	find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
	rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log "$r"/var/log/apt/*
	# The host's resolver and name are not the container's; Docker provides its own.
	: >"$r/etc/resolv.conf"
	echo localhost >"$r/etc/hostname"
}

# debian_tar SUITE: the cached slim root of SUITE as a tarball (built when missing or stale).
debian_tar() {
	local suite=$1 tar="$CACHE/debian-$1-slim.tar" t tmp
	if [ -f "$tar" ] && [ "$(cat "$tar.recipe" 2>/dev/null)" = "$RECIPE" ]; then
		printf '%s\n' "$tar"
		return 0
	fi
	ensure_debootstrap
	tmp=$(mktemp -d -- "$CACHE/$suite.tmp.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the path is fixed
	trap "rm -rf --one-file-system -- '$tmp' '$tar.tmp'" EXIT
	chmod 0755 "$tmp"
	log "debootstrap $suite (minbase) from $MIRROR"
	t=$(now_ms)
	if ! debootstrap --variant=minbase "$suite" "$tmp" "$MIRROR" >"$tmp.log" 2>&1; then
		tail -n 30 "$tmp.log" >&2
		rm -f -- "$tmp.log"
		die "debootstrap $suite failed"
	fi
	rm -f -- "$tmp.log"
	log "debootstrap $suite: $(elapsed "$t")"
	slim "$tmp"
	tar --numeric-owner --xattrs -C "$tmp" -cf "$tar.tmp" .
	mv -f -- "$tar.tmp" "$tar"
	printf '%s\n' "$RECIPE" >"$tar.recipe"
	rm -rf --one-file-system -- "$tmp"
	trap - EXIT
	printf '%s\n' "$tar"
}

# debian_image SUITE: debian:SUITE-slim, imported from the cached tarball.
debian_image() {
	local suite=$1 tag="debian:$1-slim" key="$RECIPE-debian-$1" t tar
	if image_current "$tag" "$key"; then
		log "$tag: up to date"
		return 0
	fi
	t=$(now_ms)
	tar=$(debian_tar "$suite")
	docker import \
		--change 'CMD ["bash"]' \
		--change "LABEL org.pbxbridge.base=$key" \
		--message "debootstrap --variant=minbase $suite, slimmed by docker/base-images.sh" \
		"$tar" "$tag" >/dev/null
	log "$tag: imported in $(elapsed "$t")"
}

# golang_image: golang:1.26-bookworm from debian:bookworm-slim, ca-certificates (for the
# module proxy) and the host's Go tree. The official image also has gcc and git; the
# Dockerfiles here need neither (CGO_ENABLED=0, -buildvcs=false).
# The host's CA bundle replaces Debian's in this image: where the way out goes through a
# TLS-inspecting proxy (as on this machine), its CA is in the host's bundle and the module
# proxy is otherwise unreachable from a build. It only reaches build stages: the runtime
# images install Debian's ca-certificates.
golang_image() {
	local goroot gover minor tag key t ctx
	goroot=$("$GO" env GOROOT) || die "no Go toolchain on the host (GO=$GO)"
	gover=$("$GO" env GOVERSION)   # go1.26.8
	minor=${gover#go}
	minor=${minor%.*}              # 1.26
	[ "$minor" = 1.26 ] || die "the host's Go is $gover; the Dockerfiles want golang:1.26"
	tag="golang:$minor-bookworm"
	local bundle=/etc/ssl/certs/ca-certificates.crt
	[ -f "$bundle" ] || die "the host has no $bundle (install ca-certificates)"
	key="$(sha256sum "$SELF" | cut -c1-16)-$gover-$(docker image inspect -f '{{.Id}}' debian:bookworm-slim | cut -c8-19)-$(sha256sum "$bundle" | cut -c1-12)"
	if image_current "$tag" "$key"; then
		log "$tag: up to date"
		return 0
	fi
	t=$(now_ms)
	ctx=$(mktemp -d)
	# shellcheck disable=SC2064
	trap "rm -rf -- '$ctx'" EXIT
	cat >"$ctx/Dockerfile" <<-EOF
		FROM debian:bookworm-slim
		RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \\
		    && rm -rf /var/lib/apt/lists/*
		COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
		COPY go /usr/local/go
		ENV GOLANG_VERSION=${gover#go} GOTOOLCHAIN=local GOPATH=/go \\
		    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		WORKDIR /go
		LABEL org.pbxbridge.base=$key
	EOF
	# The context is the Dockerfile plus GOROOT (tests and docs left out), streamed as a tar.
	cp -- "$bundle" "$ctx/ca-certificates.crt"
	tar -C "$ctx" -cf - Dockerfile ca-certificates.crt \
		-C "$(dirname -- "$goroot")" --exclude='go/test' --exclude='go/doc' --exclude='go/api' \
		--transform "s,^$(basename -- "$goroot"),go," "$(basename -- "$goroot")" |
		docker build --network host -q -t "$tag" - >/dev/null
	rm -rf -- "$ctx"
	trap - EXIT
	log "$tag: built in $(elapsed "$t") ($gover)"
}

RECIPE=$(declare -f slim debian_tar | sha256sum | cut -c1-16)
t_all=$(now_ms)
debian_image bookworm
debian_image sid
golang_image
log "done in $(elapsed "$t_all")"

#!/bin/sh
# deps.sh installs the Debian packages the tests need, when they are missing. It is idempotent:
# run it as often as you like (it does nothing when everything is installed). Needs root or sudo.
#
# Add a package: one per line in PACKAGES, with a comment saying which tests need it.
set -eu

PACKAGES="
chromium
espeak-ng
pocketsphinx
pocketsphinx-en-us
redis-server
"
# chromium: dashboard/ runs its browser tests in headless Chromium (chromedp; skipped without
#   it, a failure under PBXBRIDGE_INTEGRATION=1).
# espeak-ng: tts/ renders Say and Speak with it (tts tests skip without it).
# pocketsphinx, pocketsphinx-en-us: transcribe/ runs its offline provider with
#   pocketsphinx_continuous and the en-US model (tests skip without them; a failure under
#   PBXBRIDGE_INTEGRATION=1).
# redis-server: store/redis runs the conformance suite on standalone, Sentinel and Cluster
#   servers it starts itself with redis-server (--sentinel for the sentinel) and redis-cli
#   (skipped without them; a failure under PBXBRIDGE_INTEGRATION=1).

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all installed"
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
echo "deps: installing$missing"
$sudo apt-get update
# shellcheck disable=SC2086 # word splitting of $missing is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends $missing

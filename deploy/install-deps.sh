#!/usr/bin/env bash
# Installs the Debian 12 packages Madoguchi needs to build, run and test.
#
#   bash deploy/install-deps.sh                 build + run + test dependencies
#   bash deploy/install-deps.sh --runtime-only  only what an installed server needs to run
#
# Idempotent and fast when nothing is missing: the installed set is checked with dpkg-query
# first, and apt-get (update once, then install) runs only for the missing packages. Works as
# root (CI) or through sudo for a normal user.
set -euo pipefail

runtime_only=0
for arg in "$@"; do
	case "$arg" in
	--runtime-only) runtime_only=1 ;;
	-h | --help)
		sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install-deps: unknown option: $arg" >&2
		exit 2
		;;
	esac
done

# What the server needs at run time. libwebsockets loads its libuv backend as a plugin, and
# only libwebsockets-dev pulls the plugin package in, so it is named explicitly (NOTES.md).
runtime_pkgs=(
	libuv1 libwebsockets17 libwebsockets-evlib-uv libsrtp2-1 libopus0 libvpx7 libssl3
	libjansson4 libpq5 postgresql openssl ca-certificates iproute2
)

# Build and test: compilers and headers, PostgreSQL for the store and integration tests,
# Chromium and Firefox ESR as the real WebRTC clients (with a Japanese font, so that their
# screenshots of the pages are readable), Node for the protocol and browser tests.
full_pkgs=(
	meson ninja-build pkg-config gcc
	libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libsrtp2-dev libopus-dev libvpx-dev
	libssl-dev libjansson-dev libpq-dev
	postgresql chromium firefox-esr fonts-ipafont-gothic iproute2 openssl ca-certificates
	nftables
	# The Debian package (deploy/build-deb.sh: dpkg-shlibdeps) and its tests (tests/deploy:
	# curl for /healthz, PyYAML for the alert rules).
	dpkg-dev curl python3-yaml
	# The kiosk's spoken prompts, synthesised offline at build time (deploy/make-voices.sh);
	# Open JTalk's HTS voice package is not in bookworm's main, so eSpeak NG reads them then.
	open-jtalk open-jtalk-mecab-naist-jdic espeak-ng
)

if [ "$runtime_only" = 1 ]; then
	wanted=("${runtime_pkgs[@]}")
else
	wanted=("${full_pkgs[@]}")
	# A Node that is already there (e.g. from another vendor's package) is kept: Debian's
	# nodejs/npm would conflict with it. Node 18 is the oldest with a usable node:test.
	node_major=0
	if command -v node >/dev/null 2>&1; then
		node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	fi
	if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null 2>&1; then
		wanted+=(nodejs npm)
	fi
fi

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing+=("$pkg") ;;
	esac
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#wanted[@]} packages already installed" >&2
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo)
else
	echo "install-deps: missing packages (${missing[*]}) and not root; sudo is not" \
		"available. Run this script as root." >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Builds the Debian package madoguchi_VERSION_amd64.deb from this source tree.
#
#   bash deploy/build-deb.sh [--out DIR] [--builddir DIR]
#
#   --out DIR        where the .deb goes (default: the top of the source tree)
#   --builddir DIR   the release meson build directory, kept between runs so a second
#                    build only recompiles what changed (default: build-deb)
#
# VERSION is meson.build's project version, the only place it is set; the binary reports
# the same one (`madoguchi --version`), and the build stops when they disagree.
#
# What goes in: /usr/bin/madoguchi (release build, stripped), the pages in
# /usr/share/madoguchi/web with the statistics page's chart library (node_modules, `npm ci`
# when missing), the systemd unit, /etc/madoguchi/madoguchi.json as a conffile (from
# deploy/madoguchi.example.json), the Prometheus alert rules, the operations guide, and the
# maintainer scripts (deploy/debian/). Depends: what dpkg-shlibdeps finds in the binary plus
# the libraries it loads at run time (deploy/install-deps.sh --runtime-only lists the same).
#
# Needs: meson, ninja, gcc and the -dev packages (deploy/install-deps.sh), npm for the chart
# library when node_modules lacks it, dpkg-dev for dpkg-shlibdeps (installed with apt-get
# when missing). Runs as any user: file ownership in the package is root's
# (dpkg-deb --root-owner-group).
set -euo pipefail

cd "$(dirname "$0")/.."
src=$(pwd -P)

out=$src
builddir=build-deb
while [ $# -gt 0 ]; do
	case "$1" in
	--out)
		out=${2:?--out needs a directory}
		shift 2
		;;
	--builddir)
		builddir=${2:?--builddir needs a directory}
		shift 2
		;;
	-h | --help)
		sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-deb: unknown option: $1" >&2
		exit 2
		;;
	esac
done

say() { echo "build-deb: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# ---- tools ----

need_pkgs=()
command -v dpkg-deb >/dev/null || need_pkgs+=(dpkg)
command -v dpkg-shlibdeps >/dev/null || need_pkgs+=(dpkg-dev)
command -v meson >/dev/null || need_pkgs+=(meson)
command -v ninja >/dev/null || need_pkgs+=(ninja-build)
command -v strip >/dev/null || need_pkgs+=(binutils)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
	say "installing ${need_pkgs[*]}"
	as_root=()
	[ "$(id -u)" -eq 0 ] || as_root=(sudo)
	"${as_root[@]}" apt-get update -q
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi

# ---- version: meson.build's project() is the one place ----

version=$(sed -n "/^project(/,/)/s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" \
	meson.build | head -n 1)
[[ "$version" =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "cannot read the version from meson.build"
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || say "note: building for $arch, not amd64"
deb_name=madoguchi_${version}_${arch}.deb

# ---- the binary: a release build, only the server target ----

if [ -f "$builddir/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$builddir" --buildtype=release >/dev/null ||
		die "meson setup --reconfigure $builddir failed"
else
	meson setup "$builddir" --buildtype=release >/dev/null || die "meson setup $builddir failed"
fi
say "compiling $builddir/server/madoguchi"
nice ninja -C "$builddir" server/madoguchi >&2 || die "the build failed"
binary=$builddir/server/madoguchi
built_version=$("$binary" --version) || die "$binary --version failed"
[ "$built_version" = "madoguchi $version" ] ||
	die "the binary says '$built_version', meson.build says $version"

# ---- the chart library ----

chart=node_modules/chart.js/dist/chart.umd.js
segmentation=node_modules/@mediapipe/selfie_segmentation/selfie_segmentation.js
if [ ! -f "$chart" ] || [ ! -f "$segmentation" ]; then
	command -v npm >/dev/null || die "$chart is missing and npm is not installed"
	say "npm ci (for the chart library)"
	npm ci --no-audit --no-fund >&2 || die "npm ci failed"
fi
[ -f "$chart" ] || die "$chart is missing after npm ci"
[ -f "$segmentation" ] || die "$segmentation is missing after npm ci"

# ---- the tree ----

stage=$(mktemp -d "${TMPDIR:-/tmp}/madoguchi-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/madoguchi" \
	"$root/usr/share/doc/madoguchi" "$root/lib/systemd/system" "$root/etc/madoguchi"

install -m 0755 "$binary" "$root/usr/bin/madoguchi"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/madoguchi"

# The pages, without whatever a developer copied into web/vendor, then the chart library.
cp -r web "$root/usr/share/madoguchi/web"
rm -rf "$root/usr/share/madoguchi/web/vendor"
mkdir -p "$root/usr/share/madoguchi/web/vendor"
install -m 0644 "$chart" "$root/usr/share/madoguchi/web/vendor/chart.umd.js"
# The kiosk's spoken prompts, synthesised offline into the package's tree.
rm -rf "$root/usr/share/madoguchi/web/kiosk/voice"
bash deploy/make-voices.sh "$root/usr/share/madoguchi/web/kiosk/voice" >&2 ||
	die "deploy/make-voices.sh failed"
# The desk's QR code for guest interpreters (qrcode-generator, MIT).
install -m 0644 node_modules/qrcode-generator/dist/qrcode.mjs "$root/usr/share/madoguchi/web/vendor/qrcode.mjs"
# The desk's background blur: MediaPipe selfie segmentation (Apache-2.0), script, WebAssembly
# and models, served by the server itself (docs/operations.md, "Background blur").
mkdir -p "$root/usr/share/madoguchi/web/vendor/selfie_segmentation"
install -m 0644 node_modules/@mediapipe/selfie_segmentation/*.{js,wasm,tflite,binarypb,data} \
	"$root/usr/share/madoguchi/web/vendor/selfie_segmentation/"

install -m 0644 deploy/madoguchi.service "$root/lib/systemd/system/madoguchi.service"
install -m 0644 deploy/madoguchi.example.json "$root/etc/madoguchi/madoguchi.json"
mkdir -p "$root/usr/share/madoguchi/prometheus"
install -m 0644 deploy/prometheus/alerts.yml "$root/usr/share/madoguchi/prometheus/alerts.yml"
# The active/standby example (docs/operations.md, "Two nodes"): copied by hand to /etc/keepalived.
mkdir -p "$root/usr/share/madoguchi/keepalived"
install -m 0644 deploy/keepalived/keepalived.conf "$root/usr/share/madoguchi/keepalived/keepalived.conf"
install -m 0755 deploy/keepalived/madoguchi-check.sh "$root/usr/share/madoguchi/keepalived/madoguchi-check.sh"
install -m 0644 docs/operations.md "$root/usr/share/doc/madoguchi/operations.md"
install -m 0644 deploy/madoguchi.example.json "$root/usr/share/doc/madoguchi/madoguchi.example.json"
{
	echo "Madoguchi, a WebRTC media server for remote service counters."
	echo
	echo "License: MIT"
	echo
	echo "The statistics page bundles chart.js (/usr/share/madoguchi/web/vendor/chart.umd.js):"
	echo
	cat node_modules/chart.js/LICENSE.md
	echo
	echo "The desk's background blur bundles MediaPipe selfie segmentation (@mediapipe/selfie_segmentation,"
	echo "/usr/share/madoguchi/web/vendor/selfie_segmentation/): License: Apache-2.0"
	echo "(/usr/share/common-licenses/Apache-2.0)."
} >"$root/usr/share/doc/madoguchi/copyright"

# Directories 0755, files 0644 (the binary and the scripts 0755), whatever the umask was.
find "$root" -type d -exec chmod 0755 {} +
find "$root/usr/share" "$root/etc" -type f -exec chmod 0644 {} +
# The configuration may hold secrets: never world-readable, not even for the moment between
# dpkg unpacking it and postinst giving it to the group madoguchi.
chmod 0750 "$root/etc/madoguchi"
chmod 0640 "$root/etc/madoguchi/madoguchi.json"

# ---- control ----

# Libraries the binary links, with the versions their packages' shlibs/symbols ask for.
mkdir -p "$stage/shlib/debian"
printf 'Source: madoguchi\n\nPackage: madoguchi\nArchitecture: any\n' \
	>"$stage/shlib/debian/control"
shlibs=$(cd "$stage/shlib" && dpkg-shlibdeps -O -e"$root/usr/bin/madoguchi" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p') || die "dpkg-shlibdeps failed"
[ -n "$shlibs" ] || die "dpkg-shlibdeps found no libraries"
# Loaded at run time or soon used (deploy/install-deps.sh --runtime-only): libwebsockets'
# libuv backend is a plugin it dlopens, and the media self-test decodes with libopus and
# libvpx. openssl makes the self-signed certificate in postinst; passwd gives useradd.
depends=$shlibs
for pkg in libwebsockets-evlib-uv libopus0 libvpx7 openssl passwd; do
	# Once the binary links a library, dpkg-shlibdeps names it (with a version): once only.
	grep -Eq "(^|, )$pkg( |,|$)" <<<"$depends" || depends="$depends, $pkg"
done

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: madoguchi
Version: $version
Architecture: $arch
Maintainer: Madoguchi maintainers <madoguchi@localhost>
Installed-Size: $installed_kb
Depends: $depends
Recommends: postgresql, postgresql-client
Section: net
Priority: optional
Homepage: https://localhost/madoguchi
Description: remote service counter: WebRTC media server for city hall kiosks
 Madoguchi connects kiosks in branch offices to clerks' desks at the city hall:
 a WebRTC media server (SFU) with signalling, queueing and call records in
 PostgreSQL, and the kiosk, desk, coordinator and statistics pages.
 .
 After installing, edit /etc/madoguchi/madoguchi.json (media-ip, db), create
 the database (/usr/share/doc/madoguchi/operations.md) and run
 systemctl enable --now madoguchi.
EOF

echo /etc/madoguchi/madoguchi.json >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
	install -m 0755 "deploy/debian/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
	LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$deb_name" >/dev/null ||
	die "dpkg-deb failed"
say "built $out/$deb_name"
echo "$out/$deb_name"

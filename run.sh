#!/usr/bin/env bash
# Runs Madoguchi on this machine for a local trial: `bash run.sh`, then open the printed URLs.
#
# Installs the Debian packages, builds into build/, starts a private PostgreSQL under var/pg,
# migrates, seeds a demo city on the first run (var/demo.txt keeps its kiosk tokens and
# logins), and serves https://localhost:8443 until Ctrl-C, which stops the server and the
# database cleanly.
#
# Environment (all optional):
#   MADOGUCHI_PORT        HTTPS/WSS port (default 8443)
#   MADOGUCHI_MEDIA_IP    address announced to browsers for media (default 127.0.0.1; set the
#                         machine's LAN address to use kiosks and desks on other machines)
#   MADOGUCHI_MEDIA_PORT  UDP (and ICE-TCP) media port (default: the server's)
#   MADOGUCHI_BIND        listen address (default 127.0.0.1, or 0.0.0.0 with a non-loopback
#                         MADOGUCHI_MEDIA_IP)
#   MADOGUCHI_LOG_LEVEL   debug|info|warn|error (default info)
#
# The demo clerks' passwords are public (demo-sato, ...). When the server is reachable from
# other machines (MADOGUCHI_BIND or MADOGUCHI_MEDIA_IP not a loopback address) they are
# replaced by random ones, printed once and kept in var/demo.txt (mode 0600).
#
# PostgreSQL: `migrate` and the seeding run as the schema's owner (madoguchi_owner), the
# server as madoguchi, which may only read and write rows (docs/operations.md, "Database
# roles"); only the user running this script can reach the cluster.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd -P)

port=${MADOGUCHI_PORT:-8443}
media_ip=${MADOGUCHI_MEDIA_IP:-127.0.0.1}
case "$media_ip" in
127.* | ::1) default_bind=127.0.0.1 ;;
*) default_bind=0.0.0.0 ;;
esac
bind=${MADOGUCHI_BIND:-$default_bind}
log_level=${MADOGUCHI_LOG_LEVEL:-info}
is_loopback() { case "$1" in 127.* | ::1 | localhost) return 0 ;; *) return 1 ;; esac; }
exposed=0
is_loopback "$bind" && is_loopback "$media_ip" || exposed=1

say() { echo "run.sh: $*" >&2; }

bash deploy/install-deps.sh

if [ ! -f build/meson-private/coredata.dat ]; then
	meson setup build --buildtype=release
fi
ninja -C build
bin=$root/build/server/madoguchi
[ -x "$bin" ] || { say "error: build produced no $bin"; exit 1; }

# The statistics page's chart library comes from npm (package-lock.json) and is served from
# web/vendor/; the page still shows its table without it.
{ [ -f node_modules/chart.js/dist/chart.umd.js ] &&
	[ -f node_modules/qrcode-generator/dist/qrcode.mjs ] &&
	[ -f node_modules/@mediapipe/selfie_segmentation/selfie_segmentation.js ]; } ||
	npm ci --no-audit --no-fund ||
	say "warning: npm ci failed; the statistics page will have no chart, the desk no QR code" \
		"and no background blur"
mkdir -p web/vendor
if [ -f node_modules/chart.js/dist/chart.umd.js ]; then
	cp node_modules/chart.js/dist/chart.umd.js web/vendor/
fi
if [ -f node_modules/qrcode-generator/dist/qrcode.mjs ]; then
	cp node_modules/qrcode-generator/dist/qrcode.mjs web/vendor/
fi
# The desk's background blur (without it the desk sends the camera unblurred and says so).
if [ -f node_modules/@mediapipe/selfie_segmentation/selfie_segmentation.js ]; then
	mkdir -p web/vendor/selfie_segmentation
	cp node_modules/@mediapipe/selfie_segmentation/*.{js,wasm,tflite,binarypb,data} \
		web/vendor/selfie_segmentation/
fi
# The kiosk's spoken prompts (web/kiosk/voice/); the kiosk stays silent without them.
bash deploy/make-voices.sh || say "warning: deploy/make-voices.sh failed; no spoken prompts"

mkdir -p var/tls var/log
server_pid=
pg_started=0
cleanup() {
	local rc=$?
	trap - INT TERM EXIT
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		say "stopping the server"
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ "$pg_started" = 1 ]; then
		say "stopping PostgreSQL"
		bash deploy/pg-local.sh stop var/pg || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

conninfo=$(bash deploy/pg-local.sh start var/pg)
pg_started=1
server_conninfo=$(bash deploy/pg-local.sh conninfo var/pg server)
"$bin" --db "$conninfo" migrate
seed_args=()
[ "$exposed" = 1 ] && seed_args=(--random-passwords)
bash deploy/seed-demo.sh "$conninfo" "$bin" var/demo.txt "${seed_args[@]}"

# A self-signed certificate for localhost and 127.0.0.1 (and the media address), made once.
# Browsers will warn once; accept the warning to continue.
cert=var/tls/cert.pem
key=var/tls/key.pem
if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
	san="DNS:localhost,IP:127.0.0.1"
	[ "$media_ip" != 127.0.0.1 ] && san="$san,IP:$media_ip"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-subj /CN=localhost -addext "subjectAltName=$san" \
		-keyout "$key" -out "$cert" 2>/dev/null
	chmod 600 "$key"
fi

serve_args=(serve --bind "$bind" --port "$port" --media-ip "$media_ip" --web "$root/web"
	--tls-cert "$cert" --tls-key "$key" --log-level "$log_level")
[ -n "${MADOGUCHI_MEDIA_PORT:-}" ] && serve_args+=(--media-port "$MADOGUCHI_MEDIA_PORT")

server_log=var/log/madoguchi.log
: >"$server_log"
# The server's log goes to the terminal and to var/log/madoguchi.log.
# tee ignores Ctrl-C so that the server can still log its shutdown after the interrupt.
"$bin" --db "$server_conninfo" "${serve_args[@]}" 2> >(trap "" INT; exec tee -a "$server_log" >&2) &
server_pid=$!

for _ in $(seq 1 200); do
	grep -q 'msg="listening"' "$server_log" && break
	kill -0 "$server_pid" 2>/dev/null || { say "error: the server exited during start"; exit 1; }
	sleep 0.1
done
grep -q 'msg="listening"' "$server_log" || { say "error: the server did not start in 20 s"; exit 1; }

host=localhost
[ "$bind" != 127.0.0.1 ] && [ "$media_ip" != 127.0.0.1 ] && host=$media_ip
{
	echo
	echo "==================================================================="
	echo " Madoguchi is running.  Ctrl-C stops it."
	echo
	echo " Kiosks (窓口端末):"
	while read -r kind _branch token name; do
		[ "$kind" = kiosk ] || continue
		echo "   $name: https://$host:$port/kiosk/#token=$token"
	done <var/demo.txt
	echo
	echo " Desk (職員): https://$host:$port/desk/"
	while read -r kind user pass depts flags name; do
		[ "$kind" = login ] || continue
		extra=""
		[ "$flags" != - ] && extra=", $flags"
		# Random passwords were printed once when made; they stay in var/demo.txt only.
		shown=$pass
		[ "$pass" = "demo-$user" ] || shown="(var/demo.txt)"
		printf '   %-10s password %-15s (%s: %s%s)\n' "$user" "$shown" "$name" "$depts" "$extra"
	done <var/demo.txt
	echo
	echo " Coordinator (ワンストップ窓口): https://$host:$port/coordinator/  (tanaka)"
	echo " Statistics (利用統計):          https://$host:$port/stats/        (tanaka)"
	echo " Status board (窓口状況ボード):  https://$host:$port/board/        (tanaka)"
	echo
	echo " The certificate is self-signed: accept the browser's warning once."
	echo "==================================================================="
	echo
} >&2

# The server stopping by itself (a crash, or a signal from elsewhere) ends the script with its
# status; Ctrl-C goes through the traps above instead.
if wait "$server_pid"; then rc=0; else rc=$?; fi
server_pid=
say "the server exited with status $rc"
exit "$rc"

#!/usr/bin/env bash
# The Debian package on this machine: build it (deploy/build-deb.sh, reusing build-deb/),
# install it with dpkg -i, check what postinst made (users, directories, permissions, the
# self-signed certificate), run `madoguchi --version` and `madoguchi migrate` from the
# installed paths against a throwaway PostgreSQL cluster with the roles of
# docs/operations.md (peer authentication, each system user as its namesake role), start the
# installed server as the `madoguchi` user with the installed configuration and check
# /healthz and the pages, reinstall over it (the edited conffile survives), then remove and
# purge it and check that nothing is left.
#
# systemd is not PID 1 in the test container: the unit is checked with `systemd-analyze
# verify` (file validity, directives, the binaries it names), not started.
#
# Needs root and a machine without Madoguchi installed: when the package, its users or its
# directories already exist, it exits 77 (skipped) rather than touch them. Every step is
# undone on exit, failed or not (trap).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "deploy-deb: $*" >&2; }
fail() {
	say "FAIL: $*"
	exit 1
}
skip() {
	say "skipped: $*"
	exit 77
}
ok() { say "ok - $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
command -v dpkg >/dev/null || skip "not a Debian system"
if dpkg-query -W -f='${db:Status-Abbrev}' madoguchi 2>/dev/null | grep -q '^[ih]'; then
	skip "a madoguchi package is already installed; not touching it"
fi
for u in madoguchi madoguchi_owner; do
	getent passwd "$u" >/dev/null && skip "user $u exists; not touching it"
	getent group "$u" >/dev/null && skip "group $u exists; not touching it"
done
for d in /etc/madoguchi /var/lib/madoguchi /var/lib/madoguchi_owner /usr/share/madoguchi \
	/usr/bin/madoguchi; do
	[ -e "$d" ] && skip "$d exists; not touching it"
done
pg_bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pg_bin/initdb" ] || pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || skip "PostgreSQL server binaries not found"

work=$(mktemp -d /tmp/madoguchi-deb-test.XXXXXX)
chmod 0755 "$work"
# PostgreSQL's socket outside /tmp, which the server's sandbox replaces (PrivateTmp), as
# /var/run/postgresql is on a real installation.
sock=$(mktemp -d /run/madoguchi-deb-pg.XXXXXX)
server_pid=
installed=0

cleanup() {
	status=$?
	set +e
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid"
		wait "$server_pid" 2>/dev/null
	fi
	if [ -f "$work/pg/data/postmaster.pid" ]; then
		(cd / && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w \
			stop) >/dev/null 2>&1
	fi
	if [ "$installed" = 1 ]; then
		dpkg_retry --purge madoguchi >/dev/null 2>&1
		# Whatever a failed purge left: the preconditions above showed none of it existed.
		for u in madoguchi_owner madoguchi; do
			getent passwd "$u" >/dev/null && userdel "$u" 2>/dev/null
			getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
		done
		rm -rf /etc/madoguchi /var/lib/madoguchi /var/lib/madoguchi_owner
	fi
	rm -rf "$work" "$sock"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dpkg refuses at once when another dpkg or apt holds its lock: wait for it (up to 2 min).
dpkg_retry() {
	local _
	for _ in $(seq 1 60); do
		if dpkg "$@" 2>"$work/dpkg.err"; then
			return 0
		fi
		grep -q 'lock' "$work/dpkg.err" || {
			cat "$work/dpkg.err" >&2
			return 1
		}
		sleep 2
	done
	cat "$work/dpkg.err" >&2
	return 1
}

version=$(sed -n "/^project(/,/)/s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" \
	meson.build | head -n 1)

# ---- build ----

t0=$(date +%s)
deb=$(bash deploy/build-deb.sh --out "$work" --builddir build-deb) || fail "build-deb.sh failed"
[ "$(basename "$deb")" = "madoguchi_${version}_amd64.deb" ] || fail "unexpected name $deb"
ok "built $(basename "$deb") in $(($(date +%s) - t0)) s"

# Depends names every runtime library of deploy/install-deps.sh --runtime-only.
depends=$(dpkg-deb -f "$deb" Depends)
runtime_libs=$(sed -n '/^runtime_pkgs=(/,/)/p' deploy/install-deps.sh | tr -s ' \t\n()' '\n' |
	grep '^lib')
[ -n "$runtime_libs" ] || fail "cannot read runtime_pkgs from deploy/install-deps.sh"
for lib in $runtime_libs; do
	grep -Eq "(^|, )$lib( |,|$)" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
ok "Depends: $depends"
# The listing is read whole: `grep -q` stops at the first match, and under pipefail the
# SIGPIPE that dpkg-deb gets then would read as a failure.
contents=$(dpkg-deb -c "$deb") || fail "dpkg-deb -c $deb"
for f in web/vendor/chart.umd.js web/vendor/qrcode.mjs web/kiosk/voice/wait.wav web/guest/index.html; do
	grep -q " ./usr/share/madoguchi/$f\$" <<<"$contents" || fail "$f is not in the package"
done
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/madoguchi/madoguchi.json ] ||
	fail "conffiles is not /etc/madoguchi/madoguchi.json"

# ---- install ----

installed=1
if ! dpkg_retry -i "$deb" >"$work/dpkg-i.log" 2>&1; then
	say "dpkg -i failed; resolving dependencies with apt-get -f install"
	DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q >&2 || {
		cat "$work/dpkg-i.log" >&2
		fail "cannot install the package"
	}
fi
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' madoguchi)" = "ii " ] || fail "not installed (ii)"
ok "dpkg -i"

[ "$(/usr/bin/madoguchi --version)" = "madoguchi $version" ] ||
	fail "madoguchi --version says '$(/usr/bin/madoguchi --version)', not $version"
[ "$(/usr/bin/madoguchi version)" = "madoguchi $version" ] || fail "madoguchi version"
ok "/usr/bin/madoguchi --version: madoguchi $version"

# What postinst made.
id madoguchi >/dev/null || fail "no user madoguchi"
id madoguchi_owner >/dev/null || fail "no user madoguchi_owner"
[ "$(getent passwd madoguchi | cut -d: -f7)" = /usr/sbin/nologin ] || fail "madoguchi has a shell"
[ "$(stat -c '%U %a' /var/lib/madoguchi)" = "madoguchi 700" ] || fail "/var/lib/madoguchi"
[ "$(stat -c '%U:%G %a' /etc/madoguchi/madoguchi.json)" = "root:madoguchi 640" ] ||
	fail "config is $(stat -c '%U:%G %a' /etc/madoguchi/madoguchi.json)"
runuser -u madoguchi_owner -- test -r /etc/madoguchi/madoguchi.json ||
	fail "madoguchi_owner cannot read the configuration"
runuser -u nobody -- test -r /etc/madoguchi/madoguchi.json &&
	fail "other users can read the configuration"
[ "$(stat -c '%U %a' /etc/madoguchi/tls/key.pem)" = "madoguchi 600" ] || fail "TLS key perms"
runuser -u madoguchi_owner -- test -r /etc/madoguchi/tls/key.pem && fail "owner reads the key"
openssl x509 -in /etc/madoguchi/tls/cert.pem -noout -checkend 86400 >/dev/null ||
	fail "the self-signed certificate is not valid"
grep -q 'IP Address:127.0.0.1' <<<"$(openssl x509 -in /etc/madoguchi/tls/cert.pem -noout -ext subjectAltName)" ||
	fail "the certificate lacks 127.0.0.1"
ok "users, directories, permissions and the self-signed certificate"

unit=/lib/systemd/system/madoguchi.service
for directive in ProtectSystem=strict ProtectHome=true NoNewPrivileges=true PrivateTmp=true \
	PrivateDevices=true ProtectKernelTunables=true ProtectKernelModules=true \
	ProtectKernelLogs=true 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
	CapabilityBoundingSet= ReadWritePaths=/var/lib/madoguchi User=madoguchi \
	Restart=on-failure LimitNOFILE=65536 \
	'ExecStart=/usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json serve'; do
	grep -qx "$directive" "$unit" || fail "the unit lacks $directive"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || {
		cat "$work/verify.log" >&2
		fail "systemd-analyze verify"
	}
	[ ! -s "$work/verify.log" ] || {
		cat "$work/verify.log" >&2
		fail "systemd-analyze verify complained"
	}
	ok "systemd-analyze verify $unit (systemd is not PID 1 here: the unit is not started)"
	# The sandbox's score, offline (systemd 250 and later): 1.5 at the time of writing.
	if systemd-analyze security --offline=true --threshold=20 "$unit" >"$work/security.log" 2>&1; then
		ok "systemd-analyze security: $(tail -n 1 "$work/security.log" | sed 's/^→ //')"
	elif grep -q 'Overall exposure' "$work/security.log"; then
		cat "$work/security.log" >&2
		fail "the unit's exposure is above 2.0"
	else
		say "note: this systemd-analyze cannot rate units offline"
	fi
else
	say "note: systemd-analyze not installed; unit checked by its directives only"
fi

# ---- a PostgreSQL cluster with the roles of docs/operations.md ----

mkdir -p "$work/pg"
chown postgres: "$work/pg" "$sock"
chmod 0755 "$work/pg" "$sock"
(cd / && runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" --auth=peer -U postgres \
	-E UTF8 --locale=C.UTF-8 --no-sync) >"$work/initdb.log" 2>&1 || {
	cat "$work/initdb.log" >&2
	fail initdb
}
cat >"$work/pg/data/pg_hba.conf" <<EOF
local all all peer map=m
EOF
cat >"$work/pg/data/pg_ident.conf" <<EOF
m postgres postgres
m root postgres
m madoguchi madoguchi
m madoguchi_owner madoguchi_owner
EOF
chown postgres: "$work/pg/data/pg_hba.conf" "$work/pg/data/pg_ident.conf"
(cd / && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
	-o "-c listen_addresses='' -k $sock -c unix_socket_permissions=0777 -c fsync=off" \
	start) >/dev/null || {
	cat "$work/pg/log" >&2
	fail "pg_ctl start"
}
psql_pg() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres "$@"; }
psql_pg -d postgres <<'SQL' || fail "creating the roles"
CREATE ROLE madoguchi_owner LOGIN;
CREATE ROLE madoguchi_server NOLOGIN;
CREATE ROLE madoguchi_analyst NOLOGIN;
CREATE ROLE madoguchi LOGIN IN ROLE madoguchi_server;
CREATE DATABASE madoguchi OWNER madoguchi_owner;
SQL

# ---- the operator edits one file ----

ports=$(node -e '
	const net = require("net"), dgram = require("dgram");
	const free = (p) => new Promise((ok) => {
		const t = net.createServer().once("error", () => ok(false));
		t.listen(p, "127.0.0.1", () => {
			const u = dgram.createSocket("udp4").once("error", () => { t.close(); ok(false); });
			u.bind(p, "127.0.0.1", () => { u.close(); t.close(() => ok(true)); });
		});
	});
	(async () => {
		const out = [];
		while (out.length < 2) {
			const p = 20000 + Math.floor(Math.random() * 20000);
			if (!out.includes(p) && await free(p)) out.push(p);
		}
		console.log(out.join(" "));
	})();')
read -r port media_port <<<"$ports"
node -e '
	const fs = require("fs"), f = "/etc/madoguchi/madoguchi.json";
	const c = JSON.parse(fs.readFileSync(f, "utf8"));
	Object.assign(c, { bind: "127.0.0.1", port: +process.argv[1], "media-bind": "127.0.0.1",
		"media-port": +process.argv[2], "media-ip": ["127.0.0.1"], db: process.argv[3] });
	fs.writeFileSync(f, JSON.stringify(c, null, 2) + "\n");
' "$port" "$media_port" "host=$sock dbname=madoguchi"

# ---- migrate, as the unit's ExecStartPre does ----

migrate() {
	(cd / && runuser -u madoguchi_owner -- /usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json \
		migrate)
}
migrate >"$work/migrate.log" 2>&1 || {
	cat "$work/migrate.log" >&2
	fail "madoguchi migrate as madoguchi_owner"
}
migrate >>"$work/migrate.log" 2>&1 || fail "a second madoguchi migrate"
applied=$(psql_pg -d madoguchi -At -c 'SELECT count(*) FROM schema_migrations')
[ "$applied" -ge 3 ] || fail "only $applied migrations applied"
[ "$(psql_pg -d madoguchi -At -c "SELECT tableowner FROM pg_tables WHERE tablename = 'visits'")" = \
	madoguchi_owner ] || fail "visits is not owned by madoguchi_owner"
ok "madoguchi migrate from /usr/bin with /etc/madoguchi/madoguchi.json ($applied migrations, twice)"

# ---- backup and restore, as docs/operations.md says (the server below then uses the
# restored database, so owners and grants must have survived) ----

(cd / && runuser -u postgres -- "$pg_bin/pg_dump" -h "$sock" --format=custom \
	--file="$work/pg/madoguchi.dump" madoguchi) || fail "pg_dump"
tables_before=$(psql_pg -d madoguchi -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
(cd / && runuser -u postgres -- "$pg_bin/dropdb" -h "$sock" madoguchi) || fail dropdb
(cd / && runuser -u postgres -- "$pg_bin/createdb" -h "$sock" --owner=madoguchi_owner \
	madoguchi) || fail createdb
(cd / && runuser -u postgres -- "$pg_bin/pg_restore" -h "$sock" --dbname=madoguchi \
	--exit-on-error "$work/pg/madoguchi.dump") || fail "pg_restore"
tables_after=$(psql_pg -d madoguchi -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$tables_before" = "$tables_after" ] || fail "$tables_before tables before the dump, $tables_after after"
[ "$(psql_pg -d madoguchi -At -c "SELECT tableowner FROM pg_tables WHERE tablename = 'visits'")" = \
	madoguchi_owner ] || fail "visits is not owned by madoguchi_owner after pg_restore"
migrate >>"$work/migrate.log" 2>&1 || fail "madoguchi migrate after pg_restore"
[ "$(psql_pg -d madoguchi -At -c "SELECT has_table_privilege('madoguchi', 'visits', 'INSERT'),
	has_table_privilege('madoguchi', 'staff', 'UPDATE')")" = "t|f" ] ||
	fail "the server role's grants did not survive pg_restore"
(cd / && runuser -u madoguchi_owner -- /usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json \
	admin branch add yamada 山田出張所) >/dev/null || fail "madoguchi admin branch add as madoguchi_owner"
(cd / && runuser -u madoguchi_owner -- /usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json \
	admin branch list) | grep -q 山田出張所 || fail "madoguchi admin branch list"
ok "pg_dump, dropdb, createdb --owner, pg_restore ($tables_after tables, grants kept), migrate, admin branch add"

# ---- serve, as the unit's ExecStart does ----

# The unit's file-system sandbox, rebuilt without systemd in a mount namespace of the
# server's own: every mount read-only but /var/lib/madoguchi (ProtectSystem=strict,
# ReadWritePaths=), empty private /tmp and /var/tmp (PrivateTmp); then the user, no new
# privileges, no capabilities (NoNewPrivileges, CapabilityBoundingSet=), the working
# directory and the umask. So the server must not need to write anywhere else.
sandbox='
	set -e
	mount --bind /var/lib/madoguchi /var/lib/madoguchi
	findmnt -rn -o TARGET | while read -r m; do
		case "$m" in /proc* | /sys* | /dev* | /var/lib/madoguchi) continue ;; esac
		mount -o remount,bind,ro "$m"
	done
	mount -t tmpfs -o mode=1777 tmpfs /tmp
	mount -t tmpfs -o mode=1777 tmpfs /var/tmp
	if touch /usr/.madoguchi-rw-check 2>/dev/null; then
		rm -f /usr/.madoguchi-rw-check
		echo "sandbox: /usr is writable" >&2
		exit 1
	fi
	cd /var/lib/madoguchi
	umask 0077
	exec setpriv --reuid=madoguchi --regid=madoguchi --init-groups --no-new-privs \
		--bounding-set=-all --inh-caps=-all \
		/usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json serve'
sandboxed="read-only file system but /var/lib/madoguchi, private /tmp, no new privileges, no capabilities"
if ! unshare --mount --propagation private -- true 2>/dev/null; then
	say "note: cannot make a mount namespace here; serving without the file-system sandbox"
	sandbox='
	cd /var/lib/madoguchi
	umask 0077
	exec setpriv --reuid=madoguchi --regid=madoguchi --init-groups --no-new-privs \
		--bounding-set=-all --inh-caps=-all \
		/usr/bin/madoguchi --config /etc/madoguchi/madoguchi.json serve'
	sandboxed="no new privileges, no capabilities"
	unshare() { shift 4; "$@"; }
fi
unshare --mount --propagation private -- bash -c "$sandbox" >"$work/serve.log" 2>&1 &
server_pid=$!
health=
for _ in $(seq 1 100); do
	health=$(curl -fsS --cacert /etc/madoguchi/tls/cert.pem --resolve "localhost:$port:127.0.0.1" \
		"https://localhost:$port/healthz" 2>/dev/null) && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.2
done
if ! grep -q '"status":"ok"' <<<"$health" || ! grep -q '"db":"up"' <<<"$health"; then
	cat "$work/serve.log" >&2
	fail "/healthz answered '$health'"
fi
ok "the installed server as user madoguchi ($sandboxed): /healthz $health (TLS with postinst's certificate)"
# Every page of the source tree (web/*/index.html), and the chart library.
pages=$(cd web && for f in */index.html; do echo "/${f%index.html}"; done)
for page in / $pages /vendor/chart.umd.js; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert /etc/madoguchi/tls/cert.pem \
		--resolve "localhost:$port:127.0.0.1" "https://localhost:$port$page")
	[ "$code" = 200 ] || fail "GET $page answered $code"
done
ok "pages served from /usr/share/madoguchi/web: /" $pages "and the chart library"
[ "$(stat -c '%U %a' /var/lib/madoguchi/records.spool)" = "madoguchi 600" ] ||
	fail "the spool is not in /var/lib/madoguchi, mode 600"
[ "$(stat -c '%U %a' /var/lib/madoguchi/records.spool.key)" = "madoguchi 600" ] ||
	fail "the spool key is not in /var/lib/madoguchi, mode 600"
ok "spool and its key in /var/lib/madoguchi"
kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
[ "$rc" = 0 ] || {
	cat "$work/serve.log" >&2
	fail "the server exited $rc on SIGTERM"
}
ok "SIGTERM: exit 0"

# ---- reinstall over it: the edited conffile and the state stay ----

# With apt, as an operator does (all dependencies are installed by now: nothing is fetched).
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall --no-install-recommends \
	-o DPkg::Lock::Timeout=120 "$deb" >"$work/apt-reinstall.log" 2>&1 || {
	cat "$work/apt-reinstall.log" >&2
	fail "apt-get install --reinstall $deb"
}
grep -q "\"port\": $port" /etc/madoguchi/madoguchi.json || fail "the edited configuration was lost"
[ "$(stat -c '%U:%G %a' /etc/madoguchi/madoguchi.json)" = "root:madoguchi 640" ] ||
	fail "config perms after reinstall: $(stat -c '%U:%G %a' /etc/madoguchi/madoguchi.json)"
[ -f /var/lib/madoguchi/records.spool.key ] || fail "reinstalling lost the spool key"
ok "apt-get install --reinstall ./….deb keeps the edited configuration, its permissions and the state"

# ---- remove keeps configuration, state and users; purge removes them ----

dpkg_retry -r madoguchi >"$work/dpkg-r.log" 2>&1 || fail "dpkg -r"
[ ! -e /usr/bin/madoguchi ] || fail "dpkg -r left /usr/bin/madoguchi"
[ ! -e /usr/share/madoguchi ] || fail "dpkg -r left /usr/share/madoguchi"
[ -f /etc/madoguchi/madoguchi.json ] || fail "dpkg -r removed the configuration"
id madoguchi >/dev/null 2>&1 || fail "dpkg -r removed the user"
ok "dpkg -r: program gone; configuration, state and users kept"

dpkg_retry --purge madoguchi >"$work/dpkg-purge.log" 2>&1 || {
	cat "$work/dpkg-purge.log" >&2
	fail "dpkg --purge"
}
installed=0
for p in /usr/bin/madoguchi /usr/share/madoguchi /usr/share/doc/madoguchi /etc/madoguchi \
	/var/lib/madoguchi /var/lib/madoguchi_owner /lib/systemd/system/madoguchi.service; do
	[ ! -e "$p" ] || fail "dpkg --purge left $p"
done
for u in madoguchi madoguchi_owner; do
	! getent passwd "$u" >/dev/null || fail "dpkg --purge left user $u"
	! getent group "$u" >/dev/null || fail "dpkg --purge left group $u"
done
! dpkg-query -W -f='${db:Status-Abbrev}' madoguchi 2>/dev/null | grep -q '^[ihc]' ||
	fail "dpkg still lists madoguchi"
ok "dpkg --purge: no files, no users, no groups left"
say "all passed in $(($(date +%s) - t0)) s"

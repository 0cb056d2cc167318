#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, listening only on a unix socket.
#
#   deploy/pg-local.sh start DIR [--fast]   initdb on first use, start, create the roles and
#                                           database "madoguchi"; prints the owner's conninfo
#   deploy/pg-local.sh stop DIR [--fast]    stop (--fast: immediate, for throwaway clusters)
#   deploy/pg-local.sh status DIR           prints "running CONNINFO" (exit 0) or "stopped" (3)
#   deploy/pg-local.sh conninfo DIR [ROLE]  prints the conninfo of ROLE: owner (the default),
#                                           server or super
#
# Layout: DIR/data (the cluster), DIR/run (the socket), DIR/postgres.log.
# --fast turns fsync, synchronous_commit and full_page_writes off (and initdb's final sync):
# for test clusters only.
#
# Roles (docs/operations.md, "Database roles"): madoguchi_owner owns the database and its
# schema and is what `madoguchi migrate` and `madoguchi admin` connect as; the server connects
# as madoguchi, a member of madoguchi_server (only the rows it needs, see migration_3.c); the
# cluster's superuser is for maintenance only.
#
# Who may connect: only the user who runs this script (and the cluster's owner). The socket
# directory and the socket are 0700, owned by the cluster's owner (root passes anyway), and
# authentication is `peer` with a map that lets the invoking user, and nobody else, use the
# three roles above: no other local user reaches the cluster, let alone as superuser.
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and
# initdb/pg_ctl run through runuser. That user must be able to reach DIR: when DIR lies under
# a directory it cannot traverse (e.g. a repository under /root), or the socket path would be
# too long for a unix socket, the cluster goes to /var/tmp/madoguchi-pg-<hash of DIR> instead
# and a note says so. Everything except the conninfo goes to stderr.
set -euo pipefail

usage() {
	sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir_arg=$2
shift 2
fast=0
role=owner
for arg in "$@"; do
	case "$cmd:$arg" in
	start:--fast | stop:--fast) fast=1 ;;
	conninfo:owner | conninfo:server | conninfo:super) role=$arg ;;
	*) usage ;;
	esac
done
case "$cmd" in start | stop | status | conninfo) ;; *) usage ;; esac

say() { echo "pg-local: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

bindir=$(pg_config --bindir 2>/dev/null) || die "pg_config not found (install libpq-dev)"
[ -x "$bindir/initdb" ] || die "$bindir/initdb not found (install postgresql)"

# The user running this script: the only one (with the cluster's owner) let in.
os_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
	db_user=postgres
	# runuser keeps the working directory; postgres may not be allowed in ours.
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	db_user=$os_user
	as_owner() { "$@"; }
fi
owner_role=madoguchi_owner
server_role=madoguchi
case "$db_user" in
madoguchi | madoguchi_owner | madoguchi_server | madoguchi_analyst)
	die "the cluster's superuser would be named '$db_user', like one of Madoguchi's own" \
		"roles: run this as another user"
	;;
esac

mkdir -p "$dir_arg"
dir=$(cd "$dir_arg" && pwd -P)

# A unix socket path is limited to 107 bytes; ".s.PGSQL.5432" is appended to the directory.
socket_path_fits() { [ $((${#1} + 19)) -le 107 ]; }

usable_dir() {
	local d=$1
	socket_path_fits "$d/run" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$d" 2>/dev/null || return 1
		runuser -u postgres -- test -x "$d" -a -w "$d" 2>/dev/null || return 1
	fi
	return 0
}

if ! usable_dir "$dir"; then
	hash=$(printf '%s' "$dir" | sha256sum | cut -c1-12)
	fallback=/var/tmp/madoguchi-pg-$hash
	if [ "$cmd" = start ]; then
		say "note: $dir is not reachable by user '$db_user' (or its socket path is too" \
			"long); using $fallback instead"
	fi
	mkdir -p "$fallback"
	chmod 700 "$fallback"
	dir=$fallback
	usable_dir "$dir" || die "cannot prepare $dir for user '$db_user'"
fi

data=$dir/data
run=$dir/run
log=$dir/postgres.log
conninfo="host=$run dbname=madoguchi user=$owner_role"

is_running() {
	[ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case "$cmd" in
conninfo)
	case "$role" in
	owner) echo "$conninfo" ;;
	server) echo "host=$run dbname=madoguchi user=$server_role" ;;
	super) echo "host=$run dbname=madoguchi user=$db_user" ;;
	esac
	exit 0
	;;
status)
	if is_running; then
		echo "running $conninfo"
		exit 0
	fi
	echo "stopped"
	exit 3
	;;
stop)
	if ! is_running; then
		say "not running ($data)"
		exit 0
	fi
	mode=fast
	[ "$fast" = 1 ] && mode=immediate
	as_owner "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 60 stop >&2
	exit 0
	;;
esac

# ---- start ----

if [ ! -f "$data/PG_VERSION" ]; then
	mkdir -p "$data"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$data"
	chmod 700 "$data"
	locale_args=(--no-locale)
	if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then
		locale_args=(--locale=C.UTF-8)
	fi
	# A throwaway cluster need not wait for initdb's fsync of every file (seconds here).
	sync_args=()
	[ "$fast" = 1 ] && sync_args=(--no-sync)
	say "initdb $data"
	as_owner "$bindir/initdb" -D "$data" --auth=peer --encoding=UTF8 "${locale_args[@]}" \
		--username="$db_user" "${sync_args[@]}" >"$dir/initdb.log" 2>&1 ||
		die "initdb failed; see $dir/initdb.log:$(echo; tail -n 20 "$dir/initdb.log")"
	# Our settings live in their own file, rewritten at every start, so the socket directory
	# (which may contain spaces) needs no shell quoting and --fast can change per start.
	echo "include_if_exists = 'madoguchi.conf'" >>"$data/postgresql.conf"
fi

# The cluster's directory, its socket directory and its log are its owner's alone (earlier
# versions left them world-readable and the socket world-writable).
mkdir -p "$run"
touch "$log"
[ "$(id -u)" -eq 0 ] && chown postgres: "$run" "$dir" "$log"
chmod 700 "$dir" "$run"
chmod 600 "$log"

conf=$data/madoguchi.conf
{
	echo "# Written by deploy/pg-local.sh at each start."
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '${run//\'/\'\'}'"
	echo "unix_socket_permissions = 0700"
	echo "max_connections = 50"
	if [ "$fast" = 1 ]; then
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
	fi
} >"$conf"

# Authentication, rewritten at each start as well (clusters made before used `trust`): peer
# over the socket, and the map names who may be whom. Nothing listens on TCP.
{
	echo "# Written by deploy/pg-local.sh at each start."
	echo "# TYPE  DATABASE  USER  METHOD"
	echo "local   all       all   peer map=madoguchi"
} >"$data/pg_hba.conf"
{
	echo "# Written by deploy/pg-local.sh at each start."
	echo "# MAPNAME  SYSTEM-USER  PG-USER"
	for r in "$db_user" "$owner_role" "$server_role"; do
		echo "madoguchi  $os_user  $r"
	done
	if [ "$os_user" != "$db_user" ]; then
		echo "madoguchi  $db_user  $db_user"
	fi
} >"$data/pg_ident.conf"
[ "$(id -u)" -eq 0 ] && chown postgres: "$conf" "$data/pg_hba.conf" "$data/pg_ident.conf"
chmod 600 "$conf" "$data/pg_hba.conf" "$data/pg_ident.conf"

if is_running; then
	say "already running ($data)"
	as_owner "$bindir/pg_ctl" -D "$data" reload >/dev/null || die "pg_ctl reload failed"
else
	as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
		die "pg_ctl start failed; last lines of $log:$(echo; tail -n 20 "$log")"
fi

psql_run() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$run" -U "$db_user" "$@"; }

# The roles, made once (migrations 2 and 3 would make the group roles too, but then the owner
# would need CREATEROLE). The owner may log in and owns what it creates, nothing more.
psql_run -d postgres >&2 <<SQL || die "cannot connect to the cluster at $run to create the roles"
DO \$\$ BEGIN
 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$owner_role') THEN
  CREATE ROLE $owner_role LOGIN;
 END IF;
 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'madoguchi_server') THEN
  CREATE ROLE madoguchi_server NOLOGIN;
 END IF;
 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'madoguchi_analyst') THEN
  CREATE ROLE madoguchi_analyst NOLOGIN;
 END IF;
 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$server_role') THEN
  CREATE ROLE $server_role LOGIN IN ROLE madoguchi_server;
 END IF;
END \$\$;
SQL

db_owner=$(psql_run -d postgres -At -c "SELECT pg_get_userbyid(datdba) FROM pg_database
	WHERE datname = 'madoguchi'") || die "cannot connect to the cluster at $run"
if [ -z "$db_owner" ]; then
	psql_run -d postgres -c "CREATE DATABASE madoguchi OWNER $owner_role" >&2 ||
		die "cannot create database madoguchi"
elif [ "$db_owner" != "$owner_role" ]; then
	# A cluster from before the roles: its schema belongs to the superuser. Hand the
	# database and everything in its public schema to the owner role, once.
	say "handing database madoguchi from '$db_owner' to '$owner_role'"
	psql_run -d madoguchi >&2 <<SQL || die "cannot hand database madoguchi to $owner_role"
BEGIN;
ALTER DATABASE madoguchi OWNER TO $owner_role;
DO \$\$ DECLARE r record; BEGIN
 FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relowner = '$db_owner'::regrole
   AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
 LOOP
  EXECUTE format('ALTER TABLE %s OWNER TO $owner_role', r.name);
 END LOOP;
 FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relowner = '$db_owner'::regrole AND c.relkind = 'S'
 LOOP
  EXECUTE format('ALTER SEQUENCE %s OWNER TO $owner_role', r.name);
 END LOOP;
 FOR r IN SELECT p.oid::regprocedure AS name, p.prokind FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'public' AND p.proowner = '$db_owner'::regrole
 LOOP
  EXECUTE format('ALTER %s %s OWNER TO $owner_role',
   CASE r.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
   r.name);
 END LOOP;
END \$\$;
COMMIT;
SQL
fi

echo "$conninfo"

#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, listening only on a unix socket.
#
#   deploy/pg-local.sh start DIR [--fast]   initdb on first use, start, create database
#                                           "madoguchi"; prints the conninfo on stdout
#   deploy/pg-local.sh stop DIR [--fast]    stop (--fast: immediate, for throwaway clusters)
#   deploy/pg-local.sh status DIR           prints "running CONNINFO" (exit 0) or "stopped" (3)
#
# Layout: DIR/data (the cluster), DIR/run (the socket), DIR/postgres.log.
# --fast turns fsync, synchronous_commit and full_page_writes off (and initdb's final sync):
# for test clusters only.
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user and
# initdb/pg_ctl run through runuser. That user must be able to reach DIR: when DIR lies under
# a directory it cannot traverse (e.g. a repository under /root), or the socket path would be
# too long for a unix socket, the cluster goes to /var/tmp/madoguchi-pg-<hash of DIR> instead
# and a note says so. Everything except the conninfo goes to stderr.
set -euo pipefail

usage() {
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir_arg=$2
shift 2
fast=0
for arg in "$@"; do
	case "$arg" in
	--fast) fast=1 ;;
	*) usage ;;
	esac
done
case "$cmd" in start | stop | status) ;; *) usage ;; esac

say() { echo "pg-local: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

bindir=$(pg_config --bindir 2>/dev/null) || die "pg_config not found (install libpq-dev)"
[ -x "$bindir/initdb" ] || die "$bindir/initdb not found (install postgresql)"

if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
	db_user=postgres
	# runuser keeps the working directory; postgres may not be allowed in ours.
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	db_user=$(id -un)
	as_owner() { "$@"; }
fi

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
conninfo="host=$run dbname=madoguchi user=$db_user"

is_running() {
	[ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

case "$cmd" in
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
	as_owner "$bindir/initdb" -D "$data" --auth=trust --encoding=UTF8 "${locale_args[@]}" \
		--username="$db_user" "${sync_args[@]}" >"$dir/initdb.log" 2>&1 ||
		die "initdb failed; see $dir/initdb.log:$(echo; tail -n 20 "$dir/initdb.log")"
	# Our settings live in their own file, rewritten at every start, so the socket directory
	# (which may contain spaces) needs no shell quoting and --fast can change per start.
	echo "include_if_exists = 'madoguchi.conf'" >>"$data/postgresql.conf"
fi

mkdir -p "$run"
[ "$(id -u)" -eq 0 ] && chown postgres: "$run" "$dir"
touch "$log"
[ "$(id -u)" -eq 0 ] && chown postgres: "$log"

conf=$data/madoguchi.conf
{
	echo "# Written by deploy/pg-local.sh at each start."
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '${run//\'/\'\'}'"
	echo "max_connections = 50"
	if [ "$fast" = 1 ]; then
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
	fi
} >"$conf"
[ "$(id -u)" -eq 0 ] && chown postgres: "$conf"

if is_running; then
	say "already running ($data)"
else
	as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null ||
		die "pg_ctl start failed; last lines of $log:$(echo; tail -n 20 "$log")"
fi

psql_run() { "$bindir/psql" -X -q -h "$run" -U "$db_user" "$@"; }
exists=$(psql_run -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = 'madoguchi'") ||
	die "cannot connect to the cluster at $run"
if [ "$exists" != 1 ]; then
	psql_run -d postgres -c "CREATE DATABASE madoguchi" >&2 ||
		die "cannot create database madoguchi"
fi

echo "$conninfo"

#!/bin/sh
# Runs a store test binary against a throwaway PostgreSQL cluster: initdb into a fresh
# temporary directory, start it listening only on a unix socket inside that directory, create
# the database, run "$@" with MADOGUCHI_TEST_DB set, and always stop and remove the cluster.
# Usage: tests/store/run.sh TEST_BINARY [ARGS...]
set -eu

if [ "$#" -lt 1 ]; then
	echo "usage: $0 TEST_BINARY [ARGS...]" >&2
	exit 2
fi

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "$0: PostgreSQL server binaries (initdb) not found; skipping" >&2
	exit 77
fi

# initdb refuses to run as root: run the server tools as the postgres user then.
if [ "$(id -u)" -eq 0 ]; then
	as_pg="runuser -u postgres --"
else
	as_pg=""
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/madoguchi-pg.XXXXXX")
cleanup() {
	status=$?
	if [ -f "$dir/data/postmaster.pid" ]; then
		$as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$as_pg" ]; then
	chown postgres "$dir"
fi
chmod 700 "$dir"

$as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
	>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
$as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
	-o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
"$bindir/createdb" -h "$dir" -U postgres madoguchi

# The test connects as the postgres superuser over the socket (trust authentication);
# MADOGUCHI_TEST_PGCTL lets a test restart the server to exercise reconnection.
MADOGUCHI_TEST_DB="host=$dir dbname=madoguchi user=postgres"
MADOGUCHI_TEST_PGCTL="$as_pg $bindir/pg_ctl -D $dir/data -l $dir/server.log -w"
MADOGUCHI_TEST_PGOPTS="-k $dir -c listen_addresses='' -c fsync=off"
export MADOGUCHI_TEST_DB MADOGUCHI_TEST_PGCTL MADOGUCHI_TEST_PGOPTS
"$@"

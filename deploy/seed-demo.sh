#!/usr/bin/env bash
# Seeds the demo city through the admin command line, once.
#
#   deploy/seed-demo.sh CONNINFO BIN OUTFILE [--random-passwords]
#
# CONNINFO  libpq connection string of a migrated database, as its owner (admin commands)
# BIN       the madoguchi executable
# OUTFILE   where the kiosk tokens and demo logins are written (e.g. var/demo.txt), mode 0600
# --random-passwords  the demo clerks get random passwords instead of the well-known
#           demo-USERNAME ones (run.sh asks for this when it serves beyond loopback); clerks
#           that still have a well-known one get a new one. New passwords are printed once,
#           on stderr, and kept in OUTFILE.
#
# Idempotent: when branch "yamada" exists the data is left alone. Kiosk tokens are printed by
# the server only once, so OUTFILE is what later runs read; if the database was seeded but
# OUTFILE is lost, fresh kiosks are added to get new tokens and the clerks' passwords are set
# again.
#
# OUTFILE format, one record per line, fields separated by single spaces, the display name
# last (it may contain spaces); lines starting with # are comments:
#   kiosk BRANCH TOKEN NAME
#   login USERNAME PASSWORD DEPARTMENTS FLAGS NAME      (FLAGS is "-" when none)
set -euo pipefail

random_passwords=0
if [ $# -eq 4 ] && [ "$4" = --random-passwords ]; then
	random_passwords=1
elif [ $# -ne 3 ]; then
	sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
conninfo=$1
bin=$2
outfile=$3

say() { echo "seed-demo: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
[ -x "$bin" ] || die "$bin is not an executable"

admin() { "$bin" --db "$conninfo" admin "$@"; }

# Demo staff passwords are public by design (demo-USERNAME): this is sample data for a trial
# on this machine. Anyone on the network could log in with them, so with --random-passwords
# they are replaced by random ones.
logins=(
	# username password       departments              flags                name
	"sato      demo-sato      hoken                    -                    佐藤"
	"suzuki    demo-suzuki    zeimu                    -                    鈴木"
	"takahashi demo-takahashi kosodate                 -                    高橋"
	"tanaka    demo-tanaka    hoken,zeimu,kosodate     coordinator,analyst  田中"
)

# 96 random bits in 16 characters that need no quoting anywhere.
random_password() { head -c 12 /dev/urandom | base64 | tr '+/' '-_'; }

# The password OUTFILE holds for a user ("" when none).
password_in_file() {
	[ -f "$outfile" ] || return 0
	awk -v u="$1" '$1 == "login" && $2 == u { print $3; exit }' "$outfile"
}

# Chooses each clerk's password: keep the one in OUTFILE unless it is the public one and
# random passwords are wanted; with no usable one, the public one or a random one. Fills
# passwords[user] and changed[user] (1 when it differs from what the database has).
declare -A passwords changed
choose_passwords() { # $1: 1 when the database has the public passwords for users not in OUTFILE
	local line user pass depts flags name kept
	for line in "${logins[@]}"; do
		read -r user pass depts flags name <<<"$line"
		kept=$(password_in_file "$user")
		if [ -n "$kept" ] && { [ "$random_passwords" = 0 ] || [ "$kept" != "$pass" ]; }; then
			passwords[$user]=$kept
			changed[$user]=0
		elif [ "$random_passwords" = 1 ]; then
			passwords[$user]=$(random_password)
			changed[$user]=1
		else
			passwords[$user]=$pass
			changed[$user]=$((1 - $1))
		fi
	done
}

branches=$(admin branch list --json) || die "'admin branch list --json' failed"
if grep -q '"yamada"' <<<"$branches"; then
	if [ -s "$outfile" ]; then
		if [ "$random_passwords" = 0 ] ||
			! grep -Eq '^login ([a-z]+) demo-\1 ' "$outfile"; then
			say "demo data already present; logins in $outfile"
			exit 0
		fi
		say "demo clerks still have the public demo passwords: giving them random ones"
		seeded=2
	else
		say "demo data present but $outfile is missing: adding new kiosks for fresh tokens"
		seeded=1
	fi
else
	seeded=0
fi
# Only a fresh seed knows what the database holds; otherwise every password is set again.
choose_passwords "$([ "$seeded" = 0 ] && echo 1 || echo 0)"

if [ "$seeded" = 0 ]; then
	say "seeding the demo city"
	admin branch add yamada 山田出張所 >/dev/null
	admin branch add takasaki 高崎総合支所 >/dev/null

	admin department add hoken 保険年金課 >/dev/null
	admin department add zeimu 税務課 >/dev/null
	admin department add kosodate 子育て支援課 >/dev/null

	admin procedure add kokuho-kanyu 国民健康保険の加入 --department hoken >/dev/null
	admin procedure add kokuho-dattai 国民健康保険の脱退 --department hoken >/dev/null
	admin procedure add nenkin-soudan 年金の相談 --department hoken >/dev/null
	admin procedure add shotoku-shomei 所得証明の発行 --department zeimu >/dev/null
	admin procedure add juminzei-soudan 住民税の相談 --department zeimu >/dev/null
	admin procedure add jido-teate 児童手当の申請 --department kosodate >/dev/null
	admin procedure add hoiku-soudan 保育園の相談 --department kosodate >/dev/null

	# A one-stop menu: after a death in the family the resident visits several counters.
	admin onestop add okuyami おくやみの手続き --steps hoken,zeimu,kosodate >/dev/null

	for line in "${logins[@]}"; do
		read -r user pass depts flags name <<<"$line"
		flag_args=()
		[ "$flags" != - ] && flag_args=(--flags "$flags")
		# The password is read from stdin (one line) so it never shows in the process list.
		printf '%s\n' "${passwords[$user]}" |
			admin user add "$user" --name "$name" --department "$depts" "${flag_args[@]}" \
				>/dev/null || die "could not add user $user"
		changed[$user]=0
	done
fi

# `user passwd` also revokes that clerk's login tokens and ends their live sessions.
for line in "${logins[@]}"; do
	read -r user _ <<<"$line"
	[ "${changed[$user]}" = 1 ] || continue
	printf '%s\n' "${passwords[$user]}" | admin user passwd "$user" >/dev/null ||
		die "could not set the password of user $user"
done

if [ "$seeded" = 2 ]; then
	kiosk_lines=$(grep '^kiosk ' "$outfile")
else
	suffix=""
	[ "$seeded" = 1 ] && suffix=" ($(date +%Y%m%d-%H%M%S))"

	# `kiosk add` prints the token alone on the first line of stdout.
	kiosk_token() {
		local out
		out=$(admin kiosk add --branch "$1" --name "$2") || die "could not add kiosk $2"
		head -n 1 <<<"$out"
	}
	tok_yamada=$(kiosk_token yamada "山田出張所 1番$suffix")
	tok_takasaki=$(kiosk_token takasaki "高崎総合支所 1番$suffix")
	[ -n "$tok_yamada" ] && [ -n "$tok_takasaki" ] || die "kiosk add printed no token"
	kiosk_lines="kiosk yamada $tok_yamada 山田出張所 1番$suffix
kiosk takasaki $tok_takasaki 高崎総合支所 1番$suffix"
fi

mkdir -p "$(dirname "$outfile")"
tmp=$outfile.tmp
# Created unreadable to others from the start: it holds tokens and passwords.
(
	umask 077
	rm -f "$tmp"
	{
		echo "# Madoguchi demo data, written by deploy/seed-demo.sh on $(date -Is)."
		echo "# kiosk BRANCH TOKEN NAME / login USERNAME PASSWORD DEPARTMENTS FLAGS NAME"
		echo "$kiosk_lines"
		for line in "${logins[@]}"; do
			read -r user pass depts flags name <<<"$line"
			echo "login $user ${passwords[$user]} $depts $flags $name"
		done
	} >"$tmp"
)
chmod 600 "$tmp"
mv "$tmp" "$outfile"
say "wrote kiosk tokens and logins to $outfile"
if [ "$random_passwords" = 1 ]; then
	for line in "${logins[@]}"; do
		read -r user _ <<<"$line"
		[ "${changed[$user]}" = 1 ] || [ "$seeded" = 0 ] || continue
		say "new password for $user: ${passwords[$user]}"
	done
fi

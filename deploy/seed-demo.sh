#!/usr/bin/env bash
# Seeds the demo city through the admin command line, once.
#
#   deploy/seed-demo.sh CONNINFO BIN OUTFILE
#
# CONNINFO  libpq connection string of a migrated database
# BIN       the madoguchi executable
# OUTFILE   where the kiosk tokens and demo logins are written (e.g. var/demo.txt)
#
# Idempotent: when branch "yamada" exists the data is left alone. Kiosk tokens are printed by
# the server only once, so OUTFILE is what later runs read; if the database was seeded but
# OUTFILE is lost, fresh kiosks are added to get new tokens.
#
# OUTFILE format, one record per line, fields separated by single spaces, the display name
# last (it may contain spaces); lines starting with # are comments:
#   kiosk BRANCH TOKEN NAME
#   login USERNAME PASSWORD DEPARTMENTS FLAGS NAME      (FLAGS is "-" when none)
set -euo pipefail

if [ $# -ne 3 ]; then
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
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

branches=$(admin branch list --json) || die "'admin branch list --json' failed"
if grep -q '"yamada"' <<<"$branches"; then
	if [ -s "$outfile" ]; then
		say "demo data already present; logins in $outfile"
		exit 0
	fi
	say "demo data present but $outfile is missing: adding new kiosks for fresh tokens"
	seeded=1
else
	seeded=0
fi

# Demo staff passwords are public by design: this is sample data for a local trial.
logins=(
	# username password       departments              flags                name
	"sato      demo-sato      hoken                    -                    佐藤"
	"suzuki    demo-suzuki    zeimu                    -                    鈴木"
	"takahashi demo-takahashi kosodate                 -                    高橋"
	"tanaka    demo-tanaka    hoken,zeimu,kosodate     coordinator,analyst  田中"
)

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
		printf '%s\n' "$pass" |
			admin user add "$user" --name "$name" --department "$depts" "${flag_args[@]}" \
				>/dev/null || die "could not add user $user"
	done
fi

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

mkdir -p "$(dirname "$outfile")"
tmp=$outfile.tmp
{
	echo "# Madoguchi demo data, written by deploy/seed-demo.sh on $(date -Is)."
	echo "# kiosk BRANCH TOKEN NAME / login USERNAME PASSWORD DEPARTMENTS FLAGS NAME"
	echo "kiosk yamada $tok_yamada 山田出張所 1番$suffix"
	echo "kiosk takasaki $tok_takasaki 高崎総合支所 1番$suffix"
	for line in "${logins[@]}"; do
		read -r user pass depts flags name <<<"$line"
		echo "login $user $pass $depts $flags $name"
	done
} >"$tmp"
chmod 600 "$tmp"
mv "$tmp" "$outfile"
say "wrote kiosk tokens and logins to $outfile"

#!/usr/bin/env bash
# Capacity: how many one-to-one calls one server core holds, Madoguchi and Janus side by side.
#
#   bash bench/capacity/run.sh [--quick] [--no-janus] [BUILD_DIR]
#   bash bench/capacity/run.sh --smoke BUILD_DIR        # the test suite's check (6 calls, 10 s)
#
# Settings (environment): CALLS="10 25 50 100 150 200 300 400 500 600" (the ramp; --quick:
# one step of 30 calls, 6 s after 4 s), SECONDS_PER_STEP=20,
# WARMUP=5 (after every call is up; the kiosks' start-up self-tests decode 3 s of video),
# PROCS=1 (generator processes), KBPS=1000 (video per sender), SERVER_CPU=0 and GEN_CPU=1 (the
# cores the server and the generator are pinned to with taskset; PIN=0: not pinned),
# JANUS_EVENT_LOOPS=1 (bench/capacity/janus.sh), KEEP=1 (keep the temporary directory and
# its logs), LOG_LEVEL=warn (the server's). SWITCH_EVERY=S (Madoguchi only): every step also
# transfers each of SWITCH_CALLS calls (default all) to another department's desk every S
# seconds and reports how long the kiosk waits for the new clerk's picture (p50/p95/max),
# with SWITCH_SPARES=1 idle desks per department to switch to; MEASURE then gains
# switch_p95_ms and switch_failed at the best step. Method and figures: docs/capacity.md.
#
# It creates a throwaway PostgreSQL cluster (deploy/pg-local.sh), seeds it with
# bench/capacity/seed.sql, and for each step of the ramp starts a fresh server pinned to
# SERVER_CPU, runs bench/load's generator pinned to GEN_CPU (N calls, real ICE/DTLS/SRTP,
# Opus and VP8 at about 1 Mbit/s + 32 kbit/s each way), and stops the server. A step holds
# when the packets lost are < 0.5 % of those sent and the one-way latency's p99 < 50 ms; the
# ramp stops at the first step that does not hold. The figures: CPU per forwarded packet (the
# server's utime+stime from /proc over the measured window divided by the packets the
# receivers got), the most calls held (one core, so calls per core), RSS idle and per call.
# The last line is MEASURE {json}. BUILD_DIR defaults to build-bench (release, configured on
# first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
quick=0 smoke=0 janus=1 build=
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	--smoke) smoke=1 janus=0 ;;
	--no-janus) janus=0 ;;
	-*) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	*) build=$a ;;
	esac
done
build=${build:-build-bench}
if [ "$smoke" = 1 ]; then
	calls_list=6 secs=10 warmup=1
elif [ "$quick" = 1 ]; then
	calls_list=${CALLS:-30} secs=${SECONDS_PER_STEP:-6} warmup=${WARMUP:-4}
else
	calls_list=${CALLS:-"10 25 50 100 150 200 300 400 500 600"} secs=${SECONDS_PER_STEP:-20}
	warmup=${WARMUP:-5}
fi
procs=${PROCS:-1} kbps=${KBPS:-1000}
switch_every=${SWITCH_EVERY:-0} switch_calls=${SWITCH_CALLS:-0} spares=${SWITCH_SPARES:-1}
switch_args=()
if awk -v s="$switch_every" 'BEGIN { exit !(s > 0) }'; then
	switch_args=(--switch-every "$switch_every" --switch-calls "$switch_calls" --spares "$spares")
else
	spares=0
fi
server_cpu=${SERVER_CPU:-0} gen_cpu=${GEN_CPU:-1}
if [ "$smoke" = 0 ]; then
	[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
	ninja -C "$build" server/madoguchi bench/load/loadgen >/dev/null
fi
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/server/madoguchi
loadgen=$build/bench/load/loadgen
[ -x "$bin" ] && [ -x "$loadgen" ] || { echo "capacity: $bin or $loadgen missing" >&2; exit 1; }
# taskset when pinning makes sense (not in the smoke test); taskset execs, so $! is the server.
pin_server=() pin_gen=()
if [ "$smoke" = 0 ] && [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null; then
	pin_server=(taskset -c "$server_cpu") pin_gen=(taskset -c "$gen_cpu")
fi
max_calls=0
for n in $calls_list; do [ "$n" -gt "$max_calls" ] && max_calls=$n; done

tmp=$(mktemp -d /tmp/madoguchi-capacity.XXXXXX)
chmod 755 "$tmp"
server_pid=
cleanup() {
	declare -F janus_teardown >/dev/null && janus_teardown
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
	bash deploy/pg-local.sh stop "$tmp/pg" --fast >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] && echo "capacity: kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
conninfo=$(bash deploy/pg-local.sh start "$tmp/pg" --fast 2>/dev/null | tail -1)
server_conninfo=$(bash deploy/pg-local.sh conninfo "$tmp/pg" server)
"$bin" --db "$conninfo" migrate >/dev/null
depts=8
# Switching: the spare desks are desks N.. of the seed (bench/load/loadgen.c).
psql -q "$conninfo" -v calls="$((max_calls + depts * spares))" -v depts="$depts" \
	-f bench/capacity/seed.sql >/dev/null

free_port() { # tcp|udp
	python3 -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1]=='tcp' else socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" "$1"
}
udp_drops() { awk '/^Udp:/ { n++; if (n == 2) print $6 }' /proc/net/snmp; }
# Datagrams the kernel dropped on the UDP sockets bound to this port (last column of
# /proc/net/udp), e.g. the server's media socket.
port_drops() { awk -v p="$(printf ':%04X' "$1")" '$2 ~ p"$" { d += $NF } END { print d + 0 }' /proc/net/udp; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
json() { # KEY JSON-LINE
	sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"
}

# One step against Madoguchi: prints the generator's report; sets step_result and idle_rss.
mado_step() {
	local n=$1 port media log
	port=$(free_port tcp) media=$(free_port udp) log=$tmp/server-$n.log
	"${pin_server[@]}" "$bin" --db "$server_conninfo" serve --bind 127.0.0.1 --port "$port" \
		--media-port "$media" --media-ip 127.0.0.1 --web "$root/web" --no-tls \
		--log-level "${LOG_LEVEL:-warn}" >"$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening' "$log" 2>/dev/null && break
		kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; return 1; }
		sleep 0.1
	done
	sleep 1
	idle_rss=$(rss_kib "$server_pid")
	local drops0
	drops0=$(udp_drops)
	local out
	out=$("${pin_gen[@]}" "$loadgen" --url "ws://127.0.0.1:$port/ws" --calls "$n" \
		--seconds "$secs" --warmup "$warmup" --procs "$procs" --kbps "$kbps" \
		--departments "$depts" --server-pid "$server_pid" ${switch_args[@]+"${switch_args[@]}"}) || true
	echo "$out" | sed 's/^/  /'
	step_result=$(grep '^RESULT ' <<<"$out" | tail -1)
	# The server's own counters over the whole step (setup included), and the kernel's.
	metrics=$(curl -s "http://127.0.0.1:$port/metrics")
	grep -E '^madoguchi_(udp_[rt]x_packets|rtp_forwarded|rtp_dropped|nack_|pli_|rtx_)' <<<"$metrics" |
		sed 's/^madoguchi_//' | tr '\n' ' ' | sed 's/^/  server: /; s/$/\n/' || true
	# How long datagrams waited in the media socket before the loop read them (per read
	# batch, its oldest): the loop's stalls.
	read_delay=$(awk '/^madoguchi_media_read_delay_seconds_bucket\{le="0.005"\}/ { f = $2 }
		/^madoguchi_media_read_delay_seconds_bucket\{le="0.02"\}/ { t = $2 }
		/^madoguchi_media_read_delay_seconds_bucket\{le="\+Inf"\}/ { a = $2 }
		/^madoguchi_media_read_delay_seconds_count/ { c = $2 }
		/^madoguchi_media_read_delay_seconds_sum/ { s = $2 }
		END { if (c > 0 && a == c) printf "%d %.4f %.4f %.3f", c, (c - f) / c, (c - t) / c, s * 1000 / c }' <<<"$metrics")
	if [ -n "$read_delay" ]; then
		read -r rd_n rd_5 rd_20 rd_avg <<<"$read_delay"
		echo "  read delay: $rd_n read batches, average ${rd_avg} ms; over 5 ms: ${rd_5}," \
			"over 20 ms: ${rd_20} of them"
	fi
	local drops
	drops=$(udp_drops)
	echo "  kernel: $((drops - drops0)) UDP datagrams dropped for full receive buffers during the" \
		"step (machine-wide), $(port_drops "$media") of them on the server's media socket"
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# Ramps up; sets best (most calls held), best_us and best_rss (at best, or at the first step
# when none held: the CPU cost per packet is still worth knowing), best_n (their step), idle,
# and cpu_bound: the calls a whole core would carry at that cost per packet (1 s of CPU /
# (us per packet x packets per second per call)), the ceiling a quiet machine would show.
ramp() { # NAME STEP-FUNCTION
	local name=$1 step=$2
	best=0 best_us=null best_rss=null best_n=0 best_pps=null idle=null best_sw=null best_swf=null
	for n in $calls_list; do
		echo "== $name: $n calls"
		step_result=
		$step "$n" || true
		[ "$idle" = null ] && [ -n "${idle_rss:-}" ] && idle=$idle_rss
		if [ -z "$step_result" ] || grep -q '"failed"' <<<"$step_result"; then
			echo "  -> setup failed"
			break
		fi
		local delivered p99 us rss pps
		delivered=$(json delivered "$step_result") p99=$(json p99_ms "$step_result")
		us=$(json us_per_fwd_packet "$step_result") rss=$(json server_rss_kib "$step_result")
		pps=$(json fwd_pps "$step_result")
		local sw swf
		sw=$(json switch_p95_ms "$step_result") swf=$(json switch_failed "$step_result")
		sw=${sw:-null} swf=${swf:-null}
		[ "$best_n" = 0 ] && best_us=$us best_rss=$rss best_n=$n best_pps=$pps best_sw=$sw best_swf=$swf
		if awk -v d="$delivered" -v p="$p99" 'BEGIN { exit !(d > 0.995 && p < 50) }'; then
			echo "  -> held (loss $(awk -v d="$delivered" 'BEGIN{printf "%.3f", 100*(1-d)}') %, p99 $p99 ms)"
			best=$n best_us=$us best_rss=$rss best_n=$n best_pps=$pps best_sw=$sw best_swf=$swf
		else
			echo "  -> not held (loss $(awk -v d="$delivered" 'BEGIN{printf "%.3f", 100*(1-d)}') %, p99 $p99 ms)"
			break
		fi
	done
	cpu_bound=null
	[ "$best_us" != null ] && [ "$best_pps" != null ] && [ "$best_n" -gt 0 ] &&
		cpu_bound=$(awk -v u="$best_us" -v p="$best_pps" -v n="$best_n" \
			'BEGIN { if (u > 0 && p > 0) printf "%.0f", 1e6 / (u * p / n); else print "null" }')
	return 0
}

if [ -n "${ONLY_JANUS:-}" ]; then # for trying the Janus half alone
	. bench/capacity/janus.sh
	ramp janus janus_step
	exit 0
fi
if [ "$smoke" = 1 ]; then
	mado_step "$calls_list"
	d=$(json delivered "$step_result")
	[ -n "$d" ] && awk -v d="$d" 'BEGIN { exit !(d >= 0.99) }' ||
		{ echo "FAIL: delivered ${d:-nothing} (< 0.99)"; exit 1; }
	[ -n "$read_delay" ] || { echo "FAIL: no media read delay histogram in /metrics"; exit 1; }
	# Six kiosks connect within a second or two: their start-up self-tests run four at a
	# time (the others wait a sweep or more), and all six are done by the end.
	tests=$(awk '/^madoguchi_selftests_total / { print $2 }' <<<"$metrics")
	deferred=$(awk '/^madoguchi_selftests_deferred_total / { print $2 }' <<<"$metrics")
	[ "${tests:-0}" -ge 6 ] && [ "${deferred:-0}" -ge 1 ] ||
		{ echo "FAIL: self-tests ${tests:-none} (want 6), deferred ${deferred:-none} (want some)"; exit 1; }
	echo "ok: $calls_list calls, delivered $d; read delay (batches, share over 5 and 20 ms," \
		"average ms): $read_delay; self-tests $tests, deferred $deferred sweeps"
	if [ "${#switch_args[@]}" -gt 0 ]; then
		# Every switch should show the new picture within 5 s; a quarter may fail when the
		# machine is overloaded (an unpinned debug build while the suite runs).
		sn=$(json switches "$step_result") ss=$(json switch_shown "$step_result")
		sf=$(json switch_failed "$step_result")
		[ "${ss:-0}" -gt 0 ] && [ "$((4 * ${sf:-99}))" -le "${sn:-0}" ] ||
			{ echo "FAIL: ${sn:-no} switches, ${ss:-0} showed the new picture, ${sf:-?} failed"; exit 1; }
		echo "ok: $sn switches, p95 $(json switch_p95_ms "$step_result") ms"
	fi
	exit 0
fi

ramp madoguchi mado_step
m_best=$best m_us=$best_us m_rss=$best_rss m_n=$best_n m_idle=$idle m_bound=$cpu_bound
m_sw=$best_sw m_swf=$best_swf
[ "${#switch_args[@]}" -gt 0 ] &&
	echo "madoguchi: switches at $m_n calls: p95 ${m_sw} ms to the new clerk's picture, ${m_swf} failed"
per_call=null
[ "$m_n" -gt 0 ] && [ "$m_rss" != null ] && [ "$m_idle" != null ] &&
	per_call=$(awk -v r="$m_rss" -v i="$m_idle" -v n="$m_n" 'BEGIN{printf "%.0f", (r-i)/n}')
echo "madoguchi: $m_best calls held on one core; ${m_us} us CPU per forwarded packet" \
	"(at $m_n calls: ${m_bound} calls per core if the core were the server's alone);" \
	"RSS idle ${m_idle} KiB, ${per_call} KiB per call (${m_rss} KiB at $m_n calls)"

j_best=null j_us=null j_bound=null
if [ "$janus" = 1 ]; then
	# shellcheck source=bench/capacity/janus.sh
	. bench/capacity/janus.sh
	ramp janus janus_step
	j_best=$best j_us=$best_us j_bound=$cpu_bound
	echo "janus: $j_best calls held on one core; ${j_us} us CPU per forwarded packet" \
		"(at $best_n calls: ${j_bound} calls per core if the core were Janus's alone);" \
		"RSS idle ${idle} KiB, ${best_rss} KiB at $best_n calls"
fi
sw_measure=
[ "${#switch_args[@]}" -gt 0 ] && sw_measure=",\"switch_p95_ms\":$m_sw,\"switch_failed\":$m_swf"
ratio=null
[ "$j_best" != null ] && [ "$j_best" -gt 0 ] &&
	ratio=$(awk -v a="$m_best" -v b="$j_best" 'BEGIN{printf "%.2f", a/b}')
echo "MEASURE {\"calls_per_core\":$m_best,\"janus_calls_per_core\":$j_best,\"ratio\":$ratio,\"us_per_fwd_packet\":$m_us,\"janus_us_per_fwd_packet\":$j_us,\"cpu_bound_calls_per_core\":$m_bound,\"janus_cpu_bound_calls_per_core\":$j_bound,\"idle_rss_kib\":$m_idle,\"rss_kib_per_call\":$per_call$sw_measure}"

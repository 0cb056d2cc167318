#!/usr/bin/env bash
# A libFuzzer campaign over every fuzz target (tests/fuzz/README.md):
#
#   bash tests/fuzz/campaign.sh SECONDS [TARGET[=SECONDS]...]
#   bash tests/fuzz/campaign.sh --runs N [SECONDS] [TARGET[=SECONDS]...]
#   bash tests/fuzz/campaign.sh --plain ...   (libFuzzer without ASan and UBSan)
#
# Builds the targets with clang, libFuzzer, ASan and UBSan into build-fuzz/ (its own build
# directory: build-test/ is left alone), then runs them one after the other, each for SECONDS
# (a TARGET=SECONDS argument overrides it for that target) or, with --runs, until it has
# executed N inputs (SECONDS, when given too, still caps the time). Each run starts from a
# copy of the target's seed corpus in a scratch directory, so the committed corpus stays
# small. At the end it prints one row per target: executions, executions per second,
# seconds, inputs that added coverage, the coverage reached, and findings (crashes, leaks,
# timeouts, out-of-memory) with the path of each input that caused one. The exit status is 0
# when nothing was found.
#
# --plain builds into build-fuzz-plain/ with libFuzzer alone, no sanitizers: about six times
# as many executions a second for the protocol target (whose every input drives the whole
# app), at the price of catching only crashes, aborts and the targets' own traps, not silent
# memory errors. Use it for the long runs, and the default build for the sanitized ones.
# MAX_LEN (environment) caps the input size, as -max_len.
#
# The script runs under nice and runs one target at a time with one job: the machine is
# shared. Targets: stun rtp rtcp red sdp tcp_frame http protocol layersel (all when none is named).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
renice -n 10 -p $$ >/dev/null 2>&1 || true

all_targets=(stun rtp rtcp red sdp tcp_frame http protocol layersel)
builddir=${FUZZ_BUILDDIR:-build-fuzz}
sanitize=address,undefined

usage() {
	echo "usage: $0 [--plain] [--runs N] SECONDS [TARGET[=SECONDS]...]" >&2
	echo "       $0 --runs N [SECONDS] [TARGET[=SECONDS]...]" >&2
	echo "targets: ${all_targets[*]}" >&2
	exit 2
}

runs=0
seconds=0
targets=()
declare -A target_seconds=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs)
		[ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || usage
		runs=$2
		shift 2
		;;
	--plain)
		builddir=${FUZZ_BUILDDIR:-build-fuzz-plain}
		sanitize=none
		shift
		;;
	-h | --help) usage ;;
	*=*)
		name=${1%%=*} secs=${1#*=}
		[[ $secs =~ ^[0-9]+$ ]] || usage
		targets+=("$name")
		target_seconds[$name]=$secs
		shift
		;;
	*)
		if [[ $1 =~ ^[0-9]+$ ]] && [ "$seconds" -eq 0 ] && [ ${#targets[@]} -eq 0 ]; then
			seconds=$1
		else
			targets+=("$1")
		fi
		shift
		;;
	esac
done
[ "$seconds" -gt 0 ] || [ "$runs" -gt 0 ] || [ ${#target_seconds[@]} -gt 0 ] || usage
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
	[[ " ${all_targets[*]} " == *" $t "* ]] || {
		echo "$0: unknown target $t" >&2
		usage
	}
	t_secs=${target_seconds[$t]:-$seconds}
	[ "$t_secs" -gt 0 ] || [ "$runs" -gt 0 ] || {
		echo "$0: no duration for $t" >&2
		usage
	}
done

# ---- build ----
command -v clang >/dev/null || {
	echo "$0: clang is needed (apt-get install clang)" >&2
	exit 1
}
if [ ! -f "$builddir/meson-private/coredata.dat" ]; then
	CC=clang meson setup "$builddir" -Dfuzz=true -Db_sanitize=$sanitize \
		-Db_lundef=false --buildtype=debugoptimized >/dev/null || {
		echo "$0: meson setup $builddir failed" >&2
		exit 1
	}
fi
ninja -C "$builddir" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null || {
	echo "$0: the build failed (ninja -C $builddir shows why)" >&2
	exit 1
}

# ---- run ----
work=${FUZZ_WORK:-$builddir/campaign/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$work"
echo "campaign: $work (logs, scratch corpora, findings)"

# UBSan findings must stop the target like an ASan error, so that libFuzzer keeps the input.
# A smaller quarantine and shorter allocation stacks keep the allocation-heavy protocol
# targets fast; use-after-free within an input is still caught.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=8:malloc_context_size=5}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

rows=()
found_total=0
for t in "${targets[@]}"; do
	corpus=$work/$t/corpus
	artifacts=$work/$t/findings/
	log=$work/$t/fuzz.log
	mkdir -p "$corpus" "$artifacts"
	cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
	args=(-print_final_stats=1 -timeout=30 -artifact_prefix="$artifacts")
	t_secs=${target_seconds[$t]:-$seconds}
	[ "$t_secs" -gt 0 ] && args+=(-max_total_time="$t_secs")
	[ "$runs" -gt 0 ] && args+=(-runs="$runs")
	[ -n "${MAX_LEN:-}" ] && args+=(-max_len="$MAX_LEN")
	[ -f tests/fuzz/dict/"$t".dict ] && args+=(-dict=tests/fuzz/dict/"$t".dict)
	echo "campaign: $t ${args[*]}"
	start=$(date +%s)
	"$builddir"/tests/fuzz/fuzz_"$t" "${args[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	elapsed=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 | awk '{print $2 "/" $4}')
	findings=()
	for f in "$artifacts"*; do
		[ -f "$f" ] && findings+=("$f")
	done
	if [ ${#findings[@]} -eq 0 ] && [ "$rc" -ne 0 ]; then
		findings+=("exit status $rc, see $log")
	fi
	found_total=$((found_total + ${#findings[@]}))
	what=none
	[ ${#findings[@]} -gt 0 ] && what="${#findings[@]}: ${findings[*]}"
	rows+=("$t|${execs:-?}|${rate:-?}|$elapsed|${added:-?}|${cov:-?}|$what")
	echo "campaign: $t done: ${execs:-?} executions in ${elapsed}s, findings: $what"
done

echo
printf '%-10s %14s %9s %8s %9s %14s  %s\n' target executions exec/s seconds new_units \
	cov/features findings
for r in "${rows[@]}"; do
	IFS='|' read -r t e s secs n c f <<<"$r"
	printf '%-10s %14s %9s %8s %9s %14s  %s\n' "$t" "$e" "$s" "$secs" "$n" "$c" "$f"
done
[ "$found_total" -eq 0 ]

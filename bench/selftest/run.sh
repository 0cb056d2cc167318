#!/usr/bin/env bash
# The kiosk self-test's cost: CPU seconds per kiosk-check (3 s of 640x480 VP8 at 30 fps and
# 3 s of Opus, encoded by libvpx and libopus here, depacketized and decoded as the server
# does) and the share of one core for KIOSKS idle kiosks checked every INTERVAL seconds.
#
#   bash bench/selftest/run.sh [BUILD_DIR]     # RUNS=20 KBPS=2000 KIOSKS=50 INTERVAL=600
#
# BUILD_DIR defaults to ./build-bench, configured as a release build on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-bench}
if [ ! -x "$build/bench/selftest/bench_selftest" ]; then
	[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
	ninja -C "$build" bench/selftest/bench_selftest >/dev/null
fi
"$build/bench/selftest/bench_selftest" "${RUNS:-20}" "${KBPS:-2000}" "${KIOSKS:-50}" "${INTERVAL:-600}"

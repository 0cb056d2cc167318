#!/usr/bin/env bash
# Media-plane load: N synthetic kiosk-desk call pairs (real STUN, DTLS, SRTP over loopback)
# against one in-process media plane, in real time. Prints the server's packet rates and CPU.
#
#   bash bench/media/run.sh [BUILD_DIR]        # PAIRS="1 2 4 8" SECONDS_PER_RUN=20 LOSS=0 KBPS=1000
#                                              # MEDIA=replay|live SIMULCAST=0|2|3
#
# The peers send real VP8 and Opus: by default a loop encoded once and replayed (MEDIA=live:
# every peer encodes with libvpx and libopus, which costs far more than the server).
#
# BUILD_DIR defaults to ./build-bench, configured as a release build on first use (sanitizer
# builds work too but measure the sanitizers).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-bench}
[ -d "$build" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" bench/synth/synth_load >/dev/null
for n in ${PAIRS:-1 2 4 8}; do
	echo "== $n pair(s)"
	"$build/bench/synth/synth_load" "$n" "${SECONDS_PER_RUN:-20}" "${LOSS:-0}" "${KBPS:-1000}" "${MEDIA:-replay}" "${SIMULCAST:-0}"
done

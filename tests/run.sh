#!/usr/bin/env bash
# The test command: `bash tests/run.sh`.
#
# Installs what is missing (Debian packages, node_modules), builds into build-test/ with
# ASan+UBSan, and runs every meson suite: unit, fuzz, store, protocol and browser (the browser
# tests one at a time). Extra arguments go to `meson test` (e.g. --suite unit, or a test name).
#
# The last line printed is always "N passed, N failed" (", N skipped" when some were skipped),
# counted from build-test/meson-logs/testlog.json; TIMEOUT and ERROR count as failed. The exit
# status is 0 exactly when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

builddir=build-test
testlog=$builddir/meson-logs/testlog.json

say() { echo "tests/run.sh: $*" >&2; }
# Ends the run when a step before the tests fails, still with the closing line.
abort() {
	say "error: $*"
	echo "0 passed, 1 failed"
	exit 1
}

bash deploy/install-deps.sh || abort "installing the Debian packages failed"

# node_modules is reinstalled only when package.json or package-lock.json changed.
lock_sum=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
stamp=node_modules/.madoguchi-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
	npm ci --no-audit --no-fund || abort "npm ci failed"
	echo "$lock_sum" >"$stamp"
fi
# The statistics page's chart library is served from the web root, never committed.
mkdir -p web/vendor && cp node_modules/chart.js/dist/chart.umd.js web/vendor/ ||
	abort "cannot copy chart.js into web/vendor"
# The kiosk's spoken prompts (web/kiosk/voice/, build output).
bash deploy/make-voices.sh || abort "deploy/make-voices.sh failed"
cp node_modules/qrcode-generator/dist/qrcode.mjs web/vendor/ ||
	abort "cannot copy qrcode-generator into web/vendor"
# The desk's background blur: MediaPipe's selfie segmentation (script, WebAssembly, models).
mkdir -p web/vendor/selfie_segmentation &&
	cp node_modules/@mediapipe/selfie_segmentation/*.{js,wasm,tflite,binarypb,data} \
		web/vendor/selfie_segmentation/ ||
	abort "cannot copy @mediapipe/selfie_segmentation into web/vendor"

setup_opts=(-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug)
if [ -f "$builddir/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$builddir" "${setup_opts[@]}" ||
		abort "meson setup --reconfigure failed"
else
	meson setup "$builddir" "${setup_opts[@]}" || abort "meson setup failed"
fi
ninja -C "$builddir" || abort "the build failed"

# Leaks are failures; UBSan findings stop the process so the test sees them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

rm -f "$testlog"
meson test -C "$builddir" --no-rebuild --print-errorlogs "$@"
meson_rc=$?

if [ ! -s "$testlog" ]; then
	say "error: meson test (exit $meson_rc) wrote no $testlog"
	echo "0 passed, 1 failed"
	exit 1
fi

# One JSON object per line; "result" is OK, EXPECTEDFAIL, SKIP, FAIL, TIMEOUT, ERROR,
# UNEXPECTEDPASS, ... Anything that is neither a pass nor a skip is a failure.
summary=$(node -e '
	const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n");
	let passed = 0, failed = 0, skipped = 0;
	for (const line of lines) {
		if (!line.trim()) continue;
		const r = JSON.parse(line).result;
		if (r === "OK" || r === "EXPECTEDFAIL") passed++;
		else if (r === "SKIP") skipped++;
		else failed++;
	}
	let s = `${passed} passed, ${failed} failed`;
	if (skipped > 0) s += `, ${skipped} skipped`;
	console.log(s);
' "$testlog") || {
	say "error: cannot read $testlog"
	echo "0 passed, 1 failed"
	exit 1
}

failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$summary")
# meson failing with every test passed (e.g. a test that could not start) is still a failure.
if [ "$failed" = 0 ] && [ "$meson_rc" != 0 ]; then
	say "error: meson test exited $meson_rc although no test failed"
	summary=$(sed -E 's/([0-9]+) failed/1 failed/' <<<"$summary")
	failed=1
fi
echo "$summary"
[ "$failed" = 0 ]

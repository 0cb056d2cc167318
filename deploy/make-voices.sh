#!/bin/bash
# Synthesises the kiosk's spoken prompts at build time, offline, into web/kiosk/voice/*.wav
# (build output, gitignored; the kiosk plays them and stays silent when they are missing).
#
#   bash deploy/make-voices.sh [OUTDIR]      (default: web/kiosk/voice)
#
# Open JTalk (open-jtalk, open-jtalk-mecab-naist-jdic) with an HTS voice is used when a voice
# is found (MADOGUCHI_HTSVOICE, or /usr/share/hts-voice/*/*.htsvoice: the Debian package
# hts-voice-nitech-jp-atr503-m001 is not in bookworm's main, so it may be absent); otherwise
# eSpeak NG's Japanese voice (espeak-ng, main) reads the prompts written in kana. Without
# either it says so and exits 0: the kiosk works without the prompts.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-web/kiosk/voice}
mkdir -p "$out"

# name | text for Open JTalk | the same in kana for eSpeak NG
prompts=(
	"wait|担当者がお受けするまで、そのままお待ちください。|たんとうしゃが おうけするまで、 そのまま おまちください。"
	"connecting|おつなぎしています。|おつなぎ しています。"
	"ended|ご利用ありがとうございました。通話は終了しました。|ごりよう ありがとう ございました。 つうわは しゅうりょう しました。"
)

voice=${MADOGUCHI_HTSVOICE:-}
if [ -z "$voice" ]; then
	voice=$(ls /usr/share/hts-voice/*/*.htsvoice 2>/dev/null | head -n 1 || true)
fi
dict=/var/lib/mecab/dic/open-jtalk/naist-jdic

if [ -n "$voice" ] && [ -f "$voice" ] && command -v open_jtalk >/dev/null && [ -d "$dict" ]; then
	engine=open_jtalk
elif command -v espeak-ng >/dev/null; then
	engine=espeak-ng
else
	echo "make-voices: neither open_jtalk with an HTS voice nor espeak-ng is installed;" \
		"the kiosk will have no spoken prompts (deploy/install-deps.sh installs espeak-ng)" >&2
	exit 0
fi

for p in "${prompts[@]}"; do
	IFS='|' read -r name text kana <<<"$p"
	tmp="$out/.$name.wav.tmp"
	if [ "$engine" = open_jtalk ]; then
		printf '%s\n' "$text" | open_jtalk -x "$dict" -m "$voice" -ow "$tmp"
	else
		espeak-ng -v ja -s 140 -w "$tmp" "$kana"
	fi
	mv "$tmp" "$out/$name.wav"
done
echo "make-voices: $engine wrote $(ls "$out"/*.wav | wc -l) prompts to $out"

#!/bin/bash
# Regenerates test/fixtures/audio/: the NumPy reference's features
# (test/ref/audio_ref.py) for synthetic signals, the resampler's scipy
# reference, and the format-test MP3s (one signal encoded by LAME as 44.1 kHz
# stereo CBR, 48 kHz stereo VBR, 22.05 kHz mono CBR and VBR). Everything here
# is generated, so it may be committed.
#
# Real music (GTZAN, ../shared/data/gtzan-mini) is never committed: its licence
# forbids redistribution. test/audio_features.test.ts decodes those clips and
# runs `audio_ref.py case` on them at test time instead.
#
# Needs: Debian's /usr/bin/python3 with python3-numpy and python3-scipy, `lame`
# (apt-get install lame python3-numpy python3-scipy).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=test/fixtures/audio
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
/usr/bin/python3 test/ref/audio_ref.py fixtures "$OUT"
/usr/bin/python3 test/ref/audio_ref.py mp3s "$TMP"
# the same lowpass for every encoding, above all of the signal's content
LAME="lame --quiet --noreplaygain --lowpass 9"
$LAME --resample 44.1 -b 192 "$TMP/sig_44100_stereo.wav" "$OUT/sig_44k_stereo_cbr192.mp3"
$LAME --resample 48 -V 0 "$TMP/sig_48000_stereo.wav" "$OUT/sig_48k_stereo_vbr.mp3"
$LAME --resample 22.05 -b 64 -m m "$TMP/sig_22050_mono.wav" "$OUT/sig_22k_mono_cbr64.mp3"
$LAME --resample 22.05 -V 0 -m m "$TMP/sig_22050_mono.wav" "$OUT/sig_22k_mono_vbr.mp3"
du -sh "$OUT"

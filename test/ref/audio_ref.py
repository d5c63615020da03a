#!/usr/bin/python3
"""sleeve's audio reference: librosa's feature definitions re-written in NumPy.

librosa is not installable here, so this module restates, from librosa's
published definitions (0.10), exactly the features sleeve computes on the GPU:

  stft          n_fft 2048, hop 512, periodic Hann, center=True, zero padding
                (librosa >= 0.10 default pad_mode='constant'); power = |X|^2
  mel           Slaney mel scale (htk=False) and Slaney area norm, fmin 0, fmax sr/2
  power_to_db   10 log10(max(amin, S)) - 10 log10(max(amin, ref)), floor at max - top_db
  onset         onset_strength: dB of a 128-band mel spectrogram, lag 1,
                max_size 1, half-wave rectified difference, mean over bands,
                left padding of lag + n_fft // (2 hop) frames, trimmed to T frames
  tempogram     autocorrelation tempogram: win_length 384, periodic Hann,
                linear-ramp padding of the envelope, autocorrelation by FFT,
                each column divided by its max |value| (norm=inf)

Everything is computed in float64. Run with Debian's python (numpy, scipy):

  /usr/bin/python3 test/ref/audio_ref.py fixtures OUT_DIR          (see make_audio_fixtures.sh)
  /usr/bin/python3 test/ref/audio_ref.py case OUT_DIR PCM.npy...    (real music, at test time)
  /usr/bin/python3 test/ref/audio_ref.py mp3s OUT_DIR               (the format-test WAVs)

bench/torch_bench.py imports it: the numpy-cpu engine of the features-30s
bench row is this module's features() after scipy's resample_poly.
"""
import json
import math
import os
import sys

import numpy as np
import scipy.ndimage
import scipy.signal

# ---- parameters (the same defaults as src/audio/features.ts) -------------------
SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 64
ONSET_N_MELS = 128
TOP_DB = 80.0
AMIN = 1e-10
WIN_LENGTH = 384
N_LAGS = 64


def hann_periodic(n):
    # scipy.signal.get_window('hann', n, fftbins=True)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft_power(y, n_fft=N_FFT, hop=HOP):
    """|STFT|^2 as [1 + n_fft/2, frames]."""
    y = np.asarray(y, dtype=np.float64)
    pad = n_fft // 2
    yp = np.pad(y, (pad, pad), mode="constant")
    n_frames = 1 + (len(yp) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = yp[idx] * hann_periodic(n_fft)[None, :]
    X = np.fft.rfft(frames, axis=1)
    return (X.real ** 2 + X.imag ** 2).T


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filters(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=None):
    """librosa.filters.mel(htk=False, norm='slaney'): [n_mels, 1 + n_fft/2]."""
    if fmax is None:
        fmax = sr / 2.0
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    w = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return w * enorm[:, None]


def power_to_db(S, ref=1.0, amin=AMIN, top_db=TOP_DB):
    log_spec = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(max(amin, abs(ref)))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def onset_strength(power, sr=SR, n_fft=N_FFT, hop=HOP, n_mels=ONSET_N_MELS, lag=1, max_size=1):
    """librosa.onset.onset_strength with its defaults, from a power spectrogram."""
    S = power_to_db(mel_filters(sr, n_fft, n_mels) @ power)
    if max_size == 1:
        ref = S
    else:
        ref = scipy.ndimage.maximum_filter1d(S, max_size, axis=0)
    env = np.maximum(0.0, S[:, lag:] - ref[:, :-lag]).mean(axis=0)
    env = np.pad(env, (lag + n_fft // (2 * hop), 0), mode="constant")
    return env[: S.shape[1]]


def autocorrelate(x, axis=0):
    n = x.shape[axis]
    n_pad = 2 * n - 1
    P = np.abs(np.fft.rfft(x, n=n_pad, axis=axis)) ** 2
    ac = np.fft.irfft(P, n=n_pad, axis=axis)
    return np.take(ac, np.arange(n), axis=axis)


def tempogram(env, win_length=WIN_LENGTH):
    """librosa.feature.tempogram(onset_envelope=env): [win_length, frames]."""
    n = len(env)
    w = win_length // 2
    padded = np.pad(env, (w, w), mode="linear_ramp", end_values=(0, 0))
    idx = np.arange(win_length)[:, None] + np.arange(len(padded) - win_length + 1)[None, :]
    frames = padded[idx][:, :n] * hann_periodic(win_length)[:, None]
    ac = autocorrelate(frames, axis=0)
    norm = np.abs(ac).max(axis=0, keepdims=True)
    norm[norm < np.finfo(np.float64).tiny] = 1.0
    return ac / norm


def features(y, sr=SR):
    power = stft_power(y)
    mel_db = power_to_db(mel_filters(sr, N_FFT, N_MELS) @ power)
    env = onset_strength(power, sr)
    tg = tempogram(env)
    return power, mel_db, env, tg


# ---- synthetic signals (mirrored exactly by test/ref/audio_signals.ts) ----------

def tone(f=440.0, seconds=2.0, sr=SR, amp=0.5):
    n = np.arange(int(round(seconds * sr)))
    return amp * np.sin(2 * np.pi * f * n / sr)


def clicks(bpm=120.0, seconds=10.0, sr=SR):
    """A 1 kHz burst of 220 samples (10 ms) with a linear decay, at every beat."""
    n_total = int(round(seconds * sr))
    y = np.zeros(n_total)
    period = 60.0 * sr / bpm
    burst = 220
    k = np.arange(burst)
    b = (1 - k / burst) * np.sin(2 * np.pi * 1000.0 * k / sr)
    beat = 0
    while True:
        start = int(round(beat * period))
        if start >= n_total:
            break
        m = min(burst, n_total - start)
        y[start:start + m] += 0.8 * b[:m]
        beat += 1
    return y


def chirp(f0, f1, seconds, sr, amp=0.5):
    """Exponential sweep f0 -> f1 Hz: phase 2 pi f0 L (exp(t/L) - 1), L = T / ln(f1/f0)."""
    n = np.arange(int(round(seconds * sr)))
    t = n / sr
    L = seconds / math.log(f1 / f0)
    return amp * np.sin(2 * np.pi * f0 * L * (np.exp(t / L) - 1.0))


def mix(seconds=3.0, sr=SR):
    """A chirp under two steady tones: energy in many bins at once."""
    n = np.arange(int(round(seconds * sr)))
    return (chirp(60.0, 9000.0, seconds, sr, 0.3)
            + 0.2 * np.sin(2 * np.pi * 220.0 * n / sr)
            + 0.1 * np.sin(2 * np.pi * 3150.0 * n / sr))


def f32(a):
    return np.asarray(a, dtype=np.float32)


SYNTHETIC = {
    "tone440": lambda: tone(),
    "clicks120": lambda: clicks(),
    "mix": lambda: mix(),
}

# resampler cases: (name, input rate, seconds); chirp 50 Hz -> 0.45 * rate
RESAMPLE_CASES = [("r44100", 44100, 0.3), ("r48000", 48000, 0.3), ("r32000", 32000, 0.3), ("r16000", 16000, 0.3), ("r11025", 11025, 0.3)]

# frames of the power spectrogram stored (every SPEC_EVERY-th frame: the whole
# spectrogram would not fit the fixture budget)
SPEC_EVERY = 24
# rows of the 64-band filterbank stored for the direct filterbank test
FB_ROWS = [0, 1, 2, 9, 10, 20, 31, 32, 47, 62, 63]


def save(path, a):
    np.save(path, f32(a))


def write_case(out_dir, name, y, meta):
    power, mel_db, env, tg = features(f32(y).astype(np.float64))
    T = power.shape[1]
    frames = np.arange(0, T, SPEC_EVERY)
    save(os.path.join(out_dir, f"{name}.power.npy"), power[:, frames].T)   # [k, 1025]
    save(os.path.join(out_dir, f"{name}.mel_db.npy"), mel_db)               # [64, T]
    save(os.path.join(out_dir, f"{name}.onset.npy"), env)                   # [T]
    save(os.path.join(out_dir, f"{name}.tempogram.npy"), tg[: N_LAGS + 1])  # [65, T], lags 0..64
    meta[name] = {
        "samples": int(len(y)), "frames": int(T), "spec_frames": [int(f) for f in frames],
        "pcm_sum": float(np.sum(f32(y), dtype=np.float64)), "pcm_sumsq": float(np.sum(f32(y).astype(np.float64) ** 2)),
    }


PARAMS = {"sr": SR, "n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "onset_n_mels": ONSET_N_MELS,
          "top_db": TOP_DB, "amin": AMIN, "win_length": WIN_LENGTH, "n_lags": N_LAGS}


def cmd_fixtures(out_dir):
    """The committed fixtures: synthetic signals only (real music may not be
    redistributed, so its reference is computed at test time by cmd_case)."""
    os.makedirs(out_dir, exist_ok=True)
    meta = {"params": PARAMS}
    for name, make in SYNTHETIC.items():
        write_case(out_dir, name, make(), meta)
    # the resampler against scipy.signal.resample_poly on a chirp
    for name, rate, secs in RESAMPLE_CASES:
        x = f32(chirp(50.0, 0.45 * rate, secs, rate)).astype(np.float64)
        g = math.gcd(SR, rate)
        y = scipy.signal.resample_poly(x, SR // g, rate // g)
        save(os.path.join(out_dir, f"{name}.resampled.npy"), y)
        meta[name] = {"rate": rate, "seconds": secs, "up": SR // g, "down": rate // g, "out_len": int(len(y))}
    # mel filterbank itself, and onset with max_size 3 on the mix (a non-default path)
    save(os.path.join(out_dir, "mel_fb_64_rows.npy"), mel_filters(SR, N_FFT, 64)[FB_ROWS])
    meta["mel_fb_64_rows"] = FB_ROWS
    power = stft_power(f32(mix()).astype(np.float64))
    save(os.path.join(out_dir, "mix.onset_max3.npy"), onset_strength(power, max_size=3))
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def cmd_case(out_dir, *pcm_paths):
    """The reference for mono float32 PCM at 22.05 kHz (one .npy per clip, e.g.
    real music decoded by sleeve in a test): the same files as a fixture case,
    named after each input, and OUT_DIR/meta.json."""
    os.makedirs(out_dir, exist_ok=True)
    meta = {"params": PARAMS}
    for path in pcm_paths:
        name = os.path.basename(path)[:-len(".npy")] if path.endswith(".npy") else os.path.basename(path)
        write_case(out_dir, name, np.load(path), meta)
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def cmd_mp3s(out_dir):
    """WAVs of one 6 s test signal at 44.1 kHz stereo, 48 kHz stereo and 22.05 kHz mono.

    Stereo files carry s + d and s - d, so their mono mixdown is exactly s, the
    mono file. Content stays below 7 kHz so every encoding keeps all of it."""
    import scipy.io.wavfile
    os.makedirs(out_dir, exist_ok=True)

    def signal(sr, seconds=6.0):
        n = np.arange(int(round(seconds * sr)))
        t = n / sr
        s = np.zeros_like(t)
        notes = [220.0, 277.18, 329.63, 440.0, 392.0, 293.66]
        for i, f0 in enumerate(notes):  # one note per second, three harmonics, soft attack
            seg = (t >= i) & (t < i + 1)
            tt = t[seg] - i
            env = np.minimum(1, tt / 0.02) * np.exp(-2.5 * tt)
            s[seg] += env * sum(0.3 / h * np.sin(2 * np.pi * f0 * h * tt) for h in (1, 2, 3))
        beat = 0.5  # 120 BPM clicks: 1.5 kHz bursts
        for k in range(int(seconds / beat)):
            seg = (t >= k * beat) & (t < k * beat + 0.015)
            tt = t[seg] - k * beat
            s[seg] += 0.4 * (1 - tt / 0.015) * np.sin(2 * np.pi * 1500 * tt)
        d = 0.1 * np.sin(2 * np.pi * 660.0 * t) * np.sin(2 * np.pi * 0.5 * t)
        return s, d

    for sr, stereo in ((44100, True), (48000, True), (22050, False)):
        s, d = signal(sr)
        data = np.stack([s + d, s - d], axis=1) if stereo else s
        pcm = np.clip(np.round(data * 32767), -32768, 32767).astype(np.int16)
        scipy.io.wavfile.write(os.path.join(out_dir, f"sig_{sr}_{'stereo' if stereo else 'mono'}.wav"), sr, pcm)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or ["help"]
    if cmd == "fixtures":
        cmd_fixtures(*args)
    elif cmd == "case":
        cmd_case(*args)
    elif cmd == "mp3s":
        cmd_mp3s(*args)
    else:
        print(__doc__)
        sys.exit(2)

#!/usr/bin/env python3
"""Python side of sleeve's bench: the same workloads, shapes and inputs.

Reads a JSON spec from stdin (written by bench/run.ts: workloads with their
input seeds, settings and sample positions; warm-up, runs and time cap), runs
each workload on torch-cpu (threads = cores) and, when CUDA is there, on
torch-cuda, and the workloads NumPy has a reference for (features-30s:
test/ref/audio_ref.py itself, float64) on numpy-cpu; prints one JSON object on
stdout. Progress goes to stderr. Inputs are rebuilt from the same integer hash
(and the same music() mix) as bench/data.ts, bit for bit.
"""
import json
import math
import os
import re
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    TORCH_ERROR = None
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    torch = None
    TORCH_ERROR = f"torch not importable: {e}"

HERE = os.path.dirname(os.path.abspath(__file__))

M32 = 0xFFFFFFFF


def gen(spec, device):
    shape = spec["shape"]
    n = 1
    for d in shape:
        n *= d
    if "synth" in spec:
        return torch.from_numpy(synth(spec, n)).reshape(shape).to(device)
    if "fill" in spec:
        return torch.full(shape, float(spec["fill"]), dtype=torch.float32, device=device)
    k = torch.from_numpy(hash24(spec["seed"], n))
    if spec.get("kind") == "unit":
        v = k.to(torch.float32) / 16777216.0
    else:
        v = (2 * k - 16777216).to(torch.float32) / 16777216.0
    v = v * torch.tensor(spec.get("scale", 1.0), dtype=torch.float32)
    return v.reshape(shape).to(device)


def hash24(seed, n):
    """bench/data.ts's integer hash of 0..n-1 under a seed: 24-bit values (int64)."""
    import numpy as np
    s = (seed * 0x9E3779B1) & M32
    h = (np.arange(n, dtype=np.int64) + s) & M32
    h = (h * 0x2C1B3C6D) & M32
    h = h ^ (h >> 15)
    h = (h * 0x297A2D39) & M32
    h = h ^ (h >> 13)
    return h >> 8


# ---- the music() mix of bench/data.ts (features-30s), in NumPy -----------------

def gen_np(seed, n):
    """bench/data.ts's gen(seed, n) (values in [-1, 1)) as float64."""
    import numpy as np
    return (2 * hash24(seed, n) - 16777216).astype(np.float64) / 16777216.0


def synth(spec, n):
    """bench/data.ts's music(n, rate, seed): the same f64 operations in the same
    order (all exact under IEEE), rounded once to float32."""
    import numpy as np
    if spec["synth"]["kind"] != "music":
        raise ValueError(f"unknown synthetic input {spec['synth']['kind']}")
    rate, seed = spec["synth"]["rate"], spec["seed"]
    melody = np.array([220, 261.63, 293.66, 329.63, 392, 440, 523.25, 587.33])
    chords = np.array([[110, 130.81, 164.81], [87.31, 110, 130.81], [130.81, 164.81, 196], [98, 123.47, 146.83]])

    def tri(p):
        return 4.0 * np.abs(p - np.floor(p + 0.5)) - 1.0

    hat, hiss = gen_np(seed, n), gen_np(seed + 1, n)
    beat, eighth = rate // 2, rate // 4
    bar = 4 * beat
    kick_len, hat_len, attack = rate * 3 // 20, rate * 3 // 100, rate // 100
    fr = float(rate)
    i = np.arange(n, dtype=np.int64)
    pos = i - (i // beat) * beat
    fpos = pos.astype(np.float64)
    e = 1.0 - fpos / kick_len
    kick = np.where(pos < kick_len, 0.45 * e * e * tri(55.0 * fpos / fr), 0.0)
    hpos = (i + eighth) % beat
    hh = np.where(hpos < hat_len, 0.12 * (1.0 - hpos.astype(np.float64) / hat_len) * hat, 0.0)
    q = i // eighth
    qpos = (i - q * eighth).astype(np.float64)
    d = 1.0 - qpos / eighth
    mel = 0.2 * np.minimum(1.0, qpos / attack) * d * d * tri(melody[(5 * q + 2 * (q // 8)) % 8] * qpos / fr)
    c = chords[(i // bar) % 4]
    fi = i.astype(np.float64)
    pad = 0.06 * (tri(c[:, 0] * fi / fr) + tri(c[:, 1] * fi / fr) + tri(c[:, 2] * fi / fr))
    lead, fade = rate // 4, 2 * rate
    gain = np.where(i < lead, 0.0, np.where(i >= n - fade, (n - i).astype(np.float64) / fade, 1.0))
    return ((kick + hh + mel + pad + 0.02 * hiss) * gain).astype(np.float32)


def audio_ref():
    """test/ref/audio_ref.py: beside this script in dist/bench, or in the source tree."""
    for d in (HERE, os.path.join(HERE, "..", "test", "ref"), os.path.join(HERE, "..", "..", "test", "ref")):
        if os.path.exists(os.path.join(d, "audio_ref.py")):
            if d not in sys.path:
                sys.path.insert(0, d)
            import audio_ref as R
            return R
    raise FileNotFoundError("test/ref/audio_ref.py not found beside torch_bench.py or in the source tree")


def resample_ratio(c):
    g = math.gcd(c["rate"], c["rateIn"])
    return c["rate"] // g, c["rateIn"] // g


def features_torch(w, I, device):
    """features-30s in torch, float32, from the definitions in test/ref/audio_ref.py."""
    def outputs(r):
        y, power, mel_db, env, tg, image = r
        return {"y": y, "power": power.T, "melDb": mel_db.T, "onset": env, "tempogram": tg, "image": image}

    return kernel(w, device, features_pipeline(w["cfg"], I["x"], device), outputs)


def features_pipeline(c, x, device):
    """The feature pipeline for settings c and the clip x: a function returning
    (y, power, mel_db, env, tg, image).

    torch has no resample_poly: the resampler is scipy's (its default
    Kaiser-windowed firwin filter, designed once here) applied in torch as a
    strided conv1d, y[m] = sum_j h[j] x_up[m*down + half - j], with x_up the
    input with up - 1 zeros between samples. The mel filterbanks come from
    audio_ref.mel_filters (float64, built once, like sleeve's cached ones).
    """
    from scipy.signal import firwin
    R = audio_ref()
    f32 = torch.float32
    up, down = resample_ratio(c)
    half = c["zeroCrossings"] * max(up, down)
    h = firwin(2 * half + 1, 1.0 / max(up, down), window=("kaiser", c["kaiserBeta"])) * up
    taps = torch.tensor(h[::-1].copy(), dtype=f32, device=device).view(1, 1, -1)
    n_in = x.numel()
    n_out = -(-n_in * up // down)
    right = max(0, (n_out - 1) * down + 2 * half + 1 - (n_in * up + half))
    n_fft, hop, top_db, amin = c["nFft"], c["hop"], float(c["topDb"]), float(c["amin"])
    win = torch.hann_window(n_fft, periodic=True, dtype=f32, device=device)
    fb = torch.tensor(R.mel_filters(c["rate"], n_fft, c["nMels"]), dtype=f32, device=device)
    fb_onset = torch.tensor(R.mel_filters(c["rate"], n_fft, c["onsetMels"]), dtype=f32, device=device)
    shift = 1 + n_fft // (2 * hop)  # onset: lag 1 + the centred STFT's n_fft / (2 hop)
    W, L = c["winLength"], c["nLags"]
    tw = torch.hann_window(W, periodic=True, dtype=f32, device=device)
    ramp = torch.arange(W // 2, dtype=f32, device=device) / (W // 2)  # np.pad 'linear_ramp' to 0
    n_ac = 1 << (2 * W - 2).bit_length()  # any n >= 2W - 1 gives the linear autocorrelation
    tiny = torch.finfo(f32).tiny

    def db(S):
        d = 10.0 * torch.log10(torch.clamp(S, min=amin)) - 10.0 * math.log10(max(amin, 1.0))
        return torch.maximum(d, d.max() - top_db)

    def pipeline():
        xu = x
        if up > 1:
            xu = torch.zeros(n_in * up, dtype=f32, device=device)
            xu[::up] = x
        y = F.conv1d(F.pad(xu.view(1, 1, -1), (half, right)), taps, stride=down).view(-1)[:n_out]
        X = torch.stft(y, n_fft, hop, window=win, center=True, pad_mode="constant", return_complex=True)
        power = X.real.square() + X.imag.square()  # [bins, T]
        T = power.shape[1]
        mel_db = db(fb @ power)
        S = db(fb_onset @ power)
        env = F.pad(torch.relu(S[:, 1:] - S[:, :-1]).mean(0), (shift, 0))[:T]
        padded = torch.cat([env[0] * ramp, env, env[-1] * ramp.flip(0)])
        frames = padded.unfold(0, W, 1)[:T] * tw
        P = torch.fft.rfft(frames, n=n_ac)
        ac = torch.fft.irfft(P.real.square() + P.imag.square(), n=n_ac)[:, :W]
        norm = ac.abs().amax(1, keepdim=True)
        tg = ac[:, :L + 1] / torch.where(norm < tiny, torch.ones_like(norm), norm)
        image = torch.cat([(mel_db - mel_db.max()) / top_db + 1.0, tg[:, 1:].T], 0)
        return y, power, mel_db, env, tg, image

    return pipeline


def cover_torch(w, I, device):
    """cover-30s: the features, slices of sliceWidth frames, the classifier in
    eval mode (running statistics), softmax averaged over the slices, the
    genre on the host, the generator (batch 1) and the cover's pixels."""
    c = w["cfg"]
    feats = features_pipeline(c, I["x"], device)
    width = c["sliceWidth"]

    def bn(h, p, slope):
        h = F.batch_norm(h, I[p + "running_mean"], I[p + "running_var"], I[p + "weight"], I[p + "bias"], training=False, eps=1e-5)
        return F.leaky_relu(h, slope)

    def pipeline():
        image = feats()[5]
        n = (image.shape[1] - width) // width + 1
        h = image.unfold(1, width, width)[:, :n].permute(1, 0, 2).unsqueeze(1)  # [n, 1, rows, width]
        for i in range(3):
            h = F.conv2d(h, I[f"features.{4 * i}.weight"], I[f"features.{4 * i}.bias"], padding=1)
            h = F.max_pool2d(bn(h, f"features.{4 * i + 1}.", 0.01), 2)
        probs = F.softmax(F.linear(h.flatten(1), I["head.weight"], I["head.bias"]), 1).mean(0)
        genre = int(probs.argmax().item())
        onehot = torch.zeros(1, c["classes"], device=device)
        onehot[0, genre] = 1
        g = F.linear(torch.cat([I["z"], onehot], 1), I["project.weight"], I["project.bias"]).view(1, 128, 25, 25)
        g = bn(g, "body.0.", 0.2)
        g = bn(F.conv_transpose2d(g, I["body.2.weight"], I["body.2.bias"], stride=2, padding=2, output_padding=1), "body.3.", 0.2)
        cover = torch.tanh(F.conv_transpose2d(g, I["body.5.weight"], I["body.5.bias"], stride=2, padding=2, output_padding=1))
        return probs, cover.cpu()

    return kernel(w, device, pipeline, lambda r: {"probs": r[0], "cover": r[1]})


# ---- NumPy: the float64 reference itself ------------------------------------

NUMPY_WORKLOADS = {"features-30s"}


def prepare_numpy(w):
    """features-30s as test/ref/audio_ref.py computes it (float64): scipy's
    resample_poly, then audio_ref.features (all winLength tempogram lags, as
    librosa). The float32 input is widened once, outside the clock."""
    import numpy as np
    import scipy.signal
    R = audio_ref()
    c = w["cfg"]
    mine = {"rate": R.SR, "nFft": R.N_FFT, "hop": R.HOP, "nMels": R.N_MELS, "onsetMels": R.ONSET_N_MELS,
            "topDb": R.TOP_DB, "amin": R.AMIN, "winLength": R.WIN_LENGTH, "nLags": R.N_LAGS,
            "zeroCrossings": 10, "kaiserBeta": 5}  # the last two: resample_poly's defaults
    differ = [k for k, v in mine.items() if c[k] != v]
    if differ:
        raise ValueError(f"audio_ref.py's settings differ from the workload's: {', '.join(differ)}")
    up, down = resample_ratio(c)
    x = synth(w["inputs"]["x"], w["inputs"]["x"]["shape"][0]).astype(np.float64)
    L = c["nLags"]

    def pipeline():
        y = scipy.signal.resample_poly(x, up, down)
        power, mel_db, env, tg = R.features(y)
        image = np.concatenate([(mel_db - mel_db.max()) / R.TOP_DB + 1.0, tg[1:L + 1]], 0)
        return y, power, mel_db, env, tg, image

    def check():
        y, power, mel_db, env, tg, image = pipeline()
        outs = {"y": y, "power": power.T, "melDb": mel_db.T, "onset": env, "tempogram": tg[:L + 1].T, "image": image}
        return {k: [float(v) for v in np.ascontiguousarray(outs[k]).reshape(-1)[w["samples"][k]["idx"]]] for k in w["samples"]}

    return check, pipeline


def sample(t, spec):
    flat = t.detach().reshape(-1).cpu()
    return [float(flat[i]) for i in spec["idx"]]


class Sync:
    def __init__(self, device):
        self.cuda = device.startswith("cuda")

    def __call__(self):
        if self.cuda:
            torch.cuda.synchronize()


def kernel(w, device, fn, outputs):
    """fn() → output tensor(s); outputs(result) → {sample name: tensor}."""
    def check():
        with torch.no_grad():
            r = fn()
        outs = outputs(r)
        return {k: sample(outs[k], w["samples"][k]) for k in w["samples"]}

    def run():
        with torch.no_grad():
            fn()
    return check, run


def prepare(w, device):
    I = {k: gen(v, device) for k, v in w["inputs"].items()}
    c = w["cfg"]
    name = re.sub(r"-b\d+$", "", w["name"])  # batch variants share the code
    if name.startswith("matmul"):
        return kernel(w, device, lambda: I["a"] @ I["b"], lambda r: {"c": r})
    if name == "conv2d":
        return kernel(w, device, lambda: F.conv2d(I["x"], I["w"], I["b"], stride=1, padding=1), lambda r: {"y": r})
    if name == "conv-transpose":
        return kernel(w, device, lambda: F.conv_transpose2d(I["x"], I["w"], I["b"], stride=2, padding=2, output_padding=1),
                      lambda r: {"y": r})
    if name == "batchnorm2d":
        return kernel(w, device, lambda: F.batch_norm(I["x"], I["runningMean"], I["runningVar"], I["weight"], I["bias"],
                                                      training=True, momentum=c["momentum"], eps=c["eps"]),
                      lambda r: {"y": r})
    if name == "maxpool2d":
        return kernel(w, device, lambda: F.max_pool2d(I["x"], 2, 2), lambda r: {"y": r})
    if name == "rfft":
        def parts(r):
            v = torch.view_as_real(r)
            return {"re": v[..., 0], "im": v[..., 1]}
        return kernel(w, device, lambda: torch.fft.rfft(I["x"]), parts)
    if name == "op-chain":
        def chain():
            h = I["h"]
            for _ in range(int(c["steps"])):
                h = h * I["a"] + I["b"]  # two ops, as in the other engines
            return h
        return kernel(w, device, chain, lambda r: {"y": r})
    if name == "generator-forward":
        def gen_fwd():
            def norm(h, i):
                h = F.batch_norm(h, I[f"rm{i}"], I[f"rv{i}"], I[f"g{i}"], I[f"be{i}"], training=False, eps=c["eps"])
                return F.leaky_relu(h, c["slope"])
            h = norm(F.linear(I["z"], I["wl"], I["bl"]).view(c["batch"], 128, 25, 25), 1)
            h = norm(F.conv_transpose2d(h, I["w2"], I["b2"], stride=2, padding=2, output_padding=1), 2)
            return torch.tanh(F.conv_transpose2d(h, I["w3"], I["b3"], stride=2, padding=2, output_padding=1))
        return kernel(w, device, gen_fwd, lambda r: {"y": r})
    if name == "critic-gp-step":
        return critic(w, I)
    if name == "classifier-step":
        return classifier(w, I)
    if name == "features-30s":
        return features_torch(w, I, device)
    if name == "cover-30s":
        return cover_torch(w, I, device)
    return None


def critic(w, I):
    slope, lam = w["cfg"]["slope"], w["cfg"]["lambda"]
    names = ["w1", "b1", "w2", "b2", "wl", "bl"]
    P = {k: I[k].requires_grad_() for k in names}
    real, fake, eps = I["real"], I["fake"], I["eps"]
    n = real.shape[0]

    def D(x):
        h = F.leaky_relu(F.conv2d(x, P["w1"], P["b1"], stride=2, padding=2), slope)
        h = F.leaky_relu(F.conv2d(h, P["w2"], P["b2"], stride=2, padding=2), slope)
        return F.linear(h.flatten(1), P["wl"], P["bl"])

    def step():
        xhat = (fake + eps * (real - fake)).requires_grad_()
        gx, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
        gp = ((gx.reshape(n, -1).square().sum(1).sqrt() - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + lam * gp
        grads = torch.autograd.grad(loss, [P[k] for k in names])
        return loss, dict(zip(names, grads))

    def check():
        loss, g = step()
        out = {}
        for k, spec in w["samples"].items():
            out[k] = sample(loss if k == "loss" else g[k[2:]], spec)
        return out

    return check, lambda: step()


def classifier(w, I):
    c = w["cfg"]
    slope = c["slope"]
    n = I["x"].shape[0]
    labels = torch.tensor([(i * 7 + 3) % 10 for i in range(n)], device=I["x"].device)
    pnames = [f"{k}{i}" for i in (1, 2, 3) for k in ("w", "b", "g", "be")] + ["wl", "bl"]
    P = {k: I[k].requires_grad_() for k in pnames}
    opt = torch.optim.Adam(list(P.values()), lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)

    def step():
        h = I["x"]
        for i in (1, 2, 3):
            h = F.conv2d(h, P[f"w{i}"], P[f"b{i}"], padding=1)
            h = F.batch_norm(h, I[f"rm{i}"], I[f"rv{i}"], P[f"g{i}"], P[f"be{i}"], training=True,
                             momentum=c["momentum"], eps=c["eps"])
            h = F.max_pool2d(F.leaky_relu(h, slope), 2, 2)
        loss = F.cross_entropy(F.linear(h.flatten(1), P["wl"], P["bl"]), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def check():
        return {"loss1": [float(step())], "loss2": [float(step())]}

    return check, lambda: step()


BATCH_MS = 20  # as bench/run.ts: shorter runs are timed in batches, one sync each


def measure(check, run, sync, warmup, runs, cap_ms):
    """The rules of bench/run.ts's measure(): a first run over half the cap
    gets one warm rerun as its sample (or stands, cold, over the whole cap);
    warm-ups; runs under BATCH_MS timed in batches. Returns per-run times."""
    t0 = time.perf_counter()
    samples = check()
    sync()
    first = (time.perf_counter() - t0) * 1000
    if first > cap_ms / 2:
        if first > cap_ms:
            return samples, [first], True, 1
        s = time.perf_counter()
        run()
        sync()
        return samples, [(time.perf_counter() - s) * 1000], False, 1
    last = float("inf")
    i = 0
    while (i < max(1, warmup - 1) or (i < 2 and last < 4 * BATCH_MS)) and (time.perf_counter() - t0) * 1000 < cap_ms / 3:
        s = time.perf_counter()
        run()
        sync()
        last = min(last, (time.perf_counter() - s) * 1000)
        i += 1
    if last == float("inf"):
        last = first
    batch = min(100, -(-BATCH_MS // max(last, 0.05))) if last < BATCH_MS else 1
    batch = int(batch)
    times = []
    while len(times) < runs:
        s = time.perf_counter()
        for _ in range(batch):
            run()
        sync()
        dt = (time.perf_counter() - s) * 1000
        times.append(dt / batch)
        if (time.perf_counter() - t0) * 1000 + dt > cap_ms:
            break
    return samples, times, False, batch


def cuda_setup():
    """torch-cuda as a performance engineer would run it for an fp32 comparison:
    IEEE fp32 in matrix products and convolutions (cuDNN allows TF32 by
    default, 10 mantissa bits, which no WGSL kernel here uses), and cuDNN's
    own autotuner on (the shapes are fixed, and sleeve tunes per shape too)."""
    try:  # torch >= 2.9 (the flags below still work there, with a warning)
        torch.backends.cuda.matmul.fp32_precision = "ieee"  # raises first on older torch
        torch.backends.cudnn.conv.fp32_precision = "ieee"
        torch.backends.fp32_precision = "ieee"
    except Exception:  # noqa: BLE001 - older torch refuses the new names (AssertionError, AttributeError)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True


def cuda_settings():
    try:
        prec = f"matmul {torch.backends.cuda.matmul.fp32_precision}, conv {torch.backends.cudnn.conv.fp32_precision}"
    except Exception:  # noqa: BLE001 - as in cuda_setup
        prec = f"matmul allow_tf32={torch.backends.cuda.matmul.allow_tf32}, cudnn allow_tf32={torch.backends.cudnn.allow_tf32}"
    return f"{prec}, cudnn.benchmark={torch.backends.cudnn.benchmark}"


def main():
    spec = json.load(sys.stdin)
    numpy_wanted = "numpy-cpu" in spec["engines"]
    if torch is None and not numpy_wanted:
        print(json.dumps({"error": TORCH_ERROR}))
        return
    devices = []
    cuda = False
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
        cuda = torch.cuda.is_available()
        devices.append(("torch-cpu", "cpu"))
        if cuda and "torch-cuda" in spec["engines"]:
            devices.append(("torch-cuda", "cuda"))
            cuda_setup()
    if numpy_wanted:
        devices.append(("numpy-cpu", "numpy"))
    devices = [d for d in devices if d[0] in spec["engines"]]
    results = []
    deadline = time.perf_counter() + spec.get("budget_s", 1e9)
    for w in spec["workloads"]:
        for engine, device in devices:
            if device == "numpy" and w["name"] not in NUMPY_WORKLOADS:
                continue  # no row at all: NumPy stands in only where it is the reference
            entry = {"workload": w["name"], "engine": engine}
            if time.perf_counter() > deadline:
                entry["unsupported"] = "skipped: the Python engines' share of the time budget is spent"
                results.append(entry)
                continue
            print(f"  {engine} {w['name']} ...", file=sys.stderr, flush=True)
            try:
                prepared = prepare_numpy(w) if device == "numpy" else prepare(w, device)
                if prepared is None:
                    entry["unsupported"] = "no torch implementation"
                else:
                    check, run = prepared
                    sync = (lambda: None) if device == "numpy" else Sync(device)
                    samples, times, cold, batch = measure(check, run, sync, spec["warmup"], spec["runs"], spec["cap_ms"])
                    entry["samples"] = samples
                    entry["times_ms"] = times
                    if cold:
                        entry["cold"] = True
                    if batch > 1:
                        entry["batch"] = batch
            except Exception as e:  # noqa: BLE001 - report and go on with the next workload
                entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            results.append(entry)
            if device == "cuda":
                torch.cuda.empty_cache()
    out = {
        "torch": torch.__version__ if torch is not None else None,
        "torch_error": TORCH_ERROR,
        "threads": torch.get_num_threads() if torch is not None else None,
        "cuda": torch.cuda.get_device_name(0) if cuda else None,
        "cuda_settings": cuda_settings() if cuda and "torch-cuda" in spec["engines"] else None,
        "results": results,
    }
    if numpy_wanted:
        import numpy as np
        import scipy
        out["numpy"] = np.__version__
        out["scipy"] = scipy.__version__
    print(json.dumps(out))


if __name__ == "__main__":
    main()
